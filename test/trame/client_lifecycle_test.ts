// README promises about a TrameClient's lifetime: `await using` disconnects it, and reconnect
// waits grow by the factor up to maxDelay with random jitter, as observed in real time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TrameClient, type TrameClientEventMap, type WslinkSession } from "../../mod.ts";
import { quietServer, waitFor, within } from "./_client_support.ts";

test("await using disconnects a TrameClient at the end of its block, telling the server", async () => {
  const { server } = await quietServer({ state: { counter: 1 } });
  const phases: string[] = [];
  server.on("lifecycle", (phase) => phases.push(phase));
  try {
    let outside: { client: TrameClient<{ counter: number }>; session: WslinkSession } | undefined;
    {
      await using client = new TrameClient<{ counter: number }>(server.url);
      await client.connect();
      outside = { client, session: client.session };
      assert.equal(client.state.get("counter"), 1);
      assert.equal(client.status, "connected");
      assert.equal(server.clients.length, 1);
    }
    assert.equal(outside.client.status, "disconnected");
    assert.equal(outside.session.closed, true);
    await waitFor(() => server.clients.length === 0, 5_000, "the server seeing the client leave");
    assert.deepEqual(phases, ["client_connected", "client_exited"]);
  } finally {
    await server.close();
  }
});

test("reconnect waits grow by the factor up to maxDelay, each cut at random by up to jitter", async () => {
  const { server } = await quietServer();
  const options = { initialDelay: 40, factor: 2, maxDelay: 160, jitter: 0.5, retries: 6 };
  const client = new TrameClient(server.url, { reconnect: options });
  const waits: (TrameClientEventMap["reconnecting"] & { at: number })[] = [];
  client.on("reconnecting", (event) => waits.push({ ...event, at: performance.now() }));
  let gaveUpAt = 0;
  const gaveUp = new Promise<void>((resolve) =>
    client.on("gave-up", () => {
      gaveUpAt = performance.now();
      resolve();
    })
  );
  try {
    await client.connect();
    await server.close(); // and nobody comes back: every attempt is refused at once
    await within(gaveUp, 10_000, "the client giving up");
    assert.deepEqual(waits.map((wait) => wait.attempt), [1, 2, 3, 4, 5, 6]);
    const bases = [40, 80, 160, 160, 160, 160];
    waits.forEach((wait, index) => {
      const base = bases[index];
      assert.ok(
        wait.delay >= base * (1 - options.jitter) && wait.delay <= base,
        `attempt ${wait.attempt}: ${wait.delay} ms, base ${base} ms`,
      );
      // The client really waited that long before the attempt (which then failed at once).
      const next = waits[index + 1]?.at ?? gaveUpAt;
      assert.ok(next - wait.at >= wait.delay - 2, `attempt ${wait.attempt} came early`);
    });
    // Jitter: not every wait is its base (the chance of that here is below 1 in 10^12).
    assert.ok(waits.some((wait, index) => wait.delay !== bases[index]), "no jitter seen");
    assert.equal(client.status, "disconnected");
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("reconnect: true starts at 250 ms, jittered by up to half", async () => {
  const { server } = await quietServer();
  const client = new TrameClient(server.url, { reconnect: true });
  const first = new Promise<TrameClientEventMap["reconnecting"]>((resolve) =>
    client.on("reconnecting", resolve)
  );
  try {
    await client.connect();
    await server.close();
    const { attempt, delay } = await within(first, 5_000, "the first reconnect wait");
    assert.equal(attempt, 1);
    assert.ok(delay >= 125 && delay <= 250, `${delay} ms`);
  } finally {
    await client.disconnect();
  }
});
