// The server pings every client (the reference's WSLINK_HEART_BEAT), on every runtime's adapter.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { detectRuntime, serve } from "../../src/server/mod.ts";
import { waitFor } from "../trame/_client_support.ts";
import { disconnects, within } from "./_client.ts";
import { helloOver, RawSocket } from "./_raw_socket.ts";

test("the server pings its clients every `heartbeat` seconds", async () => {
  const server = await serve({ heartbeat: 1, log: () => {} });
  const socket = new WebSocket(server.url);
  try {
    let pings = 0;
    const twoPings = new Promise<void>((resolve) => {
      socket.on("ping", () => {
        if (++pings === 2) resolve();
      });
    });
    // Pings come at most a heartbeat apart (Bun pings after a heartbeat of silence).
    await within(twoPings, 5_000, "two pings from a 1-second heartbeat");
    assert.equal(socket.readyState, WebSocket.OPEN);
  } finally {
    socket.close();
    await server.close();
  }
});

test("heartbeat 0 sends no pings", async () => {
  const server = await serve({ heartbeat: 0, log: () => {} });
  const socket = new WebSocket(server.url);
  try {
    let pings = 0;
    socket.on("ping", () => pings++);
    await new Promise<void>((resolve) => socket.on("open", () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(pings, 0);
  } finally {
    socket.close();
    await server.close();
  }
});

test("serve() refuses a heartbeat that is not 0 to 960 seconds", async () => {
  await assert.rejects(serve({ heartbeat: -1 }), /heartbeat must be an integer from 0 to 960/);
  await assert.rejects(serve({ heartbeat: 1.5 }), /heartbeat/);
});

test("a client that stops answering pings is disconnected, and the others are not", async () => {
  const server = await serve({ heartbeat: 1, log: () => {} });
  const silent = new WebSocket(server.url, { autoPong: false });
  const healthy = new WebSocket(server.url);
  try {
    const silentClosed = new Promise<void>((resolve) => silent.on("close", () => resolve()));
    await within(silentClosed, 6_000, "the silent client dropped within a few heartbeats");
    assert.equal(healthy.readyState, WebSocket.OPEN);
  } finally {
    silent.close();
    healthy.close();
    await server.close();
  }
});

// The default is 30 s, as the reference server's. Waiting for it would take a minute, so this
// looks at the timer each runtime's adapter arms for a client, and runs it by hand where it can.
test("by default the server pings every 30 s and drops a client that stopped answering", async () => {
  if (detectRuntime() === "deno") {
    // Deno pings from its own native timer, set by upgradeWebSocket's idleTimeout (seconds).
    const deno = (globalThis as unknown as {
      Deno: { upgradeWebSocket(request: Request, options?: { idleTimeout?: number }): unknown };
    }).Deno;
    const upgrade = deno.upgradeWebSocket;
    const idleTimeouts: unknown[] = [];
    deno.upgradeWebSocket = (request, options) => {
      idleTimeouts.push(options?.idleTimeout);
      return upgrade.call(deno, request, options);
    };
    const server = await serve({ log: () => {} });
    const socket = new WebSocket(server.url);
    try {
      await within(new Promise((resolve) => socket.on("open", resolve)), 5_000, "open");
      assert.deepEqual(idleTimeouts, [30]);
    } finally {
      deno.upgradeWebSocket = upgrade;
      socket.close();
      await server.close();
    }
    return;
  }
  // Bun and Node ping from an interval per client: catch it, check its period, and run it.
  const realSetInterval = globalThis.setInterval;
  const intervals: { ms: number | undefined; tick: () => void }[] = [];
  globalThis.setInterval = ((tick: () => void, ms?: number) => {
    intervals.push({ ms, tick });
    return realSetInterval(tick, ms);
  }) as typeof setInterval;
  const server = await serve({ log: () => {} });
  const silent = new WebSocket(server.url, { autoPong: false });
  try {
    await within(new Promise((resolve) => silent.on("open", resolve)), 5_000, "open");
    await waitFor(() => intervals.length > 0, 5_000, "the client's interval");
    const heartbeats = intervals.filter((interval) => interval.ms === 30_000);
    assert.equal(heartbeats.length, 1, `intervals armed: ${intervals.map((i) => i.ms)}`);
    const pinged = new Promise((resolve) => silent.on("ping", resolve));
    const closed = new Promise((resolve) => silent.on("close", resolve));
    heartbeats[0].tick(); // 30 s later: a ping
    await within(pinged, 5_000, "a ping");
    heartbeats[0].tick(); // 60 s later: no pong came back, the client is dropped
    await within(closed, 5_000, "the silent client dropped");
  } finally {
    globalThis.setInterval = realSetInterval;
    silent.close();
    await server.close();
  }
});

// Issue 13, item 7: only the pong answering the server's own ping counts, and a client that
// reads nothing of what waits for it is dead whatever it sends.
const isDeno = "Deno" in globalThis;

test("pongs that do not answer the server's ping do not keep a client alive", {
  skip: isDeno && "Deno lets no code ping or see pongs; its idle timeout takes any frame",
}, async () => {
  const server = await serve({ heartbeat: 1, log: () => {} });
  const dropped = disconnects(server);
  const peer = await RawSocket.open(server.url);
  const healthy = await RawSocket.open(server.url);
  peer.autoPong = false;
  // Unsolicited pongs, empty and with a payload of the ping's length, ten a second.
  const pongs = setInterval(() => {
    peer.pong();
    peer.pong(crypto.getRandomValues(new Uint8Array(8)));
  }, 100);
  try {
    assert.deepEqual(await within(dropped, 8_000, "the client dropped"), [[1008, "No pong"]]);
    assert.ok(peer.pings.length >= 1, "the server pinged it");
    assert.equal(healthy.isEnded, false);
    assert.equal(server.clients.length, 1);
  } finally {
    clearInterval(pongs);
    peer.destroy();
    healthy.destroy();
    await server.close();
  }
});

test("a client that reads none of what waits for it is dropped within two heartbeats", async () => {
  // A budget that is never reached: the heartbeat alone drops the client.
  const server = await serve({ heartbeat: 1, sendBudget: 2 ** 40, log: () => {} });
  const peer = await RawSocket.open(server.url);
  assert.equal((await helloOver(peer)).error, undefined);
  const dropped = disconnects(server);
  peer.keepMessages = false;
  peer.autoPong = false;
  peer.pause();
  // It keeps sending pongs (on Deno they reset the runtime's idle timeout).
  const pongs = setInterval(() => peer.pong(), 100);
  try {
    // 32 MiB: more than the sockets' buffers hold.
    const update = new Uint8Array(512 * 1024);
    for (let index = 0; index < 64; index++) server.publish("big.topic", update);
    assert.deepEqual(await within(dropped, 8_000, "the client dropped"), [[
      1008,
      "Send queue stalled",
    ]]);
  } finally {
    clearInterval(pongs);
    peer.destroy();
    await server.close();
  }
});
