// Issue 13, items 1 and 2, on the client: a malicious server on a real socket sends msgpack bombs
// and replies that do not decode. The session never allocates what a header claims, rejects the
// call (or connect()) a broken reply answers when its id can be read, and reports the rest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { type SessionErrorEvent, WslinkSession } from "../../mod.ts";
import { envelopeEndingWith, FOUR_HUGE_ARRAYS, nestedArray32 } from "./_bombs.ts";
import { hostileServer } from "./_hostile_server.ts";
import { assertClientError, noUnhandledRejections } from "./_support.ts";

const HELLO_ID = "system:c0:0";

// A reply to `id` whose result is `rawResult`, bytes that need not be msgpack.
const replyWith = (id: unknown, rawResult: Uint8Array) =>
  envelopeEndingWith({ wslink: "1.0", id }, "result", rawResult);

// `depth - 1` one-element arrays around a 0: a value `depth` deep.
const nested = (depth: number) => new Uint8Array([...Array(depth - 1).fill(0x91), 0x00]);

test("a msgpack bomb in place of the hello reply: connect() rejects with a protocol error", async () => {
  await noUnhandledRejections(async () => {
    const bombs = {
      "a hello reply whose result nests 20 array 32 headers": replyWith(
        HELLO_ID,
        nestedArray32(20),
      ),
      "four array 32 headers of 0x07ffffff elements": FOUR_HUGE_ARRAYS,
      "the same in a map with no id": envelopeEndingWith({ wslink: "1.0" }, "x", FOUR_HUGE_ARRAYS),
    };
    for (const [name, bytes] of Object.entries(bombs)) {
      const server = await hostileServer(() => {}, { onHello: (peer) => peer.sendBytes(bytes) });
      try {
        const error = await WslinkSession.connect(server.url, { helloTimeout: 10_000 }).then(
          () => assert.fail(`${name}: connected`),
          (error: unknown) => error,
        );
        const refused = assertClientError(error, "protocol");
        assert.match(refused.message, /declared-length/, name);
      } finally {
        await server.close();
      }
    }
  });
});

test("a reply whose result does not decode rejects its call with a protocol error", async () => {
  await noUnhandledRejections(async () => {
    const broken: Record<string, Uint8Array> = {
      // 20 nested array 32 headers of 2^25 elements.
      bomb: nestedArray32(20),
      // A map whose key is "__proto__", which @msgpack/msgpack refuses.
      proto: new Uint8Array([0x81, ...encode("__proto__"), 0x01]),
      // A map whose key is an array.
      "array-key": new Uint8Array([0x81, 0x90, 0x01]),
      // 0xc1, a byte msgpack never uses.
      "unused-byte": new Uint8Array([0x92, 0x01, 0xc1]),
    };
    const server = await hostileServer((message, peer) => {
      const how = String(message.method);
      if (how in broken) peer.sendBytes(replyWith(message.id, broken[how]));
      else peer.reply(message.id, "fine");
    });
    try {
      const session = await WslinkSession.connect(server.url);
      const events: SessionErrorEvent[] = [];
      session.on("error", (event) => events.push(event));
      for (const method of Object.keys(broken)) {
        const error = await session.call(method).then(
          () => assert.fail(`${method}: resolved`),
          (error: unknown) => error,
        );
        const refused = assertClientError(error, "protocol");
        assert.match(refused.message, /cannot be decoded/, method);
        assert.equal((refused.data as { id?: unknown }).id, server.received.at(-1)!.id);
        assert.ok((refused.data as { cause?: unknown }).cause instanceof Error, method);
      }
      assert.equal(await session.call("works"), "fine");
      assert.deepEqual(events, [], "nothing left to report: every broken reply settled its call");
      await session.close();
    } finally {
      await server.close();
    }
  });
});

test("a broken message whose id cannot be read is reported; its call waits for its timeout", async () => {
  await noUnhandledRejections(async () => {
    const server = await hostileServer((message, peer) => {
      if (message.method === "id-last") {
        // The broken result comes before the id, so the id cannot be reached.
        peer.sendBytes(
          new Uint8Array([
            0x83,
            ...encode("wslink"),
            ...encode("1.0"),
            ...encode("result"),
            ...nestedArray32(3),
            ...encode("id"),
            ...encode(message.id),
          ]),
        );
      } else if (message.method === "publish") {
        peer.sendBytes(replyWith("publish:topic:0", FOUR_HUGE_ARRAYS));
        peer.reply(message.id, "published");
      } else peer.reply(message.id, "fine");
    });
    try {
      const session = await WslinkSession.connect(server.url);
      const events: SessionErrorEvent[] = [];
      session.on("error", (event) => events.push(event));
      const waiting = session.call("id-last", [], {}, { timeout: 300 });
      assertClientError(await waiting.catch((error: unknown) => error), "timeout");
      assert.deepEqual(events.map((event) => event.kind), ["undecodable"]);
      assert.match(assertClientError(events[0].error, "protocol").message, /declared-length/);
      assert.equal(await session.call("publish"), "published");
      assert.deepEqual(events.map((event) => event.kind), ["undecodable", "undecodable"]);
      const publishError = assertClientError(events.at(-1)!.error, "protocol");
      assert.equal((publishError.data as { id?: unknown }).id, "publish:topic:0");
      assert.equal(await session.call("works"), "fine");
      await session.close();
    } finally {
      await server.close();
    }
  });
});

test("depth: 512 levels decode by default (what a Python server can send), 513 do not", async () => {
  await noUnhandledRejections(async () => {
    // The envelope is at depth 1 and its result at depth 2: `depth - 1` levels inside it.
    const server = await hostileServer((message, peer) => {
      peer.sendBytes(replyWith(message.id, nested(Number(message.method) - 1)));
    });
    try {
      const session = await WslinkSession.connect(server.url);
      let value = await session.call("512");
      let arrays = 0;
      for (; Array.isArray(value); arrays++) value = value[0];
      assert.equal(arrays, 510, "510 arrays and a number under the envelope and its result");
      const error = await session.call("513").catch((error: unknown) => error);
      assert.match(assertClientError(error, "protocol").message, /too-deep/);
      await session.close();
      const deeper = await WslinkSession.connect(server.url, { maxMessageDepth: 600 });
      assert.ok(Array.isArray(await deeper.call("513")));
      await deeper.close();
      await assert.rejects(WslinkSession.connect(server.url, { maxMessageDepth: 0 }), RangeError);
    } finally {
      await server.close();
    }
  });
});
