// Issue 15: a file streamed to a client that reads slowly is read from disk at that client's pace,
// frame by frame, each frame once the socket has room for it: the server holds a few frames, not
// the file (which it used to load whole to pack it). Its memory is measured in a process of its
// own, while a client on a raw TCP socket reads in short bursts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callOver, helloOver, RawSocket } from "../server/_raw_socket.ts";
import { startServerProcess } from "./_server_process.ts";

const MB = 1_000_000;
const MiB = 1024 * 1024;
const FILE_BYTES = 512 * MiB;
const FRAME_BYTES = 256 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a file streamed to a slow reader costs the server a few frames of memory", async () => {
  const directory = mkdtempSync(join(tmpdir(), "trame-wire-backpressure-"));
  const path = join(directory, "large.bin");
  // Sparse: 512 MiB of zeros that take no disk.
  writeFileSync(path, new Uint8Array(0));
  truncateSync(path, FILE_BYTES);
  const server = await startServerProcess(undefined, [
    "--stream-file",
    path,
    "--max-msg-size",
    String(FRAME_BYTES),
  ]);
  const peer = await RawSocket.open(server.started.url);
  try {
    assert.equal((await helloOver(peer)).error, undefined);
    peer.keepMessages = false;
    peer.pause();
    const before = await server.report();
    callOver(peer, "test.file");
    // Three seconds of reading 5 ms out of every 100 ms: far slower than the disk. The server's
    // memory is sampled after each burst (its peak since it started is no use: loading the
    // program costs Deno more than this test).
    let largest = before.rss;
    for (const until = performance.now() + 3_000; performance.now() < until;) {
      peer.resume();
      await sleep(5);
      peer.pause();
      largest = Math.max(largest, (await server.report()).rss);
      await sleep(95);
    }
    const received = peer.receivedBytes;
    const growth = largest - before.rss;
    console.log(
      `${(received / MB).toFixed(0)} MB read in bursts; the server's memory grew by ${
        (growth / MB).toFixed(0)
      } MB`,
    );
    assert.equal(peer.isEnded, false, "the connection is open");
    assert.ok(received > FRAME_BYTES, `the transfer moved: ${received} bytes`);
    assert.ok(received < FILE_BYTES, "the reader was slower than the file");
    // Without backpressure the server would have queued the file (and been closed for it).
    assert.ok(growth < 150 * MB, `the server's memory grew by ${(growth / MB).toFixed(0)} MB`);
  } finally {
    peer.destroy();
    await server.stop();
    rmSync(directory, { recursive: true, force: true });
  }
});
