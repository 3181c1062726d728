// The state key `__proto__`: @msgpack/msgpack (the decoder of trame's web client, of wslink's and
// of this one) refuses any map holding it, on every runtime. So no State takes it, and a client
// that receives one from some other server drops that message without polluting anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Decoder } from "@msgpack/msgpack";
import { TrameClient, WslinkError } from "../../mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { State, StateUpdateError } from "../../src/trame/state.ts";
import { hostileServer } from "../reliability/_hostile_server.ts";
import { within } from "../_support.ts";

// An object with an own `__proto__` key, as JSON.parse makes it on every runtime.
const withProtoKey = () => JSON.parse('{"__proto__": {"polluted": true}, "counter": 1}');

test("State refuses the key __proto__ from every setter; nothing of the call is set", () => {
  const state = new State<Record<string, unknown>>({ a: 1 }, { autoFlush: false });
  const refused = { name: "StateUpdateError", message: /__proto__/ };
  assert.throws(() => state.set("__proto__", 1), refused);
  assert.throws(() => state.update(withProtoKey()), refused);
  assert.throws(() => state.setDefault("__proto__", 1), refused);
  assert.throws(() => state.dirty("__proto__"), refused);
  assert.throws(() => state.applyRemote(withProtoKey()), refused);
  assert.throws(() => new State(withProtoKey()), refused);
  assert.equal(state.has("counter"), false);
  assert.equal(state.isDirty("__proto__", "counter"), false);
  assert.equal(Object.hasOwn(state.toObject(), "__proto__"), false);
  assert.throws(
    () => state.set("__proto__", 1),
    (error) => error instanceof StateUpdateError && error.reason === "unsendable-key",
  );
});

test("State's validate option refuses values set on this side, whole calls at a time", () => {
  const checked: string[] = [];
  const state = new State<Record<string, unknown>>({ a: 1 }, {
    autoFlush: false,
    validate: (key, value) => {
      checked.push(key);
      if (value === "bad") throw new RangeError(`bad value for ${key}`);
    },
  });
  assert.deepEqual(checked, ["a"]);
  assert.throws(() => state.update({ b: 2, c: "bad" }), /bad value for c/);
  assert.equal(state.has("b"), false);
  assert.throws(() => state.set("d", "bad"), RangeError);
  assert.throws(() => state.setDefault("d", "bad"), RangeError);
  const refuseBad = (_key: string, value: unknown) => {
    if (value === "bad") throw new RangeError("no");
  };
  assert.throws(() => new State({ e: "bad" }, { validate: refuseBad }), RangeError);
  // A peer's values are their owner's to check.
  state.applyRemote({ f: "bad" });
  assert.equal(state.get("f"), "bad");
});

test("@msgpack/msgpack refuses a map with __proto__ on this runtime, without polluting", () => {
  const bytes = createMessageCodec().encode(withProtoKey()).slice();
  assert.throws(() => new Decoder().decode(bytes), /__proto__ is not allowed/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("a client whose state arrives with __proto__ fails to connect and pollutes nothing", async () => {
  const server = await hostileServer((message, peer) => {
    if (message.method === "trame.state.get") {
      peer.reply(message.id, { name: "evil", state: withProtoKey() });
    } else peer.reply(message.id, null);
  });
  const client = new TrameClient(server.url, { session: { callTimeout: 1_000 } });
  try {
    const error = await within(client.connect().catch((e) => e), 10_000, "connect settles");
    assert.ok(error instanceof WslinkError, String(error));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
  } finally {
    await client.disconnect();
    await server.close();
  }
});
