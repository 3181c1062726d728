// Runs the whole suite under Deno, Bun and Node 24 and totals the results:
//   deno run -A test/run.ts [--runtime deno|bun|node]... [--time-limit MS] [--dir DIR] [filter]...
// Ends with one line `N passed, N failed, N skipped` over all runtimes; exits 1 when anything
// failed, 2 on bad arguments (an unknown option or runtime, a filter that matches no test file).
//
// Every test gets at most `--time-limit` milliseconds (default and maximum 120,000): Node's
// --test-timeout, Bun's --timeout, and for Deno, whose node:test has no such option, a preloaded
// wrapper of Deno.test (test/_deno_time_limit.ts). A test over its limit fails with its name and
// the run goes on. A runtime that prints nothing for longer than the limit plus a grace period
// (a test blocking its thread, a process that does not exit) is killed and counted as failed.
// `--dir` runs the test files of another directory (the runner's own self-test uses it).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";

const RUNTIMES = ["deno", "bun", "node"] as const;
type Runtime = typeof RUNTIMES[number];

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** The longest a test may run, in milliseconds (the issue's ceiling, and Bun's former setting). */
const MAX_TIME_LIMIT = 120_000;

const root = new URL("..", import.meta.url).pathname;
const bin = (name: string) => join(root, "node_modules", ".bin", name);

function findTests(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory() && entry.name !== "fixtures") found.push(...findTests(path));
    else if (entry.isFile() && entry.name.endsWith("_test.ts")) found.push(relative(root, path));
  }
  return found.sort();
}

function commandFor(runtime: Runtime, files: string[], timeLimit: number): string[] {
  switch (runtime) {
    case "deno":
      return [
        bin("deno"),
        "test",
        "-A",
        "--no-check",
        `--preload=${join(root, "test", "_deno_time_limit.ts")}`,
        ...files,
      ];
    case "bun":
      return [
        bin("bun"),
        "test",
        "--timeout",
        String(timeLimit),
        ...files.map((file) => `./${file}`),
      ];
    case "node":
      return [
        bin("node"),
        "--test",
        "--test-reporter=spec",
        "--test-concurrency=1",
        `--test-timeout=${timeLimit}`,
        // A test over its limit is cancelled, but what it left running (a timer, a socket) would
        // keep its file's process alive forever: end each file once its tests are done.
        "--test-force-exit",
        ...files,
      ];
  }
}

// deno-lint-ignore no-control-regex -- strips terminal colour codes
const plain = (output: string) => output.replace(/\x1b\[[0-9;]*m/g, "");

/**
 * Reads a runtime's own totals from the stream it prints them on: the LAST summary there, since
 * a test may print a nested runner's summary (the doc test's `deno test --doc` does) before it.
 * Undefined when there is none, or when its parts do not add up.
 */
export function parseCounts(runtime: Runtime, output: string): Counts | undefined {
  const text = plain(output);
  const lastMatch = (pattern: RegExp) => [...text.matchAll(pattern)].at(-1);
  const field = (block: string, pattern: RegExp) => Number(block.match(pattern)?.[1] ?? 0);
  if (runtime === "deno") {
    // `ok | 598 passed (3 steps) | 0 failed | 2 ignored (1m2s)`
    const line = lastMatch(/^(?:ok|FAILED) \| .*$/gm)?.[0];
    if (line === undefined || !/ \d+ passed/.test(line) || !/ \d+ failed/.test(line)) {
      return undefined;
    }
    return {
      passed: field(line, / (\d+) passed/),
      failed: field(line, / (\d+) failed/),
      skipped: field(line, / (\d+) ignored/),
    };
  }
  if (runtime === "bun") {
    // ` 12 pass`, ` 1 skip`, ` 1 todo`, ` 0 fail`, ` 30 expect() calls`, `Ran 14 tests across…`
    const ran = lastMatch(/^Ran (\d+) tests? across/gm);
    const start = lastMatch(/^\s*\d+ pass$/gm);
    if (ran === undefined || start === undefined || start.index! > ran.index!) return undefined;
    const block = text.slice(start.index, ran.index);
    const todo = field(block, /^\s*(\d+) todo$/m);
    const counts = {
      passed: field(block, /^\s*(\d+) pass$/m),
      failed: field(block, /^\s*(\d+) fail$/m),
      skipped: field(block, /^\s*(\d+) skip$/m) + todo,
    };
    const total = counts.passed + counts.failed + counts.skipped;
    return total === Number(ran[1]) ? counts : undefined;
  }
  // `ℹ tests 5`, `ℹ suites 0`, `ℹ pass 2`, `ℹ fail 1`, `ℹ cancelled 0`, `ℹ skipped 1`, `ℹ todo 1`
  const tests = lastMatch(/^ℹ tests (\d+)$/gm);
  if (tests === undefined) return undefined;
  const block = text.slice(tests.index);
  if (!/^ℹ pass \d+$/m.test(block) || !/^ℹ fail \d+$/m.test(block)) return undefined;
  // A file that defines no test is reported as one passing test named after the file: not a test.
  const emptyFiles = [...text.matchAll(/^✔ \S+_test\.ts \(/gm)].length;
  const counts = {
    passed: field(block, /^ℹ pass (\d+)$/m) - emptyFiles,
    // A test cancelled (over its time limit, or its file ended first) did not pass.
    failed: field(block, /^ℹ fail (\d+)$/m) + field(block, /^ℹ cancelled (\d+)$/m),
    skipped: field(block, /^ℹ skipped (\d+)$/m) + field(block, /^ℹ todo (\d+)$/m),
  };
  const total = counts.passed + emptyFiles + counts.failed + counts.skipped;
  return total === Number(tests[1]) ? counts : undefined;
}

// The test a runtime was in when it went silent: Deno prints `name ...` when a test starts; the
// others print a test when it ends, so for them the last line says where it stopped.
function lastActivity(runtime: Runtime, output: string): string {
  const lines = plain(output).split("\n").map((line) => line.trimEnd()).filter((line) => line);
  if (runtime === "deno") {
    const started = lines.findLast((line) => / \.\.\.$/.test(line));
    if (started !== undefined) return `the test running was "${started.slice(0, -4)}"`;
  }
  return lines.length === 0 ? "it printed nothing" : `its last line was "${lines.at(-1)}"`;
}

let running: ChildProcess | undefined;

// The runtime runs in its own process group, so that the test files' processes it started
// (Node runs each file in a child) go down with it.
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function run(runtime: Runtime, files: string[], timeLimit: number): Promise<Counts> {
  const [command, ...args] = commandFor(runtime, files, timeLimit);
  const silenceLimit = timeLimit + Math.max(5_000, timeLimit / 4);
  console.log(`\n=== ${runtime}: ${files.length} test files`);
  const env: Record<string, string | undefined> = {
    ...process.env,
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    TRAME_WIRE_TEST_RUNTIME: runtime,
    TRAME_WIRE_TEST_TIME_LIMIT: String(timeLimit),
  };
  // Set when this runner itself runs inside `node --test`; it would make Node's runner below
  // report in its child protocol instead of printing the summary read here.
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    running = child;
    // Each runtime prints its summary on one stream (Bun on stderr, the others on stdout); the
    // tests' own output on the other may arrive in any order relative to it.
    const output = { stdout: "", stderr: "" };
    const summaryStream = runtime === "bun" ? "stderr" : "stdout";
    let silent: ReturnType<typeof setTimeout> | undefined;
    let killedAfterSilence = "";
    const watch = () => {
      clearTimeout(silent);
      silent = setTimeout(() => {
        killedAfterSilence = `${runtime}: no output for ${silenceLimit / 1000} s, killed; ` +
          lastActivity(runtime, output[summaryStream]);
        killGroup(child);
      }, silenceLimit);
    };
    watch();
    const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const collect = (stream: "stdout" | "stderr", chunk: Uint8Array) => {
      output[stream] += decoders[stream].decode(chunk, { stream: true });
      process[stream].write(chunk);
      watch();
    };
    child.stdout!.on("data", (chunk) => collect("stdout", chunk));
    child.stderr!.on("data", (chunk) => collect("stderr", chunk));
    child.on("close", (code) => {
      clearTimeout(silent);
      running = undefined;
      const counts = killedAfterSilence === ""
        ? parseCounts(runtime, output[summaryStream])
        : undefined;
      if (counts === undefined) {
        // On a line of its own: the runtime may have stopped mid-line (Deno's `name ...`).
        console.log(`\n${killedAfterSilence || `${runtime}: no summary found (exit ${code})`}`);
        console.log(`${runtime}: counted as 1 failure`);
        resolve({ passed: 0, failed: 1, skipped: 0 });
        return;
      }
      if (counts.passed + counts.failed === 0) {
        console.log(`${runtime}: ran no tests; counted as 1 failure`);
        counts.failed = 1;
      }
      // A runner that exits non-zero with nothing failed still failed (a crash after the tests).
      if (code !== 0 && counts.failed === 0) counts.failed = 1;
      console.log(
        `${runtime}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`,
      );
      resolve(counts);
    });
  });
}

function usage(message: string): never {
  console.error(`test/run.ts: ${message}`);
  process.exit(2);
}

function parseArguments(args: string[]) {
  const runtimes: Runtime[] = [];
  const filters: string[] = [];
  let timeLimit = MAX_TIME_LIMIT;
  let directory = join(root, "test");
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    const value = () => args[++index] ?? usage(`${arg} needs a value`);
    if (arg === "--runtime") {
      const runtime = value();
      if (!(RUNTIMES as readonly string[]).includes(runtime)) {
        usage(`unknown runtime "${runtime}" (deno, bun or node)`);
      }
      runtimes.push(runtime as Runtime);
    } else if (arg === "--time-limit") {
      timeLimit = Number(value());
      if (!Number.isInteger(timeLimit) || timeLimit < 1 || timeLimit > MAX_TIME_LIMIT) {
        usage(`--time-limit must be a whole number of milliseconds from 1 to ${MAX_TIME_LIMIT}`);
      }
    } else if (arg === "--dir") {
      directory = resolve(value());
      if (!existsSync(directory) || !statSync(directory).isDirectory()) {
        usage(`--dir: no directory ${directory}`);
      }
    } else if (arg.startsWith("--")) {
      usage(`unknown option ${arg}`);
    } else {
      filters.push(arg);
    }
  }
  if (runtimes.length === 0) runtimes.push(...RUNTIMES);
  return { runtimes, filters, timeLimit, directory };
}

if (import.meta.main) {
  const { runtimes, filters, timeLimit, directory } = parseArguments(process.argv.slice(2));
  for (const runtime of runtimes) {
    if (!existsSync(bin(runtime))) throw new Error(`${runtime} is not installed: run npm ci`);
  }
  const allFiles = findTests(directory);
  for (const filter of filters) {
    if (!allFiles.some((file) => file.includes(filter))) {
      usage(`no test file matches "${filter}"`);
    }
  }
  const files = allFiles.filter((file) =>
    filters.length === 0 || filters.some((filter) => file.includes(filter))
  );
  if (files.length === 0) usage(`no test files in ${directory}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (running !== undefined) killGroup(running);
      process.exit(130);
    });
  }
  const total: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (const runtime of runtimes) {
    const counts = await run(runtime, files, timeLimit);
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.skipped += counts.skipped;
  }
  console.log(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  process.exit(total.failed === 0 ? 0 : 1);
}
