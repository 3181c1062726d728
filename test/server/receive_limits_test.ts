// Frames are handled one after the other; those that arrive while a message is being handled
// wait, and what may wait is bounded (issue 13, item 10): a client over it is closed (1008).
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeHeader } from "../../src/codec/header.ts";
import { MAX_WAITING_FRAMES } from "../../src/server/core.ts";
import { serve } from "../../src/server/mod.ts";
import { disconnects, within } from "./_client.ts";
import { callOver, envelopeOf, framed, helloOver, RawSocket, wslinkFrames } from "./_raw_socket.ts";

// A handler that resolves when told to.
function gate(): { handler: () => Promise<string>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { handler: () => opened.then(() => "done"), open };
}

test("calls sent while a slow call runs are all answered, in order", async () => {
  const server = await serve({ log: () => {}, heartbeat: 0 });
  const slow = gate();
  server.register("slow", slow.handler);
  server.register("echo", (args) => args[0]);
  const peer = await RawSocket.open(server.url);
  try {
    assert.equal((await helloOver(peer)).error, undefined);
    callOver(peer, "slow", [], 0);
    const calls = 2_000;
    const frames = [];
    for (let index = 1; index <= calls; index++) {
      frames.push(
        ...wslinkFrames({ wslink: "1.0", id: `rpc:c:${index}`, method: "echo", args: [index] }),
      );
    }
    await peer.write(framed(frames));
    await new Promise((resolve) => setTimeout(resolve, 200));
    slow.open();
    await peer.received(1 + 1 + calls);
    const replies = peer.messages.slice(1).map(envelopeOf);
    assert.deepEqual(replies[0], { wslink: "1.0", id: "rpc:c:0", result: "done" });
    replies.slice(1).forEach((reply, index) => assert.equal(reply.result, index + 1));
    assert.equal(peer.isEnded, false);
  } finally {
    peer.destroy();
    await server.close();
  }
});

test("a client whose frames pile up while a message is handled is closed (1008)", async () => {
  const server = await serve({ log: () => {}, heartbeat: 0 });
  const slow = gate();
  server.register("slow", slow.handler);
  const dropped = disconnects(server);
  const peer = await RawSocket.open(server.url);
  try {
    assert.equal((await helloOver(peer)).error, undefined);
    callOver(peer, "slow", [], 0);
    // One-byte chunks of a message that never completes, more than may wait.
    const chunk = new Uint8Array(13);
    encodeHeader(7, 0, 1_000_000, chunk);
    const batch = framed(Array(1_000).fill(chunk));
    for (let sent = 0; sent <= MAX_WAITING_FRAMES && !peer.isEnded; sent += 1_000) {
      await peer.write(batch);
    }
    assert.deepEqual(await within(dropped, 10_000, "the client dropped"), [[
      1008,
      "Too many frames waiting",
    ]]);
  } finally {
    slow.open();
    peer.destroy();
    await server.close();
  }
});
