// A TrameClient's time limits and cancellation: connect() against a server that answers the hello
// and then nothing (its own time limit, its signal, disconnect() meanwhile), triggers with
// `{ timeout, signal }`, and what an `error` event nobody listens to prints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TrameClient } from "../../mod.ts";
import { TRAME_METHODS } from "../../src/trame/protocol.ts";
import { hostileServer } from "../reliability/_hostile_server.ts";
import { assertClientError } from "../reliability/_support.ts";
import { deafServer } from "../session/_deaf_server.ts";
import { withTimerCensus } from "../_support.ts";
import { quietServer, waitFor, within } from "./_client_support.ts";

// A server that answers the hello and never anything else (trame.state.get included).
function silentAfterHello() {
  return hostileServer(() => {});
}

test("connect() gives up after its timeout when trame.state.get gets no answer", async () => {
  const server = await silentAfterHello();
  try {
    await withTimerCensus(async (live) => {
      const client = new TrameClient(server.url);
      const started = performance.now();
      // Long enough for the hello even on a loaded machine: the wait that times out is the state's.
      const error = await client.connect({ timeout: 1_500 }).then(
        () => assert.fail("connected"),
        (error: unknown) => assertClientError(error, "timeout"),
      );
      const ms = performance.now() - started;
      assert.ok(ms >= 1_450 && ms < 6_000, `connect() took ${ms} ms`);
      assert.match(error.message, /got no answer within 1500 ms \(waiting for trame\.state\.get\)/);
      assert.deepEqual(error.data, { kind: "timeout", timeout: 1_500 });
      assert.equal(client.status, "disconnected");
      assert.deepEqual(server.received.map((message) => message.method), [
        TRAME_METHODS.stateGet,
      ]);
      await waitFor(() => live() === 0, 3_000, "every timer fired or cleared");
    });
  } finally {
    await server.close();
  }
});

test("connectTimeout sets the limit of connect(); bad values are refused", async () => {
  const server = await silentAfterHello();
  try {
    const client = new TrameClient(server.url, { connectTimeout: 200 });
    await assert.rejects(client.connect(), (error) => {
      assertClientError(error, "timeout");
      return /200 ms/.test((error as Error).message);
    });
    assert.throws(() => new TrameClient(server.url, { connectTimeout: -1 }), RangeError);
    await assert.rejects(client.connect({ timeout: Number.NaN }), RangeError);
  } finally {
    await server.close();
  }
});

test("connectTimeout also bounds each reconnect attempt", async () => {
  // The first connection is served, then dropped; the later ones get the hello and no more.
  const server = await hostileServer((message, peer) => {
    if (server.connections > 1) return;
    if (message.method === TRAME_METHODS.stateGet) peer.reply(message.id, { state: {} });
    if (message.method === TRAME_METHODS.lifecycleUpdate) {
      peer.reply(message.id, null);
      setTimeout(() => peer.connection.close(4000, "dropped"), 20);
    }
  });
  const client = new TrameClient(server.url, {
    connectTimeout: 200,
    reconnect: { retries: 2, initialDelay: 10, maxDelay: 10 },
  });
  try {
    const gaveUp = new Promise<unknown>((resolve) =>
      client.on("gave-up", ({ error }) => resolve(error))
    );
    await client.connect();
    const error = await within(gaveUp, 10_000, "the reconnect attempts giving up");
    assertClientError(error, "timeout");
    assert.equal(server.connections, 3);
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("connect() rejects at once when its signal aborts, and when disconnect() is called meanwhile", async () => {
  const server = await silentAfterHello();
  try {
    const client = new TrameClient(server.url);
    const controller = new AbortController();
    const connecting = client.connect({ signal: controller.signal, timeout: 0 });
    await waitFor(() => server.received.length === 1, 5_000, "the state request");
    controller.abort(new Error("the user left"));
    const aborted = await connecting.then(
      () => assert.fail("connected"),
      (error: unknown) => assertClientError(error, "aborted"),
    );
    assert.equal((aborted.data as { reason: Error }).reason.message, "the user left");
    assert.equal(client.status, "disconnected");
    await assert.rejects(client.connect({ signal: AbortSignal.abort() }), (error) => {
      assertClientError(error, "aborted");
      return true;
    });

    const again = client.connect({ timeout: 0 });
    await waitFor(() => server.received.length === 2, 5_000, "the second state request");
    const started = performance.now();
    await client.disconnect();
    await assert.rejects(again, (error) => {
      assertClientError(error, "closed");
      return /disconnected while connecting/.test((error as Error).message);
    });
    assert.ok(performance.now() - started < 3_000, "disconnect() cut the attempt short");
  } finally {
    await server.close();
  }
});

test("trigger() takes { timeout, signal } like session.call", async () => {
  const { server } = await quietServer();
  server.trigger("never", () => new Promise(() => {}));
  server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
  const client = new TrameClient(server.url);
  try {
    await client.connect();
    assert.equal(await client.trigger("add", [1, 2], {}, { timeout: 5_000 }), 3);
    // The server runs one call at a time per client, as trame does: "never" is the last one.
    await assert.rejects(client.trigger("never", [], {}, { timeout: 50 }), (error) => {
      assertClientError(error, "timeout");
      return true;
    });
    const controller = new AbortController();
    const aborted = client.trigger("never", [], {}, { signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, (error) => {
      assertClientError(error, "aborted");
      return true;
    });
  } finally {
    await client.disconnect();
    await server.close();
  }
});

// Runs `body` with console.error recorded instead of printed.
async function recordingConsoleErrors(body: (lines: unknown[][]) => Promise<void>): Promise<void> {
  const lines: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args);
  try {
    await body(lines);
  } finally {
    console.error = original;
  }
}

test("an error event nobody listens to prints one line for a failed call, the error itself for a listener's", async () => {
  // Busy for good once asked to exit: the exit request gets no answer.
  const server = await deafServer({
    "wslink.hello": () => ({ clientID: "d3", maxMsgSize: 0 }),
    [TRAME_METHODS.stateGet]: () => ({ state: { counter: 1 } }),
    [TRAME_METHODS.lifecycleUpdate]: () => null,
  });
  try {
    await recordingConsoleErrors(async (lines) => {
      const client = new TrameClient<{ counter: number }>(server.url, {
        session: { closeTimeout: 200 },
      });
      await client.connect();
      const thrown = new Error("a listener's bug");
      client.on("status", () => {
        throw thrown;
      });
      await client.disconnect({ exitServerAfter: 0 });
      assert.deepEqual(lines, [
        [
          "trame-wire: disconnect: the call of application.exit.later got no reply within 200 ms",
        ],
        ["trame-wire: status listener:", thrown],
      ]);
    });
  } finally {
    await server.close();
  }
});
