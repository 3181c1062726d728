// Issue 13, item 6: a client that stops reading cannot make the server queue without end. Each
// connection has a send budget; a message to a client with more than that still queued closes it
// (1008), on every runtime's adapter, while the clients that read are served as before.
import { test } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../../src/server/mod.ts";
import type { TrameServer } from "../../src/server/mod.ts";
import { disconnects, RawClient, within } from "./_client.ts";
import { callOver, helloOver, RawSocket } from "./_raw_socket.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const quiet = () => {};
const isDeno = "Deno" in globalThis;

async function pausedClient(server: TrameServer): Promise<RawSocket> {
  const peer = await RawSocket.open(server.url);
  assert.equal((await helloOver(peer)).error, undefined);
  peer.keepMessages = false;
  peer.pause();
  return peer;
}

test("a client asking for large replies without reading them is closed at its send budget", async () => {
  const server = await serve({ sendBudget: MiB, heartbeat: 0, log: quiet });
  const reply = new Uint8Array(512 * KiB);
  server.register("large", () => reply);
  const dropped = disconnects(server, 1);
  const peer = await pausedClient(server);
  try {
    // 50 MiB of replies: far more than the socket buffers hold.
    for (let index = 0; index < 100; index++) callOver(peer, "large", [], index);
    assert.deepEqual(await within(dropped, 20_000, "the slow reader dropped"), [
      [1008, "Send queue over budget"],
    ]);
    // What was queued before the close still arrives, then the close frame; Deno instead drops
    // the connection without one when the peer's calls still in flight reach it after the close.
    peer.resume();
    const end = await within(peer.ended, 10_000, "the connection ends");
    if (!(isDeno && end.closeCode === undefined)) {
      assert.deepEqual(end, { closeCode: 1008, closeReason: "Send queue over budget" });
    }
    assert.ok(peer.messageCount < 100, `${peer.messageCount} replies arrived: none held back`);
  } finally {
    peer.destroy();
    await server.close();
  }
});

test("paused subscribers are closed at their budget; a reading client gets every publish", async () => {
  const server = await serve({ sendBudget: MiB, heartbeat: 0, log: quiet });
  const paused = await Promise.all([1, 2, 3].map(() => pausedClient(server)));
  const reader = await RawClient.authenticated(server.url);
  const dropped = disconnects(server, 3);
  try {
    const update = new Uint8Array(512 * KiB);
    for (let index = 0; index < 80; index++) {
      update[0] = index;
      server.publish("big.topic", update);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const closes = await within(dropped, 20_000, "the three paused subscribers dropped");
    assert.deepEqual(closes, Array(3).fill([1008, "Send queue over budget"]));
    for (let index = 0; index < 80; index++) {
      const { message } = await reader.next(10_000);
      assert.equal(message.id, "publish:big.topic:0");
      assert.equal((message.result as Uint8Array)[0], index);
    }
    assert.equal(reader.isClosed, false);
    assert.equal(server.clients.length, 1);
  } finally {
    for (const peer of paused) peer.destroy();
    await reader.close();
    await server.close();
  }
});

test("a reply larger than the budget still reaches a client that reads", async () => {
  const server = await serve({ sendBudget: 64 * KiB, maxMsgSize: 16 * KiB, log: quiet });
  server.register("large", () => new Uint8Array(4 * MiB).fill(7));
  const reader = await RawClient.authenticated(server.url);
  try {
    for (let round = 0; round < 3; round++) {
      const reply = await reader.call("large");
      const bytes = reply.result as Uint8Array;
      assert.equal(bytes.byteLength, 4 * MiB);
      assert.equal(bytes[4 * MiB - 1], 7);
    }
    assert.equal(reader.isClosed, false);
  } finally {
    await reader.close();
    await server.close();
  }
});

test("serve() refuses a send budget that is not a positive integer", async () => {
  await assert.rejects(serve({ sendBudget: 0 }), /sendBudget must be an integer from 1/);
  await assert.rejects(serve({ sendBudget: 1.5 }), /sendBudget/);
});
