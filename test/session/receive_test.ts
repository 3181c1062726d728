import { test } from "node:test";
import assert from "node:assert/strict";
import { ChunkError, type SessionErrorEvent, WslinkSession } from "../../mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { generateChunks } from "../../mod.ts";
import { fakeServer } from "./_fake_socket.ts";

async function connect() {
  const server = fakeServer({ onMessage: (message, peer) => peer.reply(message.id, "ok") });
  const session = await WslinkSession.connect("ws://x.invalid/", { WebSocket: server.WebSocket });
  const errors: SessionErrorEvent[] = [];
  session.on("error", (event) => errors.push(event));
  return { session, peer: server.peers[0], errors };
}

const codec = createMessageCodec();
const frameOf = (value: unknown) => [...generateChunks(codec.encode(value), 0)][0];

test("malformed input becomes error events and the session goes on", async () => {
  const { session, peer, errors } = await connect();
  peer.socket.deliver('{"id": "rpc:c1:1"}');
  peer.socket.deliver(new Uint8Array(5)); // shorter than a header
  peer.socket.deliver(new Blob([new Uint8Array(20)]));
  peer.socket.deliver(frameOf(undefined).fill(0xc1, 12)); // 0xc1 is never valid msgpack
  peer.socket.deliver(frameOf([1, 2]));
  peer.socket.deliver(frameOf(42));
  peer.socket.deliver(frameOf({ wslink: "1.0", id: 7, result: 1 }));
  peer.socket.deliver(frameOf({ wslink: "1.0", id: "rpc:c1:99", result: 1 }));
  peer.socket.deliver(frameOf({ wslink: "1.0", id: "publish:no-topic", result: 1 }));
  peer.socket.deliver(frameOf({ wslink: "1.0", method: "notification" })); // no id: ignored
  assert.equal(await session.call("still.works"), "ok");
  assert.deepEqual(errors.map((event) => event.kind), [
    "text-frame",
    "frame-refused",
    "frame-refused",
    "undecodable",
    "not-a-map",
    "not-a-map",
    "protocol-violation",
    "unknown-id",
    "protocol-violation",
  ]);
  assert.ok(errors[1].error instanceof ChunkError);
  assert.equal((errors[1].error as ChunkError).reason, "short-frame");
  assert.deepEqual(errors[4].message, [1, 2]);
  assert.deepEqual(errors[7].message, { wslink: "1.0", id: "rpc:c1:99", result: 1 });
  await session.close();
});

test("a reply with a malformed error or neither result nor error rejects the call", async () => {
  const server = fakeServer({
    onMessage: (message, peer) =>
      message.method === "bad-error"
        ? peer.send({ wslink: "1.0", id: message.id, error: "oops" })
        : peer.send({ wslink: "1.0", id: message.id }),
  });
  const session = await WslinkSession.connect("ws://x.invalid/", { WebSocket: server.WebSocket });
  await assert.rejects(session.call("bad-error"), /malformed error/);
  await assert.rejects(session.call("empty"), /neither result nor error/);
  await session.close();
});

test("progress events for multi-frame messages; listener exceptions are reported", async () => {
  const big = { wslink: "1.0", id: "rpc:c1:1", result: new Uint8Array(3000).fill(7) };
  const total = codec.encode(big).byteLength;
  const server = fakeServer({
    onMessage: (message, peer) =>
      message.method === "big" ? peer.send(big, 1012) : peer.reply(message.id, "ok"),
  });
  const session = await WslinkSession.connect("ws://x.invalid/", { WebSocket: server.WebSocket });
  const errors: SessionErrorEvent[] = [];
  session.on("error", (event) => errors.push(event));
  const seen: unknown[] = [];
  session.on("progress", ({ received, total }) => seen.push([received, total]));
  session.on("progress", () => {
    throw new Error("listener bug");
  });
  assert.deepEqual(await session.call("big"), big.result);
  assert.deepEqual(seen, [[1000, total], [2000, total], [3000, total], [total, total]]);
  assert.deepEqual(errors.map((event) => event.kind), Array(4).fill("listener-threw"));
  // Single-frame messages report no progress.
  assert.equal(await session.call("small"), "ok");
  assert.equal(seen.length, 4);
  await session.close();
});
