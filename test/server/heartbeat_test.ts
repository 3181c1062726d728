// The server pings every client (the reference's WSLINK_HEART_BEAT), on every runtime's adapter.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { serve } from "../../src/server/mod.ts";
import { within } from "../_support.ts";

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
