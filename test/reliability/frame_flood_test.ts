// Issue 13, item 10: a flood of tiny frames costs the server no memory per frame. Each frame used
// to be handled through a promise chained to the previous one; on Deno, where the socket's
// messages arrive as fast as that chain moves, the chain held every frame: a million frames of
// one content byte each, before the hello, grew the server by ~750 MB (a bare Deno server:
// 20 MB). Before the hello a client can no longer send that many (item 9: its third failed hello
// closes it), so the flood comes after it. The server's memory is measured in a process of its
// own, as the largest resident size sampled while the frames arrive.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HEADER_LENGTH } from "../../src/codec/header.ts";
import { framed, helloOver, RawSocket, wslinkFrames } from "../server/_raw_socket.ts";
import { startServerProcess } from "./_server_process.ts";

const MB = 1_000_000;
const isDeno = "Deno" in globalThis;
const FRAMES = 1_000_000;

test("a million one-byte chunk frames are all handled, and cost the Deno server little memory", async () => {
  const server = await startServerProcess();
  const peer = await RawSocket.open(server.started.url);
  try {
    // The hello first, so that what one connection always costs is counted before.
    assert.equal((await helloOver(peer)).error, undefined);
    peer.keepMessages = false;
    const before = await server.report();
    // Calls of a method the server does not have, cut into frames carrying one byte each: every
    // one is answered (-32601), and the connection stays open.
    const frames = wslinkFrames(
      { wslink: "1.0", id: "rpc:c:1", method: "no.such", args: [], kwargs: {} },
      HEADER_LENGTH + 1,
    );
    const perBatch = Math.ceil(10_000 / frames.length);
    const batch = framed(Array.from({ length: perBatch }, () => frames).flat());
    let replies = 1;
    for (let sent = 0; sent < FRAMES; sent += perBatch * frames.length) {
      await peer.write(batch);
      replies += perBatch;
    }
    await peer.received(replies, 180_000);
    const after = await server.report();
    const growth = after.peakRss - before.rss;
    console.log(
      `${(replies - 1) * frames.length} frames: the server's peak memory grew by ${
        (growth / MB).toFixed(0)
      } MB`,
    );
    assert.equal(peer.isEnded, false);
    // Measured with the fix (before the hello, as the process's peak since it started): Deno +77
    // to +126 MB, Node +36 to +81 MB, Bun +26 MB alone but up to +388 MB on a loaded machine
    // (garbage its concurrent collector had not reached yet). Sampled after the hello: Deno +25,
    // Node +36, Bun +23 MB. Only Deno held the frames; it is the one held to a bound.
    if (isDeno) assert.ok(growth < 300 * MB, `the server grew by ${(growth / MB).toFixed(0)} MB`);
  } finally {
    peer.destroy();
    await server.stop();
  }
});
