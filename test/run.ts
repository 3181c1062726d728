// Runs the whole suite under Deno, Bun and Node 24 and totals the results:
//   deno run -A test/run.ts [--runtime deno|bun|node]... [file filter]...
// Ends with one line `N passed, N failed` over all runtimes; exits 1 when anything failed.
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { spawn } from "node:child_process";

type Runtime = "deno" | "bun" | "node";
interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

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

function commandFor(runtime: Runtime, files: string[]): string[] {
  switch (runtime) {
    case "deno":
      return [bin("deno"), "test", "-A", "--no-check", ...files];
    case "bun":
      return [bin("bun"), "test", "--timeout", "120000", ...files.map((file) => `./${file}`)];
    case "node":
      return [bin("node"), "--test", "--test-reporter=spec", "--test-concurrency=1", ...files];
  }
}

// Each runner prints its own summary; these read it back.
function parseCounts(runtime: Runtime, output: string): Counts | undefined {
  // deno-lint-ignore no-control-regex -- strips terminal colour codes
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const number = (pattern: RegExp) => {
    const match = plain.match(pattern);
    return match ? Number(match[1]) : undefined;
  };
  if (runtime === "deno") {
    const passed = number(/\|\s*(\d+) passed/);
    const failed = number(/\|\s*(\d+) failed/);
    if (passed === undefined || failed === undefined) return undefined;
    return { passed, failed, skipped: number(/\|\s*(\d+) ignored/) ?? 0 };
  }
  if (runtime === "bun") {
    const passed = number(/^\s*(\d+) pass$/m);
    const failed = number(/^\s*(\d+) fail$/m);
    if (passed === undefined || failed === undefined) return undefined;
    return { passed, failed, skipped: number(/^\s*(\d+) skip$/m) ?? 0 };
  }
  const passed = number(/^ℹ pass (\d+)$/m);
  const failed = number(/^ℹ fail (\d+)$/m);
  if (passed === undefined || failed === undefined) return undefined;
  const cancelled = number(/^ℹ cancelled (\d+)$/m) ?? 0;
  return { passed, failed: failed + cancelled, skipped: number(/^ℹ skipped (\d+)$/m) ?? 0 };
}

function run(runtime: Runtime, files: string[]): Promise<Counts> {
  const [command, ...args] = commandFor(runtime, files);
  console.log(`\n=== ${runtime}: ${files.length} test files`);
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", TRAME_WIRE_TEST_RUNTIME: runtime },
    });
    let output = "";
    const collect = (chunk: Uint8Array, sink: NodeJS.WriteStream) => {
      output += new TextDecoder().decode(chunk);
      sink.write(chunk);
    };
    child.stdout.on("data", (chunk) => collect(chunk, process.stdout));
    child.stderr.on("data", (chunk) => collect(chunk, process.stderr));
    child.on("close", (code) => {
      const counts = parseCounts(runtime, output);
      if (counts === undefined) {
        console.log(`${runtime}: no summary found (exit ${code}); counted as 1 failure`);
        resolve({ passed: 0, failed: 1, skipped: 0 });
        return;
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

const args = process.argv.slice(2);
const runtimes: Runtime[] = [];
const filters: string[] = [];
for (let index = 0; index < args.length; index++) {
  if (args[index] === "--runtime") runtimes.push(args[++index] as Runtime);
  else filters.push(args[index]);
}
if (runtimes.length === 0) runtimes.push("deno", "bun", "node");
for (const runtime of runtimes) {
  if (!existsSync(bin(runtime))) throw new Error(`${runtime} is not installed: run npm ci`);
}
const files = findTests(join(root, "test")).filter((file) =>
  filters.length === 0 || filters.some((filter) => file.includes(filter))
);
const total: Counts = { passed: 0, failed: 0, skipped: 0 };
for (const runtime of runtimes) {
  const counts = await run(runtime, files);
  total.passed += counts.passed;
  total.failed += counts.failed;
  total.skipped += counts.skipped;
}
console.log(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed === 0 ? 0 : 1);
