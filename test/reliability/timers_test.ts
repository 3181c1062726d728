// "A dropped connection rejects everything pending at once and leaves no timer behind", over real
// sockets to the embedded server, counted on every runtime through wrapped timer functions (a
// leaked timer fails no test by itself on Deno, and Bun and Node only notice one that keeps the
// process alive). Each test first checks that the census sees the timers it is about.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TrameClient, WslinkSession } from "../../mod.ts";
import type { TrameServer } from "../../src/server/mod.ts";
import { quietServer, waitFor, within } from "../trame/_client_support.ts";
import { recordingWire, withTimerCensus } from "../_support.ts";
import { assertClientError, noUnhandledRejections } from "./_support.ts";

// Runs `body` with unhandled rejections watched and timers counted.
function counted(body: (live: () => number) => Promise<void>): Promise<void> {
  return noUnhandledRejections(() => withTimerCensus(body));
}

// Calls that never get an answer: 20 with their own timeout, 20 with the session's, and one with
// a timeout and a signal. Returns their outcomes, watched from the start.
function unansweredCalls(session: WslinkSession): Promise<PromiseSettledResult<unknown>[]> {
  return Promise.allSettled([
    ...Array.from(
      { length: 20 },
      (_, index) => session.call("never", [index], {}, { timeout: 60_000 }),
    ),
    ...Array.from({ length: 20 }, (_, index) => session.call("never", [index])),
    session.call("never", [], {}, { timeout: 60_000, signal: new AbortController().signal }),
  ]);
}

async function assertAllClosed(outcomes: Promise<PromiseSettledResult<unknown>[]>): Promise<void> {
  for (const outcome of await within(outcomes, 3_000, "the calls settle")) {
    assert.equal(outcome.status, "rejected");
    assertClientError((outcome as PromiseRejectedResult).reason, "closed");
  }
}

// The two ways a connection ends under the calls: the server drops it, or the session closes.
const endings: [string, (server: TrameServer, session: WslinkSession) => Promise<void>][] = [
  ["the server dropping", async (server) => {
    await waitFor(() => server.clients.length === 1, 2_000, "the server knowing the client");
    server.clients[0].close(4000, "dropped");
  }],
  ["closing", (_, session) => session.close()],
];

for (const [ending, end] of endings) {
  test(`${ending} a session with calls under timeouts leaves no timer`, async () => {
    await counted(async (live) => {
      const { server } = await quietServer();
      server.register("never", () => new Promise(() => {}));
      try {
        const session = await WslinkSession.connect(server.url, { callTimeout: 45_000 });
        const calls = unansweredCalls(session);
        assert.ok(live() >= 41, `the census sees the calls' timers: ${live()}`);
        await end(server, session);
        await assertAllClosed(calls);
        assert.equal(session.closed, true);
        // Both ends are done with the connection: nothing of it may still be armed.
        await waitFor(() => live() === 0, 2_000, "every timer fired or cleared");
      } finally {
        await server.close();
      }
      assert.equal(live(), 0);
    });
  });
}

test("a connection dropped while an upload waits on bufferedAmount leaves no timer", async () => {
  await counted(async (live) => {
    const { server } = await quietServer({ maxMsgSize: 64 * 1024 });
    server.register("never", () => new Promise(() => {}));
    try {
      const wire = recordingWire();
      const session = await WslinkSession.connect(server.url, {
        WebSocket: wire.WebSocket,
        sendHighWaterMark: 64 * 1024,
      });
      // 64 MiB that go out a frame at a time, each waiting (polling) for the previous to drain.
      const upload = Promise.allSettled([
        session.call("never", [new Uint8Array(64 * 1024 * 1024)], {}, { timeout: 60_000 }),
      ]);
      await waitFor(() => wire.sentSizes.length > 10, 5_000, "the upload under way");
      await waitFor(() => server.clients.length === 1, 2_000, "the server knowing the client");
      server.clients[0].close(4000, "dropped");
      await assertAllClosed(upload);
      // Frames handed to a socket that is closing count as sent: Node's discards them and reads
      // bufferedAmount 0, so a sender that kept going would run through the upload at once.
      const sent = wire.sentSizes.length;
      assert.ok(sent < 1000, `the upload stopped (${sent} frames sent)`);
      await waitFor(() => live() === 0, 2_000, "every timer fired or cleared");
      assert.equal(wire.sentSizes.length, sent, "nothing more was sent");
    } finally {
      await server.close();
    }
  });
});

test("a TrameClient whose server goes away, mid-calls and waiting to reconnect, leaves no timer", async () => {
  await counted(async (live) => {
    const { server } = await quietServer();
    server.trigger("never", () => new Promise(() => {}));
    const client = new TrameClient(server.url, {
      session: { callTimeout: 45_000 },
      reconnect: { initialDelay: 60_000, retries: 3 },
    });
    try {
      await client.connect();
      const calls = Promise.allSettled(Array.from({ length: 10 }, () => client.trigger("never")));
      const reconnecting = new Promise<void>((resolve) =>
        client.on("reconnecting", () => resolve())
      );
      assert.ok(live() >= 10, `the census sees the calls' timers: ${live()}`);
      await server.close();
      await assertAllClosed(calls);
      await within(reconnecting, 3_000, "the client waiting to reconnect");
      // Only the reconnect wait is left; disconnect() ends it.
      await waitFor(() => live() === 1, 2_000, "only the reconnect timer left");
      await client.disconnect();
      assert.equal(live(), 0);
    } finally {
      await client.disconnect();
      await server.close();
    }
  });
});
