// `trame-wire load` as a user runs it, in a subprocess of the runtime running this test: the
// exit code follows the thresholds, --json and --html write their files, and mistakes get one
// clear line and their documented exit code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { serve } from "../../src/server/mod.ts";
import { THRESHOLDS_FAILED_EXIT } from "../../src/load/command.ts";
import { EXIT_CODES } from "../../src/cli/failures.ts";
import { explain, type Run, run } from "../publish/_support.ts";

const runtimeArgs = "Deno" in globalThis ? ["run", "-A", "src/cli/main.ts"] : ["src/cli/main.ts"];

function load(args: string[]): Promise<Run> {
  return run(process.execPath, [...runtimeArgs, "load", ...args], { timeout: 60_000 });
}

// Every trigger takes at least this long on the server, so a lower p99 bound cannot be met.
const DELAY_MS = 30;
const SCENARIO = { name: "slow add", steps: [{ trigger: "slow_add", args: [1, 2], expect: 3 }] };

async function withFolder(body: (folder: string) => Promise<void>): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), "trame-wire-load-"));
  try {
    await body(folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

test("thresholds decide the exit code; --json and --html write the results", async () => {
  await using server = await serve({ port: 0, log: () => {} });
  let calls = 0;
  server.trigger("slow_add", async (args) => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
    return (args as number[]).reduce((sum, value) => sum + value, 0);
  });
  await withFolder(async (folder) => {
    const scenario = join(folder, "scenario.json");
    writeFileSync(scenario, JSON.stringify(SCENARIO));
    const json = join(folder, "result.json");
    const html = join(folder, "report.html");
    const common = [server.url, "--users", "2", "--duration", "1.5", "--workers", "1"];
    const failing = await load([
      ...common,
      "--scenario",
      scenario,
      "--json",
      json,
      "--html",
      html,
      "--max-p99",
      "trigger=5ms",
      "--max-errors",
      "0",
    ]);
    assert.equal(failing.code, THRESHOLDS_FAILED_EXIT, explain(failing));
    assert.match(failing.stderr, /^trame-wire: 1 threshold not met: p99 trigger <= 5\.00 ms \(\d/);
    assert.doesNotMatch(failing.stderr, /\n\s+at /);
    assert.match(failing.stdout, /^metric\s+count\s+mean\s+p50\s+p90\s+p99\s+p99\.9\s+max$/m);
    assert.match(failing.stdout, /^trigger\s+[\d,]+\s/m);
    assert.match(failing.stdout, /^\s+FAIL\s+p99 trigger <= 5\.00 ms/m);
    assert.match(failing.stdout, /^\s+ok\s+errors <= 0\s+\(0\)$/m);
    const result = JSON.parse(readFileSync(json, "utf8"));
    assert.equal(result.metrics.trigger.count, calls);
    assert.ok(result.metrics.trigger.min >= DELAY_MS - 1);
    assert.equal(result.scenario.name, "slow add");
    assert.equal(result.users, 2);
    assert.deepEqual(result.thresholds.map((outcome: { ok: boolean }) => outcome.ok), [
      false,
      true,
    ]);
    const page = readFileSync(html, "utf8");
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /<svg class="chart" id="chart-latency-trigger"/);
    assert.match(page, /Some thresholds were not met/);
    assert.doesNotMatch(page, /<script(?! type="application\/json")/); // no code, no network

    const before = calls;
    const passing = await load([
      ...common,
      "--scenario",
      scenario,
      "--max-p99",
      "trigger=60s",
      "--max-errors",
      "0",
      "--json",
      "-",
    ]);
    assert.equal(passing.code, EXIT_CODES.ok, explain(passing));
    const printed = JSON.parse(passing.stdout); // nothing but the JSON
    assert.equal(printed.metrics.trigger.count, calls - before);
    assert.deepEqual(printed.thresholds, [
      { rule: "p99 trigger <= 60.00 s", actual: printed.thresholds[0].actual, ok: true },
      { rule: "errors <= 0", actual: "0", ok: true },
    ]);
    assert.equal(existsSync(join(folder, "-")), false);
  });
});

test("--timeout bounds each step: a trigger slower than it counts as trigger.timeout", async () => {
  await using server = await serve({ port: 0, log: () => {} });
  server.trigger("slow_add", async () => {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return 3;
  });
  await withFolder(async (folder) => {
    const scenario = join(folder, "scenario.json");
    writeFileSync(scenario, JSON.stringify(SCENARIO));
    const result = await load([
      server.url,
      ...["--users", "1", "--duration", "2", "--workers", "0", "--timeout", "1000"],
      ...["--scenario", scenario, "--max-errors", "0", "--json", "-"],
    ]);
    assert.equal(result.code, THRESHOLDS_FAILED_EXIT, explain(result));
    const printed = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(printed.errors), ["trigger.timeout"]);
    assert.equal(printed.metrics.trigger, undefined);
  });
});

test("a bad scenario, a bad URL, a bad flag and a refused connection: one line, its exit code", async () => {
  await withFolder(async (folder) => {
    const scenario = join(folder, "bad.yaml");
    writeFileSync(scenario, "steps:\n  - trigger: add\n    timout: 5s\n");
    const badScenario = await load(["ws://127.0.0.1:1/ws", "--scenario", scenario]);
    assert.equal(badScenario.code, EXIT_CODES.usage, explain(badScenario));
    assert.equal(
      badScenario.stderr,
      `trame-wire: ${scenario}: steps[0]: unknown field "timout" (expected trigger, args, kwargs, expect, timeout)\n`,
    );
  });
  const badUrl = await load(["http://127.0.0.1:1/ws"]);
  assert.equal(badUrl.code, EXIT_CODES.badUrl, explain(badUrl));
  assert.match(
    badUrl.stderr,
    /^trame-wire: bad URL "http:\/\/127\.0\.0\.1:1\/ws": the URL must start with ws:\/\/ or wss:\/\/\n$/,
  );
  const badFlag = await load(["ws://127.0.0.1:1/ws", "--max-p99", "trigger<200ms"]);
  assert.equal(badFlag.code, EXIT_CODES.usage);
  assert.match(badFlag.stderr, /--max-p99 takes METRIC=DURATION/);
  const noUrl = await load(["--users", "2"]);
  assert.equal(noUrl.code, EXIT_CODES.usage);
  assert.match(noUrl.stderr, /load needs a URL/);

  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const refused = await load([`ws://127.0.0.1:${port}/ws`, "--users", "1", "--duration", "1"]);
  assert.equal(refused.code, EXIT_CODES.connectionRefused, explain(refused));
  assert.match(refused.stderr, /^trame-wire: no user could connect: connect\.refused: /);
  assert.doesNotMatch(refused.stderr, /\n\s+at /);
});

test("--help describes the command, its thresholds and exit codes", async () => {
  const help = await load(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: trame-wire load URL --users N/);
  assert.match(help.stdout, /--max-p99/);
  assert.match(help.stdout, new RegExp(`${THRESHOLDS_FAILED_EXIT} a threshold not met`));
});
