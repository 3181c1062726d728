import { test } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import { detectRuntime, serve } from "../../src/server/mod.ts";
import { collectingLogger, RawClient } from "./_client.ts";

test("serve() listens on a free port and answers hello with the client id and maxMsgSize", async () => {
  const { log } = collectingLogger();
  const server = await serve({ maxMsgSize: 4096, log });
  try {
    assert.ok(server.port > 0);
    assert.equal(server.url, `ws://127.0.0.1:${server.port}/ws`);
    const client = await RawClient.connect(server.url);
    const reply = await client.hello();
    assert.equal(reply.id, "system:c0:0");
    const result = reply.result as { clientID: string; maxMsgSize: number };
    assert.match(result.clientID, /^c[0-9a-f]{32}$/);
    assert.equal(result.maxMsgSize, 4096);
    assert.deepEqual(server.clients.map((c) => [c.id, c.authenticated]), [[result.clientID, true]]);
    await client.close();
  } finally {
    await server.close();
  }
});

test("plain HTTP requests get 404 off the path and 426 on it", async () => {
  const { log } = collectingLogger();
  const server = await serve({ path: "/socket", log });
  try {
    const other = await fetch(`http://127.0.0.1:${server.port}/elsewhere`);
    await other.text();
    assert.equal(other.status, 404);
    const plain = await fetch(`http://127.0.0.1:${server.port}/socket`);
    await plain.text();
    assert.equal(plain.status, 426);
  } finally {
    await server.close();
  }
});

test("detectRuntime() names the runtime the tests run on", () => {
  const expected = process.env.TRAME_WIRE_TEST_RUNTIME;
  if (expected !== undefined) assert.equal(detectRuntime(), expected);
  else assert.ok(["deno", "bun", "node"].includes(detectRuntime()));
});
