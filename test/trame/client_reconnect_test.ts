// TrameClient reconnecting after the server went away, and finding its server through a launcher.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  TrameClient,
  type TrameClientEventMap,
  type TrameClientStatus,
} from "../../src/trame/client.ts";
import { LauncherError } from "../../src/trame/launcher.ts";
import { WslinkError } from "../../src/session/errors.ts";
import type { TrameServer } from "../../src/server/mod.ts";
import { quietServer, recordUpdates, sleep, waitFor } from "./_client_support.ts";
import { launcherReply, withLauncher } from "../_support.ts";

// Every event of a client, in order, as [type, event].
function recordEvents(client: TrameClient): [string, unknown][] {
  const events: [string, unknown][] = [];
  const types: (keyof TrameClientEventMap)[] = [
    "status",
    "reconnecting",
    "reconnected",
    "gave-up",
    "error",
  ];
  for (const type of types) client.on(type, (event) => events.push([type, event]));
  return events;
}

function statusesOf(events: [string, unknown][]): TrameClientStatus[] {
  return events.filter(([type]) => type === "status").map(([, event]) =>
    (event as { status: TrameClientStatus }).status
  );
}

test("after the server restarts on the same port the client resyncs and sends offline changes", async () => {
  let { server } = await quietServer({ state: { a: 1, b: "before", c: "same" } });
  const port = server.port;
  const client = new TrameClient(server.url, {
    reconnect: { initialDelay: 20, maxDelay: 100, factor: 2, jitter: 0, retries: 50 },
  });
  const servers: TrameServer[] = [server];
  try {
    await client.connect();
    const events = recordEvents(client);
    const changes: { b: unknown; modified: string[] }[] = [];
    let cRuns = 0;
    client.state.onChange("b", (state) => {
      changes.push({ b: state.b, modified: [...client.state.modifiedKeys].sort() });
    });
    client.state.onChange("c", () => cRuns++);

    await server.close();
    await waitFor(() => events.some(([type]) => type === "reconnecting"), 3000, "reconnecting");
    assert.equal(client.status, "connecting");

    // Offline: the change is kept, and flush() says it is not delivered yet.
    client.state.set("a", 42);
    await assert.rejects(
      client.state.flush(),
      (error: unknown) => error instanceof WslinkError && error.code === -32099,
    );
    assert.equal(client.state.get("a"), 42);
    await assert.rejects(
      client.trigger("anything"),
      (error: unknown) => error instanceof WslinkError && error.code === -32099,
    );

    // A fresh server on the same port, whose state moved on meanwhile.
    ({ server } = await quietServer({ port, state: { a: 1, b: "before", c: "same" } }));
    servers.push(server);
    const updates = recordUpdates(server);
    server.state.set("b", "changed while away");
    server.state.flush();

    await waitFor(() => events.some(([type]) => type === "reconnected"), 5000, "reconnected");
    assert.equal(client.status, "connected");
    await client.state.flush();
    assert.equal(server.state.get("a"), 42, "the offline change reached the new server");
    assert.deepEqual(updates, [{ a: 42 }]);
    assert.equal(client.state.get("b"), "changed while away");
    assert.equal(client.state.get("a"), 42, "the reloaded state does not undo the local change");
    assert.deepEqual(changes, [{ b: "changed while away", modified: ["b"] }]);
    assert.equal(cRuns, 0, "unchanged keys run no listener");

    const reconnecting = events.filter(([type]) => type === "reconnecting").map(([, event]) =>
      event as TrameClientEventMap["reconnecting"]
    );
    assert.equal(reconnecting[0].attempt, 1);
    assert.equal(reconnecting[0].delay, 20);
    const reconnected = events.find(([type]) => type === "reconnected")![1] as {
      attempts: number;
    };
    assert.equal(reconnected.attempts, reconnecting.length);
    assert.deepEqual(statusesOf(events), ["connecting", "connected"]);

    // And it works both ways again.
    server.state.set("c", "after");
    server.state.flush();
    await waitFor(() => client.state.get("c") === "after", 3000, "c");
    client.state.set("b", "back");
    await client.state.flush();
    assert.equal(server.state.get("b"), "back");
  } finally {
    await client.disconnect();
    for (const each of servers) await each.close();
  }
});

test("the client gives up after the retry limit when no server comes back", async () => {
  const { server } = await quietServer();
  const client = new TrameClient(server.url, {
    reconnect: { initialDelay: 5, maxDelay: 10, retries: 3 },
  });
  try {
    await client.connect();
    const events = recordEvents(client);
    await server.close();
    await waitFor(() => events.some(([type]) => type === "gave-up"), 5000, "gave-up");
    assert.equal(client.status, "disconnected");
    const attempts = events.filter(([type]) => type === "reconnecting").map(([, event]) =>
      (event as { attempt: number }).attempt
    );
    assert.deepEqual(attempts, [1, 2, 3]);
    const gaveUp = events.find(([type]) => type === "gave-up")![1] as {
      attempts: number;
      error: unknown;
    };
    assert.equal(gaveUp.attempts, 3);
    assert.ok(gaveUp.error !== undefined);
    assert.deepEqual(statusesOf(events), ["connecting", "disconnected"]);
    await assert.rejects(
      client.trigger("x"),
      (error: unknown) => error instanceof WslinkError && error.code === -32099,
    );
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("disconnect() during the reconnect wait stops reconnecting and clears its timer", async () => {
  const delay = 321; // Recognisable among the timers.
  const { server } = await quietServer();
  const client = new TrameClient(server.url, {
    reconnect: { initialDelay: delay, maxDelay: delay, jitter: 0, retries: 5 },
  });
  // Watch the timers made with that delay: each must fire or be cleared.
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  const watched = new Set<unknown>();
  const cleared = new Set<unknown>();
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    const handle: unknown = realSetTimeout(() => {
      watched.delete(handle);
      fn();
    }, ms);
    if (ms === delay) watched.add(handle);
    return handle;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
    if (watched.delete(handle)) cleared.add(handle);
    realClearTimeout(handle);
  }) as typeof clearTimeout;
  try {
    await client.connect();
    const events = recordEvents(client);
    await server.close();
    await waitFor(() => events.some(([type]) => type === "reconnecting"), 3000, "reconnecting");
    assert.equal(watched.size, 1, "the reconnect wait is one timer");
    await client.disconnect();
    assert.equal(client.status, "disconnected");
    assert.equal(watched.size, 0, "no timer left");
    assert.equal(cleared.size, 1);
    const count = events.length;
    await sleep(delay + 100);
    assert.equal(events.length, count, "nothing happens after disconnect()");
    assert.equal(client.status, "disconnected");
  } finally {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
    await client.disconnect();
    await server.close();
  }
});

test("a config with sessionManagerURL asks the launcher and uses its sessionURL and secret", async () => {
  const { server } = await quietServer({ secret: "one-time", state: { app: "cone" } });
  try {
    await withLauncher(
      [launcherReply(200, { sessionURL: server.url, secret: "one-time" })],
      async (url, requests) => {
        const client = new TrameClient({ sessionManagerURL: url, application: "cone" });
        try {
          await client.connect();
          assert.equal(client.status, "connected");
          assert.equal(client.state.get("app"), "cone");
          assert.deepEqual(requests, [{ sessionManagerURL: url, application: "cone" }]);
        } finally {
          await client.disconnect();
        }
      },
    );
  } finally {
    await server.close();
  }
});

test("the launcher is asked again after HTTP 503, with the configured delays", async () => {
  const { server } = await quietServer({ state: { ready: true } });
  try {
    await withLauncher(
      [launcherReply(503, { busy: true }), launcherReply(200, { sessionURL: server.url })],
      async (url, requests) => {
        const client = new TrameClient({ sessionManagerURL: url }, {
          launcher: { retryDelays: [10, 10] },
        });
        try {
          await client.connect();
          assert.equal(client.state.get("ready"), true);
          assert.equal(requests.length, 2);
        } finally {
          await client.disconnect();
        }
      },
    );
  } finally {
    await server.close();
  }
});

test("a launcher failure makes connect() reject with a LauncherError", async () => {
  await withLauncher([launcherReply(500, "no such application")], async (url, requests) => {
    const client = new TrameClient({ sessionManagerURL: url }, {
      launcher: { retryDelays: [10] },
    });
    const statuses: TrameClientStatus[] = [];
    client.on("status", ({ status }) => statuses.push(status));
    try {
      const error = await client.connect().then(
        () => assert.fail("connect() must reject"),
        (error: unknown) => error,
      );
      assert.ok(error instanceof LauncherError);
      assert.equal(error.status, 500);
      assert.equal(error.url, url);
      assert.match(error.message, /HTTP 500/);
      assert.equal(requests.length, 1, "only 503 is retried");
      assert.equal(client.status, "disconnected");
      assert.deepEqual(statuses, ["connecting", "disconnected"]);
    } finally {
      await client.disconnect();
    }
  });
});
