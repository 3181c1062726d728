// Peers that try to leave the server with state it cannot send, or too much of it, and the
// other requests a peer could abuse (exit delays, stack traces, 64-bit results). Every refusal is
// checked from the wire, and a client connecting afterwards must still load the state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Encoder } from "@msgpack/msgpack";
import { generateChunks } from "../../src/codec/chunker.ts";
import { TrameClient, WslinkSession } from "../../mod.ts";
import { serve, type ServeOptions, type TrameServer } from "../../src/server/mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { collectingLogger, type Envelope, RawClient, within } from "./_client.ts";

// The numbers as a peer sees them: msgpack encoders stop at 100 levels, and `trame.state.get`
// sends a value three levels down (envelope → result → state → value).
const STATE_VALUE_MAX_DEPTH = 100 - 3;

// `levels` arrays around 0: a value that nests `levels + 1` deep.
function nested(levels: number): unknown {
  let value: unknown = 0;
  for (let level = 0; level < levels; level++) value = [value];
  return value;
}

// The bytes a key and its value take in a packed map, as `trame.state.get` sends them.
const codec = createMessageCodec();
const entryBytes = (key: string, value: unknown) => codec.encode({ [key]: value }).byteLength - 1;

async function withServer(
  options: ServeOptions,
  body: (server: TrameServer, client: RawClient) => Promise<void>,
): Promise<void> {
  const { log } = collectingLogger();
  const server = await serve({ log, ...options });
  const client = await RawClient.authenticated(server.url);
  try {
    await body(server, client);
  } finally {
    await client.close();
    await server.close();
  }
}

// Sends a state update, packed by an encoder that nests as deep as asked (a peer need not use
// a careful encoder), and returns the reply.
async function update(client: RawClient, changes: unknown[]): Promise<Envelope> {
  const id = `rpc:${client.clientId}:update`;
  const bytes = new Encoder({ maxDepth: 1000 }).encode({
    wslink: "1.0",
    id,
    method: "trame.state.update",
    args: [changes],
    kwargs: {},
  });
  for (const frame of generateChunks(bytes, client.frameSize)) client.sendFrame(frame);
  for (;;) {
    const { message } = await client.next();
    if (message.id === id) return message;
  }
}

// Asserts a -32001 reply whose exception is a StateUpdateError matching `pattern`.
function assertRefused(reply: Envelope, method: string, pattern: RegExp): void {
  const error = reply.error as { code: number; message: string; data: Record<string, string> };
  assert.ok(error !== undefined, `expected a refusal, got ${JSON.stringify(reply)}`);
  assert.equal(error.code, -32001);
  assert.equal(error.message, "Exception raised");
  assert.equal(error.data.method, method);
  assert.match(error.data.exception, /^StateUpdateError\(/);
  assert.match(error.data.exception, pattern);
}

// A TrameClient that connects now gets the whole state, `expected` included.
async function assertLaterClientLoads(server: TrameServer, expected: Record<string, unknown>) {
  const client = new TrameClient(server.url);
  try {
    await within(client.connect(), 10_000, "a later client connecting");
    for (const [key, value] of Object.entries(expected)) {
      assert.deepStrictEqual(client.state.get(key), value, key);
    }
  } finally {
    await client.disconnect();
  }
}

test("the key __proto__ is refused alike on every runtime; later clients still load the state", async () => {
  await withServer({ state: { counter: 1 } }, async (server, client) => {
    for (const value of [1, { polluted: true }]) {
      const reply = await update(client, [{ key: "counter", value: 2 }, {
        key: "__proto__",
        value,
      }]);
      assertRefused(reply, "trame.state.update", /__proto__/);
    }
    // Refused whole: the other key of the update was not applied either.
    assert.equal(server.state.get("counter"), 1);
    assert.equal(Object.hasOwn(server.state.toObject(), "__proto__"), false);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assertRefused(
      await client.call("trame.force.push", ["__proto__"]),
      "trame.force.push",
      /__proto__/,
    );
    // The server's own code cannot store it either.
    assert.throws(() => server.state.set("__proto__", 1), { name: "StateUpdateError" });
    await assertLaterClientLoads(server, { counter: 1 });
  });
});

test("a value deeper than trame.state.get can send is refused; one at the limit is served", async () => {
  await withServer({}, async (server, client) => {
    // At the limit: 97 levels, as deep as the server's own code may set a value.
    const deepest = nested(STATE_VALUE_MAX_DEPTH - 1);
    server.state.set("deepest", deepest);
    server.state.flush();
    assert.deepStrictEqual((await client.next()).message.result, { deepest });
    const state = (await client.call("trame.state.get")).result as { state: Envelope };
    assert.deepStrictEqual(state.state.deepest, deepest);
    // A peer's update packs a value one level deeper than trame.state.get: 96 is its most.
    const fromPeer = nested(STATE_VALUE_MAX_DEPTH - 2);
    assert.equal((await update(client, [{ key: "fromPeer", value: fromPeer }])).result, null);

    // 97 arrays around a scalar: one level too deep. The reference would take it, then fail
    // every trame.state.get with -32002.
    const reply = await update(client, [{ key: "deeper", value: nested(STATE_VALUE_MAX_DEPTH) }]);
    assertRefused(reply, "trame.state.update", /deeper than 97 levels/);
    assert.equal(server.state.has("deeper"), false);
    assert.throws(() => server.state.set("deeper", nested(STATE_VALUE_MAX_DEPTH)), {
      name: "StateUpdateError",
    });
    await assertLaterClientLoads(server, { deepest, fromPeer });
  });
});

test("maxStateKeysPerUpdate: at the limit accepted, above refused (force.push too)", async () => {
  await withServer({ maxStateKeysPerUpdate: 3 }, async (server, client) => {
    const changes = (count: number) =>
      Array.from({ length: count }, (_, index) => ({ key: `k${index}`, value: index }));
    assert.equal((await update(client, changes(3))).result, null);
    assertRefused(await update(client, changes(4)), "trame.state.update", /maxStateKeysPerUpdate/);
    assert.equal(server.state.has("k3"), false);
    assert.equal((await client.call("trame.force.push", ["k0", "k1", "k2"])).result, null);
    await client.next(); // the publish
    assertRefused(
      await client.call("trame.force.push", ["k0", "k1", "k2", "k3"]),
      "trame.force.push",
      /maxStateKeysPerUpdate/,
    );
  });
});

test("by default an update of 10,001 keys is refused and the state stays small", async () => {
  await withServer({}, async (server, client) => {
    const changes = Array.from({ length: 10_001 }, (_, index) => ({ key: `k${index}`, value: 1 }));
    assertRefused(await update(client, changes), "trame.state.update", /10001 keys.*10000/);
    assert.equal(server.state.has("k0"), false);
    assert.equal((await update(client, changes.slice(1))).result, null);
    assert.equal(server.state.get("k10000"), 1);
  });
});

test("maxStateKeys: new keys up to the limit accepted, beyond refused, existing keys still change", async () => {
  const { log } = collectingLogger();
  const probe = await serve({ log });
  const builtinKeys = Object.keys(probe.state.toObject()).length;
  await probe.close();
  await withServer({ maxStateKeys: builtinKeys + 2 }, async (server, client) => {
    const reply = await update(client, [{ key: "a", value: 1 }, { key: "b", value: 2 }]);
    assert.equal(reply.result, null);
    assertRefused(
      await update(client, [{ key: "c", value: 3 }]),
      "trame.state.update",
      /maxStateKeys/,
    );
    assert.equal(server.state.has("c"), false);
    assert.equal((await update(client, [{ key: "a", value: 10 }])).result, null);
    assert.equal(server.state.get("a"), 10);
    await assertLaterClientLoads(server, { a: 10, b: 2 });
  });
});

test("maxStateBytes: the packed state up to the limit accepted, beyond refused, shrinking allowed", async () => {
  const { log } = collectingLogger();
  const probe = await serve({ log });
  let used = 0;
  for (const [key, value] of Object.entries(probe.state.toObject())) used += entryBytes(key, value);
  await probe.close();
  const blob = new Uint8Array(1000).fill(7);
  await withServer(
    { maxStateBytes: used + entryBytes("blob", blob) },
    async (server, client) => {
      assert.equal((await update(client, [{ key: "blob", value: blob }])).result, null);
      assertRefused(
        await update(client, [{ key: "more", value: true }]),
        "trame.state.update",
        /maxStateBytes/,
      );
      assert.equal(server.state.has("more"), false);
      const smaller = blob.subarray(0, 990);
      assert.equal((await update(client, [{ key: "blob", value: smaller }])).result, null);
      assert.equal((await update(client, [{ key: "more", value: true }])).result, null);
      await assertLaterClientLoads(server, { more: true });
    },
  );
});

test("application.exit.later waits out delays beyond setTimeout's range; at most 16 wait", async () => {
  await withServer({}, async (server, client) => {
    // 3,000,000 s: setTimeout alone would fire at once.
    assert.equal((await client.call("application.exit.later", [3_000_000])).result, null);
    const closed = await Promise.race([
      server.finished.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 500)),
    ]);
    assert.equal(closed, false, "the server closed long before its time");
    assert.equal((await client.call("trame.state.get")).error, undefined);

    const infinite = (await client.call("application.exit.later", [Infinity])).error as {
      data: { exception: string };
    };
    assert.match(infinite.data.exception, /finite number/);
    for (let count = 2; count <= 16; count++) {
      assert.equal((await client.call("application.exit.later", [1e6])).result, null);
    }
    const refused = (await client.call("application.exit.later", [1e6])).error as {
      code: number;
      data: { exception: string };
    };
    assert.equal(refused.code, -32001);
    assert.match(refused.data.exception, /16 exits are already scheduled/);
  });
});

test("sendStackTraces: false leaves the trace out of -32001 replies; the default keeps it", async () => {
  for (const sendStackTraces of [undefined, false]) {
    await withServer({ sendStackTraces }, async (server, client) => {
      server.register("fail", () => {
        throw new RangeError("bad input");
      });
      const error = (await client.call("fail")).error as { code: number; data: Envelope };
      assert.equal(error.code, -32001);
      assert.equal(error.data.method, "fail");
      assert.equal(error.data.exception, "RangeError('bad input')");
      if (sendStackTraces === false) assert.equal(Object.hasOwn(error.data, "trace"), false);
      else assert.match(error.data.trace as string, /RangeError: bad input/);
    });
  }
});

test("results hold 64-bit integers as the reference sends them; wider ones are -32002", async () => {
  await withServer({}, async (server) => {
    const values = [2n ** 64n - 1n, -(2n ** 63n), 2 ** 40, -(2 ** 40), 7];
    server.register("big", () => values);
    server.register("too.big", () => 2n ** 64n);
    const session = await WslinkSession.connect(server.url, { useBigInt64: true });
    try {
      // Integers come back as integers: a decoder with useBigInt64 makes each 64-bit one bigint.
      assert.deepStrictEqual(await session.call("big"), [
        2n ** 64n - 1n,
        -(2n ** 63n),
        2n ** 40n,
        -(2n ** 40n),
        7,
      ]);
      await assert.rejects(session.call("too.big"), { code: -32002, data: "too.big" });
    } finally {
      await session.close();
    }
  });
});
