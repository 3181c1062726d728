// Issue 8, fault injection: a real server on 127.0.0.1 that misbehaves on purpose. Every pending
// promise settles with the right typed error within its timeout, no rejection goes unhandled, no
// timer of the session is left (counted through a wrapped setTimeout), and a TrameClient with
// reconnect on comes back after the server drops it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type SessionErrorEvent, WslinkSession } from "../../mod.ts";
import { TrameClient } from "../../src/trame/client.ts";
import { quietServer, waitFor, within } from "../trame/_client_support.ts";
import { hostileServer } from "./_hostile_server.ts";
import { assertClientError, noUnhandledRejections, withTimerCensus } from "./_support.ts";

// Runs `body` with unhandled rejections watched and the session's timers counted: when it is
// over (session closed), no timer created meanwhile may still be armed.
async function guarded(body: () => Promise<void>): Promise<void> {
  await noUnhandledRejections(() =>
    withTimerCensus(async (live) => {
      await body();
      await waitFor(() => live() === 0, 2_000, "every timer fired or cleared");
    })
  );
}

test("the server closes in the middle of a multi-frame message: the call rejects closed", async () => {
  await guarded(async () => {
    const server = await hostileServer((message, peer) => {
      const frames = peer.framesOf(
        { wslink: "1.0", id: message.id, result: "x".repeat(50_000) },
        1000,
      );
      for (const frame of frames.slice(0, frames.length >> 1)) peer.connection.send(frame);
      setTimeout(() => peer.connection.close(4000, "mid-message"), 20);
    });
    try {
      const session = await WslinkSession.connect(server.url);
      const progress: number[] = [];
      session.on("progress", (event) => progress.push(event.received));
      const closed = new Promise((resolve) => session.on("close", resolve));
      const error = await within(session.call("big").catch((e) => e), 3_000, "the call settles");
      assertClientError(error, "closed");
      assert.ok(progress.length > 5, "part of the message did arrive");
      await within(closed, 1_000, "close event");
      assert.equal(session.closed, true);
      await session.close();
    } finally {
      await server.close();
    }
  });
});

test("the server closes with 1,000 calls in flight: all 1,000 reject closed", async () => {
  await guarded(async () => {
    let count = 0;
    const server = await hostileServer((_message, peer) => {
      if (++count === 1_000) peer.connection.close(4001, "enough");
    });
    try {
      const session = await WslinkSession.connect(server.url);
      const calls = Array.from({ length: 1_000 }, (_, index) => session.call("sink", [index]));
      const outcomes = await within(Promise.allSettled(calls), 5_000, "1,000 calls settle");
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "rejected");
        const error = assertClientError((outcome as PromiseRejectedResult).reason, "closed");
        assert.equal((error.data as { code: number }).code, 4001);
      }
      assert.equal(server.received.length, 1_000);
      await session.close();
    } finally {
      await server.close();
    }
  });
});

test("the server never answers the hello: connect rejects with a timeout", async () => {
  await guarded(async () => {
    const server = await hostileServer(() => {}, { answerHello: false });
    try {
      const started = Date.now();
      const error = await within(
        WslinkSession.connect(server.url, { helloTimeout: 300 }).catch((e) => e),
        3_000,
        "connect settles",
      );
      assertClientError(error, "timeout");
      assert.ok(Date.now() - started >= 290, "not before its timeout");
    } finally {
      await server.close();
    }
  });
});

test("the server stops answering but keeps the socket open: calls time out, late replies drop", async () => {
  await guarded(async () => {
    const held: { id: unknown; peer: { reply(id: unknown, result: unknown): void } }[] = [];
    const server = await hostileServer((message, peer) => {
      if (message.method === "echo") peer.reply(message.id, message.args);
      else held.push({ id: message.id, peer });
    });
    try {
      const session = await WslinkSession.connect(server.url, { callTimeout: 200 });
      const errors: SessionErrorEvent[] = [];
      session.on("error", (event) => errors.push(event));
      const started = Date.now();
      const calls = Array.from({ length: 50 }, () => session.call("stuck"));
      for (const outcome of await within(Promise.allSettled(calls), 3_000, "calls settle")) {
        assertClientError((outcome as PromiseRejectedResult).reason, "timeout");
      }
      assert.ok(Date.now() - started >= 190);
      // The server wakes up: its late replies are dropped quietly, and the session works.
      for (const { id, peer } of held) peer.reply(id, "late");
      assert.deepEqual(await session.call("echo", [1]), [1]);
      assert.deepEqual(errors, []);
      await session.close();
    } finally {
      await server.close();
    }
  });
});

test("a reply sent twice: the call resolves once, the duplicate is an unknown-id event", async () => {
  await guarded(async () => {
    const server = await hostileServer((message, peer) => {
      peer.reply(message.id, message.args);
      peer.reply(message.id, "again");
    });
    try {
      const session = await WslinkSession.connect(server.url);
      const errors: SessionErrorEvent[] = [];
      session.on("error", (event) => errors.push(event));
      assert.deepEqual(await session.call("twice", [1]), [1]);
      assert.deepEqual(await session.call("twice", [2]), [2]);
      await waitFor(() => errors.length === 2, 2_000, "two error events");
      assert.deepEqual(errors.map((event) => event.kind), ["unknown-id", "unknown-id"]);
      await session.close();
    } finally {
      await server.close();
    }
  });
});

test("a publish on a topic nobody subscribed to is ignored, the session goes on", async () => {
  await guarded(async () => {
    const server = await hostileServer((message, peer) => {
      for (let index = 0; index < 100; index++) {
        peer.send({ wslink: "1.0", id: `publish:nobody.listens:${index}`, result: index });
      }
      peer.reply(message.id, "done");
    });
    try {
      const session = await WslinkSession.connect(server.url);
      const errors: SessionErrorEvent[] = [];
      session.on("error", (event) => errors.push(event));
      const seen: unknown[] = [];
      using _ = session.subscribe("other.topic", (payload) => seen.push(payload));
      assert.equal(await session.call("go"), "done");
      assert.deepEqual(seen, []);
      assert.deepEqual(errors, []);
      await session.close();
    } finally {
      await server.close();
    }
  });
});

test("a TrameClient with reconnect on comes back after the server drops it abruptly", async () => {
  await noUnhandledRejections(async () => {
    const { server } = await quietServer({ state: { a: 1 } });
    server.trigger("slow", () => new Promise(() => {}));
    const client = new TrameClient(server.url, {
      reconnect: { initialDelay: 20, maxDelay: 100, factor: 2, jitter: 0, retries: 20 },
    });
    try {
      await client.connect();
      let reconnected = 0;
      client.on("reconnected", () => reconnected++);
      const inFlight = Array.from({ length: 20 }, () => client.trigger("slow"));
      await waitFor(() => server.clients.length === 1, 2_000, "the client is known");
      for (const peer of server.clients) peer.close(1011, "abrupt");
      for (const outcome of await within(Promise.allSettled(inFlight), 3_000, "calls settle")) {
        assertClientError((outcome as PromiseRejectedResult).reason, "closed");
      }
      await waitFor(() => reconnected === 1, 5_000, "reconnected");
      assert.equal(client.status, "connected");
      assert.equal(client.state.get("a"), 1);
    } finally {
      await client.disconnect();
      await server.close();
    }
  });
});
