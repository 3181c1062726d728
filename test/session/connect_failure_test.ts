// Why a connection failed, over real sockets with the runtime's own WebSocket: a closed port and a
// server that answers the upgrade with HTTP 404. Every runtime says 404 (Deno and Bun in their
// error event's text, Node through undici's diagnostics channels, as its error event is empty);
// only Node says "refused" (`ECONNREFUSED`): Deno says `tcp connect error`, Bun `Failed to
// connect`, and the error carries those words.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { type WslinkError, WslinkSession } from "../../mod.ts";
import { currentRuntime } from "../../src/util/runtime.ts";
import { assertClientError } from "../reliability/_support.ts";

const runtime = currentRuntime();

// A port nothing listens on: one the system just handed out and took back.
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function dataOf(error: WslinkError): Record<string, unknown> {
  return error.data as Record<string, unknown>;
}

test("connect() to a closed port rejects with a typed error that says why, as far as the runtime does", async () => {
  const url = `ws://127.0.0.1:${await closedPort()}/ws`;
  const error = await WslinkSession.connect(url).then(
    () => assert.fail("connected to a closed port"),
    (error: unknown) => assertClientError(error, "closed"),
  );
  const data = dataOf(error);
  assert.equal(data.code, 1006);
  assert.equal(data.status, undefined);
  assert.match(error.message, /^cannot open the connection \(1006: /);
  if (runtime === "node") {
    assert.equal(data.errorCode, "ECONNREFUSED");
    assert.match(error.message, /connection refused \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
  } else if (runtime === "deno") {
    assert.match(error.message, /tcp connect error/);
  } else {
    assert.match(error.message, /Failed to connect/);
  }
  assert.equal(data.reason, error.message.replace(/^cannot open the connection \(1006: |\)$/g, ""));
});

test("connect() to a path the server answers with 404 rejects with data.status 404 on every runtime", async () => {
  const server = createServer((_, response) => {
    response.writeHead(404, { "content-type": "text/plain", connection: "close" });
    response.end("no such page");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const error = await WslinkSession.connect(`ws://127.0.0.1:${port}/nope`).then(
      () => assert.fail("connected to a 404"),
      (error: unknown) => assertClientError(error, "closed"),
    );
    assert.equal(dataOf(error).status, 404);
    assert.equal(dataOf(error).errorCode, undefined);
    assert.match(error.message, /the server answered HTTP 404\b.* not a WebSocket upgrade/);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
