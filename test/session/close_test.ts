// Closing against a server that never completes the closing handshake (as a trame server busy in
// a handler): close() resolves after closeTimeout, pending calls reject at once, the connection
// is dropped, no timer is left, and a program that closed exits by itself; `await using` on a
// TrameClient is as prompt and prints nothing. What each runtime's WebSocket does on its own in
// that case is in the README ("Closing").
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { WslinkSession } from "../../mod.ts";
import { TRAME_METHODS } from "../../src/trame/protocol.ts";
import { explain, root, run } from "../publish/_support.ts";
import { waitFor } from "../trame/_client_support.ts";
import { withTimerCensus } from "../_support.ts";
import { assertClientError } from "../reliability/_support.ts";
import { deafServer } from "./_deaf_server.ts";

const isDeno = "Deno" in globalThis;

test("close() against a server that never answers it: prompt, calls rejected at once, socket dropped", async () => {
  const server = await deafServer();
  try {
    await withTimerCensus(async (live) => {
      const session = await WslinkSession.connect(server.url, { closeTimeout: 300 });
      let rejection: unknown;
      const call = session.call("never").catch((error) => (rejection = error));
      const started = performance.now();
      const closing = session.close();
      await new Promise((resolve) => setTimeout(resolve, 0));
      assertClientError(rejection, "closed");
      assert.equal(session.closed, true);
      await closing;
      const closeMs = performance.now() - started;
      await call;
      // It gave the server its closeTimeout to answer, and did not wait much longer.
      assert.ok(closeMs >= 250 && closeMs < 5_000, `close() took ${closeMs} ms`);
      assert.deepEqual(server.closeFrames, [1000], "the close frame went out first");
      await waitFor(() => server.dropped === 1, 5_000, "the server seeing the connection dropped");
      // Node's WebSocket (undici) keeps an unref'd timer of its own for about a second.
      await waitFor(() => live() === 0, 3_000, "every timer fired or cleared");
    });
  } finally {
    await server.close();
  }
});

test("close() with closeTimeout 0 drops the connection at once", async () => {
  const server = await deafServer();
  try {
    const session = await WslinkSession.connect(server.url, { closeTimeout: 0 });
    const started = performance.now();
    await session.close();
    assert.ok(performance.now() - started < 2_000, "close() did not wait for the server");
    await waitFor(() => server.dropped === 1, 5_000, "the server seeing the connection dropped");
    await assert.rejects(
      WslinkSession.connect(server.url, { closeTimeout: -1 }),
      /closeTimeout must be a number of milliseconds/,
    );
  } finally {
    await server.close();
  }
});

// Runs test/session/_close_program.ts on this runtime; kills it after `limit` ms.
function runProgram(mode: "session" | "trame", url: string, limit: number) {
  const program = "test/session/_close_program.ts";
  const args = isDeno ? ["run", "-A", program] : [program];
  return run(process.execPath, [...args, mode, url, "500"], { cwd: root, timeout: limit });
}

test("a program that closed a session whose server never answers the close exits by itself", async () => {
  const server = await deafServer();
  try {
    const started = performance.now();
    // Without dropping the connection, Node and Deno would wait for the server forever, Bun
    // about 36 s: the limit tells these apart from a process that exits at once.
    const result = await runProgram("session", server.url, 25_000);
    const ms = performance.now() - started;
    assert.equal(result.code, 0, explain(result));
    assert.equal(result.stderr, "", explain(result));
    const { closeMs, rejectedMs } = JSON.parse(result.stdout);
    assert.ok(rejectedMs >= 0 && rejectedMs < closeMs, `call rejected at ${rejectedMs} ms`);
    assert.ok(closeMs >= 450 && closeMs < 5_000, `close() took ${closeMs} ms`);
    assert.ok(ms < 20_000, `the program ran ${ms} ms`);
    assert.deepEqual(server.closeFrames, [1000]);
  } finally {
    await server.close();
  }
});

test("await using on a TrameClient whose server is busy for good: prompt, silent, and the program exits", async () => {
  const server = await deafServer({
    "wslink.hello": () => ({ clientID: "d2", maxMsgSize: 0 }),
    [TRAME_METHODS.stateGet]: () => ({ state: { counter: 1 } }),
    [TRAME_METHODS.lifecycleUpdate]: () => null,
  });
  try {
    const result = await runProgram("trame", server.url, 25_000);
    assert.equal(result.code, 0, explain(result));
    // No stack trace, no warning: nothing went wrong that the program did not ask for.
    assert.equal(result.stderr, "", explain(result));
    const { disposeMs } = JSON.parse(result.stdout);
    assert.ok(disposeMs >= 450 && disposeMs < 5_000, `disposal took ${disposeMs} ms`);
    // The goodbye went out (unanswered, as the server is busy), then the close frame.
    assert.equal(server.methods.at(-1), TRAME_METHODS.lifecycleUpdate);
    assert.deepEqual(server.closeFrames, [1000]);
  } finally {
    await server.close();
  }
});
