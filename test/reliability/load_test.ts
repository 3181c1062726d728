// Issue 8, load: 100,000 calls with 1,000 in flight against the embedded server, publishes counted
// and checksummed against the server's, and a server declaring 4 GiB messages on many ids at once.
// The publish count is the 1,000,000 (about 20 to 60 s per runtime here);
// RELIABILITY_PUBLISHES lowers it for quick local runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChunkError, encodeHeader, type SessionErrorEvent, WslinkSession } from "../../mod.ts";
import { quietServer, waitFor, within } from "../trame/_client_support.ts";
import { hostileServer } from "./_hostile_server.ts";
import { noUnhandledRejections } from "./_support.ts";
import { recordingWire } from "../_support.ts";

/** The order-sensitive running checksum both ends compute over the published values. */
export function checksumStep(sum: number, value: number): number {
  return (Math.imul(sum, 31) + value) >>> 0;
}

test("100,000 calls with 1,000 in flight: every result matched to its call, none lost or doubled", async () => {
  await noUnhandledRejections(async () => {
    const { server } = await quietServer();
    let handled = 0;
    server.register("echo", (args) => {
      handled++;
      return args;
    });
    const wire = recordingWire();
    const session = await WslinkSession.connect(server.url, {
      callTimeout: 30_000,
      WebSocket: wire.WebSocket,
    });
    try {
      const total = 100_000;
      const seen = new Uint8Array(total);
      let next = 0;
      const worker = async () => {
        while (next < total) {
          const index = next++;
          const result = await session.call("echo", [index, `n${index}`]);
          assert.deepEqual(result, [index, `n${index}`]);
          seen[index]++;
        }
      };
      await within(Promise.all(Array.from({ length: 1_000 }, worker)), 60_000, "100,000 calls");
      // The session really had 1,000 calls sent and unanswered at once (not fewer, queued):
      // each call and each reply is one frame here.
      assert.equal(wire.maxOutstanding, 1_000);
      assert.equal(wire.received - 1, total, "one reply per call, after the hello's");
      assert.equal(handled, total);
      assert.ok(seen.every((count) => count === 1), "every call answered exactly once");
    } finally {
      await session.close();
      await server.close();
    }
  });
});

test("publishes consumed: the count and a running checksum match the server's", async () => {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process
    ?.env;
  const total = Number(env?.RELIABILITY_PUBLISHES ?? 1_000_000);
  await noUnhandledRejections(async () => {
    const { server } = await quietServer();
    let serverSum = 0;
    server.register("blast", ([count]) => {
      for (let index = 0; index < (count as number); index++) {
        const value = (index * 2654435761) >>> 0;
        serverSum = checksumStep(serverSum, value);
        server.publish("load.topic", value);
      }
      return count;
    });
    const session = await WslinkSession.connect(server.url);
    try {
      let count = 0;
      let sum = 0;
      using _ = session.subscribe("load.topic", (value) => {
        count++;
        sum = checksumStep(sum, value as number);
      });
      // In batches, so the server's publish queue stays small.
      for (let sent = 0; sent < total; sent += 10_000) {
        await session.call("blast", [Math.min(10_000, total - sent)]);
      }
      await waitFor(() => count >= total, 60_000, `${total} publishes`);
      assert.equal(count, total);
      assert.equal(sum, serverSum);
    } finally {
      await session.close();
      await server.close();
    }
  });
});

test("a server declaring 4 GiB messages on many ids: refused within budgets, session usable", async () => {
  await noUnhandledRejections(async () => {
    const MiB = 1 << 20;
    const frame = (id: number, total: number, content = 100) => {
      const bytes = new Uint8Array(12 + content);
      encodeHeader(id, 0, total, bytes);
      return bytes;
    };
    const server = await hostileServer((message, peer) => {
      if (message.method !== "flood") return peer.reply(message.id, "fine");
      for (let id = 1; id <= 200; id++) peer.connection.send(frame(id, 0xffff_ffff)); // 4 GiB
      for (let id = 1_001; id <= 1_006; id++) peer.connection.send(frame(id, MiB)); // 1 MiB each
      for (let id = 2_001; id <= 2_010; id++) peer.connection.send(frame(id, 1_000)); // small
      peer.reply(message.id, "flooded");
    });
    const session = await WslinkSession.connect(server.url, {
      maxMessageSize: 2 * MiB,
      maxPendingBytes: 4 * MiB,
      maxPendingMessages: 8,
    });
    try {
      const errors: SessionErrorEvent[] = [];
      const progress: { id: number; total: number }[] = [];
      session.on("error", (event) => errors.push(event));
      session.on("progress", (event) => progress.push(event));
      assert.equal(await session.call("flood"), "flooded");
      const reasons = errors.map((event) => {
        assert.equal(event.kind, "frame-refused");
        assert.ok(event.error instanceof ChunkError);
        return `${event.error.reason}:${event.error.messageId}`;
      });
      const expected = [
        ...Array.from({ length: 200 }, (_, index) => `message-too-large:${index + 1}`),
        // 3 × (1 MiB + 16) fit in 4 MiB; the 4th would not.
        ...[1_004, 1_005, 1_006].map((id) => `pending-bytes:${id}`),
        // 3 pending + 5 small = 8 messages; the rest is over maxPendingMessages.
        ...[2_006, 2_007, 2_008, 2_009, 2_010].map((id) => `too-many-messages:${id}`),
      ];
      assert.deepEqual(reasons, expected);
      // What was accepted stayed within maxPendingBytes: the sum of the accepted totals.
      const accepted = new Map(progress.map((event) => [event.id, event.total]));
      let pendingBytes = 0;
      for (const total of accepted.values()) pendingBytes += total + 16;
      assert.equal(accepted.size, 8);
      assert.ok(pendingBytes <= 4 * MiB, `${pendingBytes} pending bytes`);
      // And the session is still usable.
      assert.equal(await session.call("after"), "fine");
      assert.equal(session.closed, false);
    } finally {
      await session.close();
      await server.close();
    }
  });
});
