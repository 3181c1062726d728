// Issue 13, item 12: a server out of file descriptors keeps running and serves new clients once
// descriptors are free again. Deno's `Deno.serve` ends its accept loop on "Too many open files"
// (and, unhandled, that ended the process); Bun and Node retry by themselves. The server runs in
// a process of its own under `ulimit -n 256`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { within } from "../_support.ts";
import { helloOver, RawSocket } from "../server/_raw_socket.ts";
import { startServerProcess } from "./_server_process.ts";

const FILE_LIMIT = 256;
const IDLE_SOCKETS = 400;

// Opens a TCP connection that never sends a byte; resolves once it is connected or refused.
function idleSocket(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => resolve(socket));
    socket.on("connect", () => resolve(socket));
  });
}

// A client that completes the hello, retrying while the server cannot take it yet.
async function helloWithin(url: string, ms: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    let peer: RawSocket | undefined;
    try {
      peer = await RawSocket.open(url);
      return await helloOver(peer);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      peer?.destroy();
    }
  }
}

test(`more connections than the server's ${FILE_LIMIT} descriptors: it recovers once they close`, async () => {
  const server = await startServerProcess(FILE_LIMIT);
  const { port } = new URL(server.started.url);
  const sockets: Socket[] = [];
  try {
    // Deno 2.9 sets up its signal handlers half a second after the first `Deno.serve`, and
    // panics when no descriptor is free for that: a Deno bug, not the one tested here.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (let index = 0; index < IDLE_SOCKETS; index++) {
      sockets.push(await within(idleSocket(Number(port)), 5_000, "an idle connection"));
    }
    // Time for the server to run into the limit.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const socket of sockets) socket.destroy();
    const reply = await within(helloWithin(server.started.url, 20_000), 25_000, "a new client");
    assert.equal(reply.error, undefined);
    assert.ok(server.running(), `the server process exited: ${server.stderr()}`);
  } finally {
    for (const socket of sockets) socket.destroy();
    if (server.running()) await server.stop();
  }
});
