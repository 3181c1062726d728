// Short, bounded load runs against the embedded server (serve({port: 0})): the counts match what
// the server handled, the percentiles bound a known delay, the timeline adds up to the totals,
// and waitFor, expectPublish, the state round trip and launcher mode (a launcher stand-in
// answering 503, then a sessionURL) measure what they say.
import { test } from "node:test";
import assert from "node:assert/strict";
import { serve, type TrameServer } from "../../src/server/mod.ts";
import { runLoad } from "../../src/load/run.ts";
import { checkThresholds, parseThresholds } from "../../src/load/thresholds.ts";
import { launcherReply, within, withLauncher } from "../_support.ts";
import { waitFor } from "../trame/_client_support.ts";

const DELAY_MS = 15;

// A server whose application.exit requests are only noted (launcher mode asks for them).
async function quietServer(exits: number[] = []): Promise<TrameServer> {
  return await serve({ port: 0, log: () => {}, onExit: ({ seconds }) => exits.push(seconds) });
}

test("a bounded run: every call the server handled is counted once, percentiles bound its delay", async () => {
  await using server = await quietServer();
  let slowCalls = 0;
  let addCalls = 0;
  server.trigger("slow", async () => {
    slowCalls++;
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
    return "ok";
  });
  server.register("add", ([a, b]) => {
    addCalls++;
    return (a as number) + (b as number);
  });
  const result = await within(
    runLoad({
      target: { url: server.url },
      scenario: {
        value: {
          name: "slow and add",
          steps: [{ trigger: "slow", expect: "ok" }, { call: "add", args: [1, 2], expect: 3 }],
        },
        source: "inline",
      },
      users: 4,
      rampMs: 200,
      durationMs: 1500,
      workers: 2,
    }),
    30_000,
    "the load run",
  );
  assert.deepEqual(result.errors, {});
  assert.equal(result.workers, 2);
  const trigger = result.metrics.trigger!;
  const call = result.metrics.call!;
  assert.equal(trigger.count, slowCalls);
  assert.equal(call.count, addCalls);
  assert.ok(slowCalls > 4, `only ${slowCalls} slow calls`);
  assert.equal(result.totals.actions, slowCalls + addCalls);
  assert.ok(result.totals.iterations <= slowCalls && result.totals.iterations >= addCalls - 4);
  // Every trigger took the server's delay at least; the figures are in order.
  assert.ok(trigger.min >= DELAY_MS - 1, `min ${trigger.min}`);
  assert.ok(trigger.p50 >= DELAY_MS - 1);
  const figures = [trigger.min, trigger.p50, trigger.p90, trigger.p99, trigger.p999, trigger.max];
  assert.deepEqual([...figures].sort((a, b) => a - b), figures);
  assert.ok(trigger.mean >= trigger.min && trigger.mean <= trigger.max);
  // Each user connected once, and the state was loaded after the socket opened.
  assert.equal(result.metrics.connect!.count, 4);
  assert.equal(result.metrics.initial_state!.count, 4);
  assert.ok(result.metrics.initial_state!.min >= result.metrics.connect!.min);
  assert.equal(result.totals.peakConnected, 4);
  // The timeline covers the run and adds up to the totals.
  assert.ok(
    result.timeline.length >= 2 && result.timeline.length <= 4,
    `${result.timeline.length} s`,
  );
  result.timeline.forEach((second, index) => assert.equal(second.second, index));
  const sum = (pick: (second: (typeof result.timeline)[number]) => number) =>
    result.timeline.reduce((total, second) => total + pick(second), 0);
  assert.equal(sum((second) => second.actions), result.totals.actions);
  assert.equal(sum((second) => second.latency.trigger?.count ?? 0), trigger.count);
  assert.equal(sum((second) => second.iterations), result.totals.iterations);
  assert.ok(result.generator.cpuSeconds > 0);
  assert.ok(result.timeline.some((second) => second.cpuPercent !== null));
  // No user is left connected (the server sees the last sockets close shortly after).
  await waitFor(() => server.clients.length === 0, 5000, "every socket closed");
});

test("waitFor, expectPublish and the state round trip between users of one thread", async () => {
  await using server = await quietServer();
  let announcements = 0;
  server.trigger("announce", (_args, _kwargs, client) => {
    announcements++;
    server.publish("news", { from: client.id });
    return null;
  });
  server.trigger("bump", () => {
    server.state.set("bumps", ((server.state.get("bumps") as number | undefined) ?? 0) + 1);
    return null;
  });
  const result = await runLoad({
    target: { url: server.url },
    scenario: {
      value: {
        steps: [
          { set: { "ping_{{user}}": "{{iteration}}" }, roundTrip: true },
          { subscribe: "news" },
          { trigger: "announce" },
          { expectPublish: "news", timeout: "5s" },
          { trigger: "bump" },
          { waitFor: "bumps", greaterThan: 0, timeout: "5s" },
          { think: { min: "20ms", max: "40ms" } },
        ],
      },
      source: "inline",
    },
    users: 2,
    rampMs: 0,
    durationMs: 1500,
    workers: 1,
  });
  assert.deepEqual(result.errors, {});
  for (const metric of ["set", "state_round_trip", "publish", "wait_for", "trigger"] as const) {
    assert.ok((result.metrics[metric]?.count ?? 0) > 0, `no ${metric} samples`);
  }
  assert.ok(result.metrics.publish!.count <= announcements);
  // A round trip is a set seen by the other user: never more than the sets.
  assert.ok(result.metrics.state_round_trip!.count <= result.metrics.set!.count);
  // Each user's key reached the server with its last value.
  assert.equal(typeof server.state.get("ping_0"), "number");
  assert.equal(typeof server.state.get("ping_1"), "number");
});

test("failures are counted by kind, with their first message, and thresholds judge the run", async () => {
  await using server = await quietServer();
  server.trigger("fail", () => {
    throw new Error("refused on purpose");
  });
  server.register("echo", (args) => args);
  const result = await runLoad({
    target: { url: server.url },
    scenario: {
      value: {
        steps: [
          { call: "echo", args: [1] },
          { trigger: "fail" },
          { waitFor: "never", exists: true, timeout: "50ms" },
        ],
      },
      source: "inline",
    },
    users: 1,
    rampMs: 0,
    durationMs: 1200,
    workers: 0,
  });
  // The failing step ends the pass, and the user waits a second before the next one.
  assert.deepEqual(Object.keys(result.errors), ["trigger.server-error"]);
  assert.ok(result.errors["trigger.server-error"].count >= 1);
  assert.match(result.errors["trigger.server-error"].message, /refused on purpose/);
  assert.equal(result.totals.errors, result.errors["trigger.server-error"].count);
  const outcomes = checkThresholds(
    parseThresholds(new Map([["max-errors", "0"], ["max-p99", "call=10s,trigger=1s"]])),
    result,
  );
  // A failed step has no latency: its errors count instead.
  assert.deepEqual(outcomes.map((outcome) => [outcome.rule, outcome.ok]), [
    ["p99 call <= 10.00 s", true],
    ["p99 trigger <= 1.00 s", false], // no samples: nothing shows it was met
    ["errors <= 0", false],
  ]);
  assert.equal(outcomes[1].actual, "no samples");
});

test("launcher mode: 503 replies counted as busy, each user launched, connected and asked to exit", async () => {
  const exits: number[] = [];
  await using server = await quietServer(exits);
  server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
  const busy = launcherReply(503, { error: "All the resources are currently taken" });
  const ready = launcherReply(200, { sessionURL: server.url, secret: "wslink-secret", id: "s" });
  await withLauncher([busy, busy, ready], async (url, requests) => {
    const result = await runLoad({
      target: { launcher: url, launchBody: { application: "cone" } },
      scenario: {
        value: { steps: [{ trigger: "add", args: [1, 2], expect: 3 }, { think: "50ms" }] },
        source: "inline",
      },
      users: 2,
      rampMs: 0,
      durationMs: 2500,
      workers: 1,
    });
    assert.equal(result.totals.busy, 2);
    assert.deepEqual(result.errors, {});
    assert.equal(result.metrics.launch!.count, 2);
    assert.equal(result.metrics.connect!.count, 2);
    assert.ok(result.metrics.connect!.min >= result.metrics.launch!.min);
    assert.ok(result.metrics.trigger!.count > 0);
    assert.equal(requests.length, 4);
    for (const request of requests) {
      assert.equal((request as { application?: string }).application, "cone");
    }
    await waitFor(() => exits.length === 2, 5000, "both exit requests");
    assert.deepEqual(exits, [0, 0]);
    assert.deepEqual(result.target, { launcher: url });
    const [busyRule] = checkThresholds(parseThresholds(new Map([["max-busy", "1"]])), result);
    assert.deepEqual(busyRule, { rule: "busy <= 1", actual: "2", ok: false });
  });
});
