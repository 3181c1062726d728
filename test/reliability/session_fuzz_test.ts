// Issue 8, session fuzzing: a hostile server sends random bytes, non-map messages and envelopes
// with wrong types in id/result/error. Every outcome is an `error` event or a typed rejection, and
// the session stays usable: a following real call succeeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ChunkError,
  encodeHeader,
  generateChunks,
  type SessionErrorEvent,
  WslinkError,
  WslinkSession,
} from "../../mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { fakeServer, type Peer } from "../session/_fake_socket.ts";
import { hostileServer } from "./_hostile_server.ts";
import { prng } from "./_codec_fuzz.ts";
import { noUnhandledRejections } from "./_support.ts";

const KINDS = new Set([
  "text-frame",
  "frame-refused",
  "undecodable",
  "not-a-map",
  "unknown-id",
  "protocol-violation",
]);

function randomValue(random: () => number, depth = 0): unknown {
  const int = (n: number) => Math.floor(random() * n);
  switch (int(depth > 2 ? 7 : 9)) {
    case 0:
      return null;
    case 1:
      return int(2) === 0;
    case 2:
      return int(2) === 0 ? int(1 << 30) - (1 << 29) : random() * 1e9;
    case 3:
      return [
        "",
        "rpc:c1:1",
        "publish:",
        "publish:t:0",
        "system:c0:0",
        "x".repeat(int(50)),
      ][int(6)];
    case 4:
      return new Uint8Array(int(20)).fill(int(256));
    case 5:
      return undefined;
    case 6:
      return -int(100_000);
    case 7:
      return Array.from({ length: int(4) }, () => randomValue(random, depth + 1));
    default: {
      const map: Record<string, unknown> = {};
      for (let index = int(4); index > 0; index--) {
        map[["id", "result", "error", "code", "message", "data", "wslink"][int(7)]] = randomValue(
          random,
          depth + 1,
        );
      }
      return map;
    }
  }
}

const codec = createMessageCodec();

// One hostile delivery: raw random bytes, a random msgpack value, or an envelope with bad fields.
function hostileFrame(random: () => number, pendingIds: string[]): Uint8Array | string {
  const int = (n: number) => Math.floor(random() * n);
  const roll = int(6);
  if (roll === 0) {
    const bytes = new Uint8Array(int(40));
    for (let index = 0; index < bytes.length; index++) bytes[index] = int(256);
    return bytes;
  }
  if (roll === 1) return "text " + int(1000);
  let value: unknown;
  if (roll === 2) value = randomValue(random);
  else {
    const envelope: Record<string, unknown> = { wslink: "1.0" };
    const ids = [
      ...pendingIds,
      7,
      null,
      ["a"],
      { id: 1 },
      new Uint8Array(3),
      "publish:x",
      "publish:topic:0",
      "rpc:c1:999999",
    ];
    envelope.id = roll === 3 && pendingIds.length > 0 ? pendingIds[int(pendingIds.length)] : ids[
      int(ids.length)
    ];
    if (int(2) === 0) envelope.result = randomValue(random);
    if (int(2) === 0) envelope.error = randomValue(random);
    value = envelope;
  }
  let bytes: Uint8Array;
  try {
    bytes = codec.encode(value);
  } catch {
    bytes = new Uint8Array([0xc1]);
  }
  // Sometimes only part of the message is sent, or its header lies.
  const frame = [...generateChunks(bytes, 0)][0];
  if (int(8) === 0) return frame.subarray(0, Math.max(12, frame.length - 1 - int(4)));
  return frame;
}

test("random bytes and malformed messages give only error events and typed rejections", async () => {
  await noUnhandledRejections(async () => {
    for (const seed of [11, 12, 13]) {
      const random = prng(seed);
      let real = 0;
      const server = fakeServer({
        onMessage: (message, peer: Peer) => {
          if (message.method === "real") peer.reply(message.id, ++real);
          // "slow" calls are left to the hostile frames, which may answer them wrongly.
        },
      });
      const session = await WslinkSession.connect("ws://x.invalid/", {
        WebSocket: server.WebSocket,
      });
      const events: SessionErrorEvent[] = [];
      session.on("error", (event) => events.push(event));
      const peer = server.peers[0];
      const calls: Promise<unknown>[] = [];
      const pendingIds: string[] = [];
      for (let round = 0; round < 300; round++) {
        if (round % 10 === 0) {
          calls.push(session.call("slow", [round], {}, { timeout: 2_000 }));
          pendingIds.push(String(server.received.at(-1)!.id));
        }
        peer.socket.deliver(hostileFrame(random, pendingIds));
      }
      // The session survived all of it: a real call goes through.
      assert.equal(await session.call("real", [], {}, { timeout: 2_000 }), 1);
      assert.equal(session.closed, false);
      for (const event of events) {
        assert.ok(KINDS.has(event.kind), `unexpected kind ${event.kind}`);
        assert.ok(
          event.error instanceof ChunkError || event.error instanceof WslinkError ||
            event.error instanceof Error,
          `error event without an error: ${event.kind}`,
        );
      }
      assert.ok(events.length > 100, `seed ${seed}: only ${events.length} error events`);
      // Each call either got a result, a typed rejection, or (unanswered) times out typed.
      await session.close();
      for (const outcome of await Promise.allSettled(calls)) {
        if (outcome.status === "rejected") {
          assert.ok(outcome.reason instanceof WslinkError, String(outcome.reason));
          if (outcome.reason.code === -32099) {
            const kind = (outcome.reason.data as { kind: string }).kind;
            assert.ok(["protocol", "closed", "timeout"].includes(kind), kind);
          }
        }
      }
    }
  });
});

test("wrong types in id, result and error of a reply reject that call with a typed error", async () => {
  await noUnhandledRejections(async () => {
    const server = fakeServer({});
    const session = await WslinkSession.connect("ws://x.invalid/", {
      WebSocket: server.WebSocket,
    });
    const events: SessionErrorEvent[] = [];
    session.on("error", (event) => events.push(event));
    const peer = server.peers[0];
    const replies: Record<string, unknown>[] = [
      { error: 5 },
      { error: "boom" },
      { error: { code: "x", message: "m" } },
      { error: { code: 1, message: 2 } },
      { error: [1, 2] },
      {}, // neither result nor error
    ];
    const calls = replies.map(() => session.call("slow", [], {}, { timeout: 2_000 }));
    const ids = server.received.slice(-replies.length).map((message) => message.id);
    // Wrong id types first: not matched to any call, reported as events.
    for (const id of [1, null, true, [ids[0]], { id: ids[0] }]) {
      peer.send({ wslink: "1.0", id, result: "wrong" });
    }
    replies.forEach((reply, index) => peer.send({ wslink: "1.0", id: ids[index], ...reply }));
    for (const outcome of await Promise.allSettled(calls)) {
      assert.equal(outcome.status, "rejected");
      const reason = (outcome as PromiseRejectedResult).reason;
      assert.ok(reason instanceof WslinkError);
      assert.equal(reason.code, -32099);
      assert.equal((reason.data as { kind: string }).kind, "protocol");
    }
    assert.deepEqual(events.map((event) => event.kind), [
      "protocol-violation",
      "protocol-violation",
      "protocol-violation",
      "protocol-violation",
      "protocol-violation",
    ]);
    // A result of any type is a result.
    const odd = session.call("slow");
    peer.send({ wslink: "1.0", id: server.received.at(-1)!.id, result: null, error: null });
    assert.equal(await odd, null);
    await session.close();
  });
});

// A frame whose chunk header lies (a total smaller than its content, an offset past the total, a
// total of up to 4 GiB, an empty chunk), with random ids so that a later one may overlap or
// contradict a pending message; or, one time in four, an honest header over bytes that are not
// msgpack (0xc1 is never used).
function malformedFrame(random: () => number): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  const content = int(64);
  const honest = int(4) === 0;
  const total = honest
    ? content + 1
    : [0, Math.max(0, content - 1), int(content + 1), 0xffff_ffff, 2 ** 30 + int(1000)][int(5)];
  const offset = honest ? 0 : [0, total, int(total + 10), 0xffff_fff0 + int(16)][int(4)];
  const frame = new Uint8Array(12 + (honest ? content + 1 : content));
  encodeHeader(int(8) === 0 ? 1 + int(4) : int(2 ** 32), offset, total, frame);
  for (let index = 12; index < frame.length; index++) frame[index] = int(256);
  if (honest) frame[12] = 0xc1;
  return frame;
}

test("a hostile server on a real socket: malformed, text and lying frames give only events and typed rejections", async () => {
  await noUnhandledRejections(async () => {
    for (const seed of [21, 22, 23]) {
      const random = prng(seed);
      const pendingIds: string[] = [];
      let real = 0;
      const server = await hostileServer((message, peer) => {
        if (message.method === "slow") pendingIds.push(String(message.id));
        else if (message.method === "real") peer.reply(message.id, ++real);
        else if (message.method === "fuzz") {
          for (let round = 0; round < 100; round++) {
            peer.connection.send(
              round % 3 === 2 ? malformedFrame(random) : hostileFrame(random, pendingIds),
            );
          }
          peer.reply(message.id, "fuzzed");
        }
      });
      try {
        const session = await WslinkSession.connect(server.url);
        const events: SessionErrorEvent[] = [];
        session.on("error", (event) => events.push(event));
        // The "slow" calls are left to the hostile frames, which may answer them, or wrongly.
        const calls: Promise<PromiseSettledResult<unknown>[]>[] = [];
        for (let batch = 0; batch < 3; batch++) {
          calls.push(Promise.allSettled([session.call("slow", [batch], {}, { timeout: 2_000 })]));
          assert.equal(await session.call("fuzz", [], {}, { timeout: 5_000 }), "fuzzed");
        }
        // The session survived all of it: a real call goes through.
        assert.equal(await session.call("real", [], {}, { timeout: 5_000 }), 1);
        assert.equal(session.closed, false);
        const kinds = new Set<string>(events.map((event) => event.kind));
        for (const kind of kinds) assert.ok(KINDS.has(kind), `unexpected kind ${kind}`);
        for (const kind of ["text-frame", "frame-refused", "undecodable"]) {
          assert.ok(kinds.has(kind), `seed ${seed}: no ${kind} event in ${[...kinds]}`);
        }
        assert.ok(events.length > 100, `seed ${seed}: only ${events.length} error events`);
        await session.close();
        for (const [outcome] of await Promise.all(calls)) {
          if (outcome.status === "rejected") {
            assert.ok(outcome.reason instanceof WslinkError, String(outcome.reason));
          }
        }
      } finally {
        await server.close();
      }
    }
  });
});
