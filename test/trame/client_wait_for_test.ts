// client.state.waitFor(): trame answers a trigger before it publishes the state the trigger
// changed, so a program that acts on the reply waits for the state to catch up. Against the
// embedded server, whose triggers here change the state after they answered, as trame's do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TrameClient } from "../../mod.ts";
import { assertClientError } from "../reliability/_support.ts";
import { withTimerCensus } from "../_support.ts";
import { quietServer, waitFor } from "./_client_support.ts";

type Counter = { counter: number };

// A server whose `bump` answers the next counter value and sets it 30 ms later.
async function bumpingServer() {
  const { server } = await quietServer({ state: { counter: 7 } });
  server.trigger("bump", () => {
    const next = (server.state.get("counter") as number) + 1;
    setTimeout(() => server.state.set("counter", next), 30);
    return next;
  });
  return server;
}

test("the reply to a trigger can come before the state it changed; waitFor() waits for it", async () => {
  const server = await bumpingServer();
  const client = new TrameClient<Counter>(server.url);
  try {
    await client.connect();
    const counter = await client.trigger<number>("bump");
    assert.equal(counter, 8);
    assert.equal(client.state.get("counter"), 7, "the reply came first");
    const value = await client.state.waitFor("counter", (value) => value === counter, {
      timeout: 5_000,
    });
    assert.equal(value, 8);
    assert.equal(client.state.get("counter"), 8);
    // A predicate that already holds resolves at once, with the current value.
    assert.equal(await client.state.waitFor("counter", (value) => value > 0), 8);
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("waitFor() sees changes made here too", async () => {
  const server = await bumpingServer();
  const client = new TrameClient<Counter>(server.url);
  try {
    await client.connect();
    const waiting = client.state.waitFor("counter", (value) => value === 100);
    client.state.set("counter", 100);
    assert.equal(await waiting, 100);
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("waitFor() rejects on its timeout, its signal, a throwing predicate and disconnect(), leaving no timer", async () => {
  const server = await bumpingServer();
  try {
    await withTimerCensus(async (live) => {
      const client = new TrameClient<Counter>(server.url);
      await client.connect();
      const never = (value: number) => value < 0;
      const started = performance.now();
      await assert.rejects(client.state.waitFor("counter", never, { timeout: 50 }), (error) => {
        assertClientError(error, "timeout");
        return /waiting for counter/.test((error as Error).message);
      });
      assert.ok(performance.now() - started >= 45);

      const controller = new AbortController();
      const aborted = client.state.waitFor("counter", never, { signal: controller.signal });
      controller.abort("enough");
      await assert.rejects(aborted, (error) => {
        assertClientError(error, "aborted");
        return true;
      });
      await assert.rejects(
        client.state.waitFor("counter", never, { signal: AbortSignal.abort() }),
        (error) => assertClientError(error, "aborted") !== undefined,
      );

      const broken = new Error("predicate bug");
      const throwing = client.state.waitFor("counter", (value) => {
        if (value === 8) throw broken;
        return false;
      });
      await client.trigger("bump");
      await assert.rejects(throwing, broken);

      const pending = client.state.waitFor("counter", never, { timeout: 60_000 });
      assert.ok(live() >= 1, "the census sees the wait's timer");
      await client.disconnect();
      await assert.rejects(pending, (error) => assertClientError(error, "closed") !== undefined);
      await assert.rejects(client.state.waitFor("counter", never, { timeout: -1 }), RangeError);
      await waitFor(() => live() === 0, 3_000, "every timer fired or cleared");
    });
  } finally {
    await server.close();
  }
});
