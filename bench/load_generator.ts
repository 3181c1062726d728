// The load generator's own ceiling, against the embedded server in a process of its own (so the
// two are measured apart): actions per second per core with no think time, and users held per
// process with a think time, with the server's CPU next to the generator's so it shows when the
// server, not the generator, is the limit. Prints a Markdown table for bench/RESULTS.md.
//   node bench/load_generator.ts [--server bun|node|deno] [--users 1000,2000] [--seconds 10]
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import process from "node:process";
import { type LoadResult, runLoad } from "../src/load/run.ts";
import { runtimeInfo } from "./_e2e_shared.ts";
import { cpuPressure, cpuSecondsOf, rssOf } from "./_load_shared.ts";

const root = new URL("..", import.meta.url).pathname;
const argument = (name: string, fallback: string) => {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
};
const serverRuntime = argument("server", "node");
const heldUsers = argument("users", "1000,2000").split(",").map(Number);
const seconds = Number(argument("seconds", "10"));

async function startServer(): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const command = serverRuntime === "deno"
    ? ["run", "-A", "bench/_e2e_server.ts"]
    : ["bench/_e2e_server.ts"];
  const child = spawn(`${root}node_modules/.bin/${serverRuntime}`, command, {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the server exited (${code})`)));
  });
  const { url, runtime, version } = JSON.parse(line);
  console.error(`server: ${runtime} ${version} at ${url}, pid ${child.pid}`);
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.stdin!.end();
      }),
  };
}

interface Row {
  readonly label: string;
  readonly result: LoadResult;
  readonly serverCpuPercent: number;
  readonly serverRssBytes: number;
  readonly pressure: number;
}

async function measure(
  server: { url: string; pid: number },
  label: string,
  steps: unknown[],
  users: number,
  workers: number,
  rampMs: number,
  durationMs: number,
): Promise<Row> {
  const cpuBefore = cpuSecondsOf(server.pid);
  const started = performance.now();
  const result = await runLoad({
    target: { url: server.url },
    scenario: { value: { name: label, steps }, source: "bench" },
    users,
    rampMs,
    durationMs,
    workers,
  });
  const elapsed = (performance.now() - started) / 1000;
  const row = {
    label,
    result,
    serverCpuPercent: ((cpuSecondsOf(server.pid) - cpuBefore) / elapsed) * 100,
    serverRssBytes: rssOf(server.pid),
    pressure: cpuPressure(),
  };
  console.error(`${label}: ${describe(row)}`);
  return row;
}

function describe(row: Row): string {
  const { result } = row;
  const trigger = result.metrics.trigger;
  const generatorCores = result.generator.cpuPercent / 100;
  return [
    `${result.users} users`,
    `${result.workers} threads`,
    `peak connected ${result.totals.peakConnected}`,
    `${Math.round(result.totals.actionsPerSecond)} actions/s`,
    `p50 ${trigger?.p50.toFixed(2)} ms`,
    `p99 ${trigger?.p99.toFixed(2)} ms`,
    `generator CPU ${result.generator.cpuPercent.toFixed(0)}%`,
    `server CPU ${row.serverCpuPercent.toFixed(0)}%`,
    `${Math.round(result.totals.actionsPerSecond / generatorCores)} actions/s per generator core`,
    `generator RSS peak ${(result.generator.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    `${
      result.generator.rssPerUserBytes === null
        ? "-"
        : (result.generator.rssPerUserBytes / 1024).toFixed(0)
    } KiB per user`,
    `errors ${result.totals.errors}`,
    `CPU pressure ${row.pressure}%`,
  ].join(", ");
}

const server = await startServer();
const rows: Row[] = [];
try {
  const busy = [{ trigger: "add", args: [1, 2], expect: 3 }];
  for (const workers of [1, 2]) {
    rows.push(await measure(server, "no think", busy, 64, workers, 1000, seconds * 1000));
  }
  const idle = [{ trigger: "add", args: [1, 2], expect: 3 }, { think: "10s" }];
  for (const users of heldUsers) {
    rows.push(
      await measure(server, "think 10 s", idle, users, 2, 20_000, 35_000),
    );
  }
} finally {
  await server.stop();
}

const { runtime, version } = runtimeInfo();
console.log(`generator: ${runtime} ${version}; server: ${serverRuntime} (separate process)\n`);
console.log(
  "| scenario | users | threads | actions/s | trigger p50 | trigger p99 | generator CPU | " +
    "server CPU | actions/s per generator core | generator RSS | per user | errors | CPU pressure |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const row of rows) {
  const { result } = row;
  const trigger = result.metrics.trigger!;
  console.log(
    `| ${row.label} | ${result.totals.peakConnected} | ${result.workers} | ${
      Math.round(result.totals.actionsPerSecond).toLocaleString("en-US")
    } | ${trigger.p50.toFixed(2)} ms | ${trigger.p99.toFixed(2)} ms | ${
      result.generator.cpuPercent.toFixed(0)
    }% | ${row.serverCpuPercent.toFixed(0)}% | ${
      Math.round(result.totals.actionsPerSecond / (result.generator.cpuPercent / 100))
        .toLocaleString("en-US")
    } | ${(result.generator.peakRssBytes / 2 ** 20).toFixed(0)} MiB | ${
      result.generator.rssPerUserBytes === null
        ? "-"
        : `${(result.generator.rssPerUserBytes / 1024).toFixed(0)} KiB`
    } | ${result.totals.errors} | ${row.pressure.toFixed(0)}% |`,
  );
}
