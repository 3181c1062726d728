// The test runner (test/run.ts) checked on the runtime running this file: a test over its time
// limit fails by its name and promptly, a test blocking its thread gets the runtime killed, the
// totals are the runtime's own (not a nested run's), and a run of nothing is an error. The
// fixtures are in test/fixtures/runner/, which the real suite never runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { parseCounts } from "./run.ts";

const root = new URL("../", import.meta.url).pathname;
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

interface RunnerResult {
  code: number | null;
  /** Standard output and error as they arrived (their order against each other is not fixed). */
  output: string;
  /** Standard output alone: where the runner writes its totals, last. */
  stdout: string;
  elapsed: number;
}

// Runs test/run.ts under Deno, as `npm test` does, on the fixtures; killed after 90 s.
function runRunner(args: string[]): Promise<RunnerResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      `${root}node_modules/.bin/deno`,
      ["run", "-A", "test/run.ts", "--dir", "test/fixtures/runner", ...args],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
    );
    let output = "";
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      output += text;
      stdout += text;
    });
    child.stderr.on("data", (text: string) => (output += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      // Deno's test reporter colours its output whatever NO_COLOR says.
      // deno-lint-ignore no-control-regex -- strips terminal colour codes
      const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");
      resolve({
        code,
        output: plain(output),
        stdout: plain(stdout),
        elapsed: Date.now() - started,
      });
    });
  });
}

// The slow runs start together, on first use, and each test awaits its own.
const runs = new Map<string, Promise<RunnerResult>>();
function fixtureRun(name: "hang" | "blocked" | "empty"): Promise<RunnerResult> {
  if (runs.size === 0) {
    const limit = ["--runtime", runtime, "--time-limit", "2000"];
    runs.set("hang", runRunner([...limit, "hang_test", "nested_summary_test"]));
    runs.set("blocked", runRunner([...limit, "blocked_test"]));
    runs.set("empty", runRunner(["--runtime", runtime, "no_tests_test"]));
  }
  return runs.get(name)!;
}

const explain = (result: RunnerResult) => `exit ${result.code}:\n${result.output}`;

test(`${runtime}: a test over its time limit fails by its name, and the run goes on`, async () => {
  const result = await fixtureRun("hang");
  assert.equal(result.code, 1, explain(result));
  const named = {
    deno: [/^never settles \.\.\. FAILED/m, /"never settles" exceeded its time limit of 2000 ms/],
    bun: [/^\(fail\) never settles/m, /timed out after 2000ms/],
    node: [/^✖ never settles/m, /test timed out after 2000ms/],
  }[runtime];
  for (const pattern of named) assert.match(result.output, pattern, explain(result));
  // The test after the hang ran, and the totals are the runtime's own, not the nested run's
  // "30 passed, 7 skipped" that a test printed before them.
  assert.match(result.output, new RegExp(`^${runtime}: 3 passed, 1 failed, 0 skipped$`, "m"));
  assert.match(result.stdout, /\n3 passed, 1 failed, 0 skipped\n$/, explain(result));
  // Without a limit it would never end; with one it ends soon after it (generous, under load).
  assert.ok(result.elapsed < 60_000, `took ${result.elapsed} ms`);
});

test(`${runtime}: a test blocking its thread gets the runtime killed after the silence limit`, async () => {
  const result = await fixtureRun("blocked");
  assert.equal(result.code, 1, explain(result));
  // Silence limit: the 2 s time limit plus the 5 s grace.
  assert.match(result.output, new RegExp(`^${runtime}: no output for 7 s, killed; `, "m"));
  // Deno announces a test when it starts, so the runner names it; the others print a test when
  // it ends, so the runner shows where the output stopped.
  if (runtime === "deno") assert.match(result.output, /the test running was "blocks its thread"/);
  assert.match(result.stdout, /\n0 passed, 1 failed, 0 skipped\n$/, explain(result));
  assert.ok(result.elapsed < 60_000, `took ${result.elapsed} ms`);
});

test(`${runtime}: a run in which no test ran fails`, async () => {
  const result = await fixtureRun("empty");
  assert.equal(result.code, 1, explain(result));
  assert.match(result.output, new RegExp(`^${runtime}: ran no tests; counted as 1 failure$`, "m"));
  assert.match(result.stdout, /\n0 passed, 1 failed, 0 skipped\n$/, explain(result));
});

test("a filter that matches no test file, an unknown runtime or option: exit 2 at once", async () => {
  const cases: [string[], RegExp][] = [
    [["hang_test", "no_such_file"], /no test file matches "no_such_file"/],
    [["--runtime", "python"], /unknown runtime "python"/],
    [["--timeout", "5"], /unknown option --timeout/],
    [["--time-limit", "200000"], /--time-limit must be .* from 1 to 120000/],
  ];
  for (const [args, message] of cases) {
    const result = await runRunner(args);
    assert.equal(result.code, 2, explain(result));
    assert.match(result.output, message);
    assert.doesNotMatch(result.output, /===/, "no runtime was started");
  }
});

test("parseCounts reads each runtime's own totals, after any nested summary", () => {
  const nested = "ok | 3 passed | 0 failed (1s)\n 3 pass\n 0 fail\nRan 3 tests across 1 file.\n" +
    "ℹ tests 3\nℹ pass 3\nℹ fail 0\n";
  assert.deepEqual(
    parseCounts("deno", `${nested}\nFAILED | 598 passed (4 steps) | 2 failed | 5 ignored (9s)\n`),
    { passed: 598, failed: 2, skipped: 5 },
  );
  assert.deepEqual(
    parseCounts(
      "bun",
      `${nested}\n 590 pass\n 4 skip\n 1 todo\n 2 fail\nRan 597 tests across 9 files.`,
    ),
    { passed: 590, failed: 2, skipped: 5 },
  );
  assert.deepEqual(
    parseCounts(
      "node",
      `${nested}✔ test/x/empty_test.ts (5ms)\nℹ tests 601\nℹ suites 0\nℹ pass 591\nℹ fail 1\n` +
        "ℹ cancelled 1\nℹ skipped 6\nℹ todo 2\n",
    ),
    // The file without tests that Node counts as a passing test is not one.
    { passed: 590, failed: 2, skipped: 8 },
  );
  // No summary, or one whose parts do not add up to its total: not read as a result.
  assert.equal(parseCounts("deno", "running 3 tests from ./a_test.ts\n"), undefined);
  assert.equal(parseCounts("bun", " 5 pass\n 0 fail\nRan 6 tests across 1 file."), undefined);
  assert.equal(parseCounts("node", "ℹ tests 4\nℹ pass 3\nℹ fail 0\n"), undefined);
});
