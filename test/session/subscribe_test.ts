import { test } from "node:test";
import assert from "node:assert/strict";
import { CLIENT_ERROR, type SessionErrorEvent, WslinkError, WslinkSession } from "../../mod.ts";
import { fakeServer, settle } from "./_fake_socket.ts";

async function connect() {
  const server = fakeServer();
  const session = await WslinkSession.connect("ws://x.invalid/", { WebSocket: server.WebSocket });
  const errors: SessionErrorEvent[] = [];
  session.on("error", (event) => errors.push(event));
  return { session, peer: server.peers[0], errors };
}

test("subscribe(topic, callback) gets payloads of its topic, colons and dots included", async () => {
  const { session, peer, errors } = await connect();
  const got: unknown[] = [];
  const subscription = session.subscribe(
    "viewer:image.ready",
    (payload, topic) => got.push([topic, payload]),
  );
  const other = session.subscribe("viewer", (payload) => got.push(["viewer", payload]));
  peer.publish("viewer:image.ready", { n: 1 });
  peer.publish("viewer", 2);
  peer.publish("nobody.listens", 3);
  await settle();
  assert.deepEqual(got, [["viewer:image.ready", { n: 1 }], ["viewer", 2]]);
  assert.equal(subscription.active, true);
  subscription.unsubscribe();
  subscription.unsubscribe();
  assert.equal(subscription.active, false);
  {
    using _disposed = other;
  }
  peer.publish("viewer:image.ready", 4);
  peer.publish("viewer", 5);
  await settle();
  assert.equal(got.length, 2);
  assert.deepEqual(errors, []);
  await session.close();
});

test("a throwing subscriber is reported and the other subscribers still run", async () => {
  const { session, peer, errors } = await connect();
  const failure = new Error("subscriber bug");
  const got: unknown[] = [];
  session.subscribe("t", () => {
    throw failure;
  });
  session.subscribe("t", (payload) => got.push(payload));
  const stream = session.subscribe("t");
  peer.publish("t", "x");
  await settle();
  assert.deepEqual(got, ["x"]);
  assert.deepEqual((await stream.next()).value, "x");
  assert.equal(errors.length, 1);
  assert.equal(errors[0].kind, "subscriber-threw");
  assert.equal(errors[0].error, failure);
  assert.equal(errors[0].topic, "t");
  await session.close();
});

test("a topic stream waits for publishes and ends when the session closes", async () => {
  const { session, peer } = await connect();
  const stream = session.subscribe("t");
  const waiting = stream.next();
  peer.publish("t", 1);
  assert.deepEqual(await waiting, { value: 1, done: false });
  peer.publish("t", 2);
  await settle();
  const blocked = stream.next(); // gets the buffered 2
  const afterClose = stream.next();
  peer.socket.drop(1006);
  assert.deepEqual(await blocked, { value: 2, done: false });
  assert.deepEqual(await afterClose, { value: undefined, done: true });
  assert.equal(stream.active, false);
  const late = session.subscribe("t");
  assert.deepEqual(await late.next(), { value: undefined, done: true });
});

test("leaving a for await loop unsubscribes", async () => {
  const { session, peer } = await connect();
  const stream = session.subscribe("t");
  peer.publish("t", 1);
  peer.publish("t", 2);
  for await (const payload of stream) {
    assert.equal(payload, 1);
    break;
  }
  assert.equal(stream.active, false);
  assert.deepEqual(await stream.next(), { value: undefined, done: true });
  await session.close();
});

test("overflow policies: drop-oldest (default), drop-newest, error", async () => {
  const { session, peer } = await connect();
  const oldest = session.subscribe("t", { bufferSize: 2 });
  const newest = session.subscribe("t", { bufferSize: 2, overflow: "drop-newest" });
  const strict = session.subscribe("t", { bufferSize: 2, overflow: "error" });
  assert.equal(oldest.overflow, "drop-oldest");
  for (const value of [1, 2, 3, 4]) peer.publish("t", value);
  await settle();
  const drain = async (stream: AsyncIterable<unknown>) => {
    const values: unknown[] = [];
    try {
      for await (const value of stream) values.push(value);
    } catch (error) {
      values.push(error);
    }
    return values;
  };
  await session.close();
  assert.deepEqual(await drain(oldest), [3, 4]);
  assert.equal(oldest.dropped, 2);
  assert.deepEqual(await drain(newest), [1, 2]);
  assert.equal(newest.dropped, 2);
  const [first, second, error] = await drain(strict);
  assert.deepEqual([first, second], [1, 2]);
  assert.ok(error instanceof WslinkError);
  assert.equal(error.code, CLIENT_ERROR);
  assert.deepEqual(error.data, { kind: "overflow", topic: "t", bufferSize: 2 });
  assert.throws(() => session.subscribe("t", { bufferSize: 0 }), RangeError);
});
