// A real deployment under `trame-wire load`: the reference Python trame server (wslink +
// trame-server from /work/py, see /work/py/README.txt; never in CI), first one server shared by
// every user, then the wslink launcher spawning one trame process per user. Each step of the
// sweep adds users until the run breaks (p99 trigger over 1 s, errors over 1 %, or users that
// could not get a session) or the sweep ends. Prints Markdown tables for bench/RESULTS.md.
//   node bench/load_python.ts [--mode server|launcher|both] [--server-users 1,10,100]
//                             [--launcher-users 1,4,8] [--seconds 15]
// Ports: the shared server 18330, the launcher 18300 with sessions on 18331-18399.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import process from "node:process";
import { type LoadResult, runLoad } from "../src/load/run.ts";
import { runtimeInfo } from "./_e2e_shared.ts";
import { cpuPressure } from "./_load_shared.ts";

const PY_ROOT = "/work/py";
const PYTHON = "/usr/bin/python3";
const PYTHONPATH = ["shim", "wslink/src", "trame-server/src", "trame-common/src"]
  .map((path) => join(PY_ROOT, path)).join(":");
const APP = join(PY_ROOT, "app", "app.py");
const SERVER_PORT = 18330;
const LAUNCHER_PORT = 18300;
const SESSION_PORTS = [18331, 18399] as const;

const argument = (name: string, fallback: string) => {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
};
const mode = argument("mode", "both");
const seconds = Number(argument("seconds", "15"));
const SCENARIO = {
  name: "trigger add, think 1 s",
  steps: [{ trigger: "add", args: [1, 2], expect: 3 }, { think: "1s" }],
};

/** Starts a Python process and resolves once a line of its output contains `ready`. */
function startPython(args: string[], ready: string, cwd: string) {
  const child = spawn(PYTHON, args, {
    cwd,
    env: { ...process.env, PYTHONPATH, PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${ready}" in 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}):\n${output}`));
    });
  });
  return {
    pid: child.pid!,
    started,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/**
 * Samples, every second, the processes under `pid` (it included): their summed resident memory
 * (peak kept) and the CPU each one used, so the CPU of the trame processes the launcher spawns
 * (their start-up included) is counted too; a process that ends between two samples loses at
 * most its last second.
 */
function sampleTree(pid: number) {
  const firstTicks = new Map<number, number>();
  const lastTicks = new Map<number, number>();
  let peakRss = 0;
  let peakProcesses = 0;
  const stat = (id: number) => {
    try {
      const fields = readFileSync(`/proc/${id}/stat`, "utf8").split(") ")[1].split(" ");
      return {
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
        rss: Number(fields[21]) * 4096,
      };
    } catch {
      return undefined; // gone meanwhile
    }
  };
  const sample = () => {
    const all = new Map<number, NonNullable<ReturnType<typeof stat>>>();
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const info = stat(Number(name));
      if (info !== undefined) all.set(Number(name), info);
    }
    const tree = new Set([pid]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [id, info] of all) {
        if (!tree.has(id) && tree.has(info.ppid)) {
          tree.add(id);
          grew = true;
        }
      }
    }
    let rss = 0;
    for (const id of tree) {
      const info = all.get(id);
      if (info === undefined) continue;
      rss += info.rss;
      // A process born during the run counts from 0: its start-up is part of the cost.
      if (!firstTicks.has(id)) firstTicks.set(id, started ? 0 : info.ticks);
      lastTicks.set(id, info.ticks);
    }
    peakRss = Math.max(peakRss, rss);
    peakProcesses = Math.max(peakProcesses, tree.size);
    started = true;
  };
  let started = false;
  sample();
  const timer = setInterval(sample, 1000);
  return {
    stop() {
      sample();
      clearInterval(timer);
      let ticks = 0;
      for (const [id, last] of lastTicks) ticks += last - firstTicks.get(id)!;
      return { cpuSeconds: ticks / 100, peakRss, peakProcesses };
    },
  };
}

interface Step {
  readonly result: LoadResult;
  /** The Python side: the server, or the launcher and every trame process it started. */
  readonly serverCpuPercent: number;
  readonly serverPeakRss: number;
  readonly serverProcesses: number;
  readonly pressure: number;
  readonly broke: string | undefined;
}

async function step(
  target: { url?: string; launcher?: string; launchBody?: Record<string, unknown> },
  users: number,
  rampMs: number,
  durationMs: number,
  serverPid: number,
): Promise<Step> {
  const python = sampleTree(serverPid);
  const started = performance.now();
  const result = await runLoad({
    target,
    scenario: { value: SCENARIO, source: "bench" },
    users,
    rampMs,
    durationMs,
  });
  const elapsed = (performance.now() - started) / 1000;
  const tree = python.stop();
  const pressure = cpuPressure();
  const trigger = result.metrics.trigger;
  const attempts = (trigger?.count ?? 0) + result.totals.errors;
  const broke = result.totals.peakConnected < users
    ? `only ${result.totals.peakConnected} of ${users} users got a session`
    : trigger === undefined
    ? "no trigger answered"
    : trigger.p99 > 1000
    ? `p99 ${trigger.p99.toFixed(0)} ms`
    : result.totals.errors > attempts * 0.01
    ? `${result.totals.errors} errors`
    : undefined;
  const serverCpuPercent = (tree.cpuSeconds / elapsed) * 100;
  console.error(
    `${users} users: ${JSON.stringify(result.metrics.trigger)} busy ${result.totals.busy} ` +
      `errors ${JSON.stringify(result.errors)} python CPU ${serverCpuPercent.toFixed(0)}% ` +
      `python RSS ${(tree.peakRss / 2 ** 20).toFixed(0)} MiB in ${tree.peakProcesses} processes ` +
      `generator CPU ${result.generator.cpuPercent.toFixed(0)}% pressure ${pressure}%` +
      (broke ? ` BROKE: ${broke}` : ""),
  );
  return {
    result,
    serverCpuPercent,
    serverPeakRss: tree.peakRss,
    serverProcesses: tree.peakProcesses,
    pressure,
    broke,
  };
}

function row(step: Step): string {
  const { result } = step;
  const trigger = result.metrics.trigger;
  const ms = (value: number | undefined) => value === undefined ? "-" : `${value.toFixed(1)} ms`;
  const launch = result.metrics.launch;
  return `| ${result.users} | ${result.totals.peakConnected} | ${
    Math.round(result.totals.actionsPerSecond)
  } | ${ms(trigger?.p50)} | ${ms(trigger?.p99)} | ${ms(trigger?.max)} | ${
    launch === undefined
      ? "-"
      : `${(launch.p50 / 1000).toFixed(1)} s / ${(launch.max / 1000).toFixed(1)} s`
  } | ${result.totals.busy} | ${result.totals.errors} | ${step.serverCpuPercent.toFixed(0)}% | ${
    (step.serverPeakRss / 2 ** 20).toFixed(0)
  } MiB (${step.serverProcesses}) | ${result.generator.cpuPercent.toFixed(0)}% | ${
    step.pressure.toFixed(0)
  }% | ${step.broke ?? "no"} |`;
}

const HEADER = "| users | connected | actions/s | trigger p50 | trigger p99 | trigger max | " +
  "launch p50 / max | busy (503) | errors | Python CPU | Python RSS (processes) | generator CPU | " +
  "CPU pressure | broke |\n" +
  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|";

async function sweep(
  label: string,
  counts: number[],
  run: (users: number) => Promise<Step>,
): Promise<void> {
  const steps: Step[] = [];
  for (const users of counts) {
    const measured = await run(users);
    steps.push(measured);
    if (measured.broke !== undefined) break;
  }
  console.log(`\n${label}\n\n${HEADER}\n${steps.map(row).join("\n")}`);
}

const { runtime, version } = runtimeInfo();
console.log(`generator: trame-wire load on ${runtime} ${version}, ${new Date().toISOString()}`);

if (mode === "server" || mode === "both") {
  const server = startPython([APP, "--port", String(SERVER_PORT)], "App running at", PY_ROOT);
  try {
    await server.started;
    const counts = argument("server-users", "1,100,800,3200,6400,10000").split(",").map(Number);
    await sweep(
      "One Python trame server shared by every user (scenario: trigger add, think 1 s)",
      counts,
      (users) =>
        step(
          { url: `ws://127.0.0.1:${SERVER_PORT}/ws` },
          users,
          Math.min(users * 5, 40_000),
          seconds * 1000 + Math.min(users * 5, 40_000),
          server.pid,
        ),
    );
  } finally {
    await server.stop();
  }
}

if (mode === "launcher" || mode === "both") {
  const folder = join(tmpdir(), "trame-wire-launcher");
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(join(folder, "logs"), { recursive: true });
  const config = {
    configuration: {
      host: "127.0.0.1",
      port: LAUNCHER_PORT,
      endpoint: "paraview",
      content: "",
      proxy_file: join(folder, "proxy.txt"),
      sessionURL: "ws://127.0.0.1:${port}/ws",
      timeout: 25,
      log_dir: join(folder, "logs"),
      fields: [],
    },
    resources: [{ host: "127.0.0.1", port_range: SESSION_PORTS }],
    properties: { python: PYTHON, app: APP },
    apps: {
      trame: {
        // --timeout: a process whose user left exits after 5 s even without being asked.
        cmd: [
          "${python}",
          "${app}",
          "--port",
          "${port}",
          "--authKey",
          "${secret}",
          "--timeout",
          "5",
        ],
        ready_line: "App running at",
      },
    },
  };
  writeFileSync(join(folder, "launcher.json"), JSON.stringify(config, null, 2));
  const launcher = startPython(
    ["-m", "wslink.launcher", join(folder, "launcher.json")],
    "Running on",
    folder,
  );
  try {
    await launcher.started.catch(async () => {
      // aiohttp prints its banner only with logging on; the port answering is enough.
      await new Promise((resolve) => setTimeout(resolve, 3000));
    });
    const counts = argument("launcher-users", "1,4,8,16,32,48,64,80").split(",").map(Number);
    await sweep(
      `The wslink launcher, one trame process per user (sessions on ports ${SESSION_PORTS[0]}-${
        SESSION_PORTS[1]
      }; scenario: trigger add, think 1 s)`,
      counts,
      async (users) => {
        const measured = await step(
          {
            launcher: `http://127.0.0.1:${LAUNCHER_PORT}/paraview/`,
            launchBody: { application: "trame" },
          },
          users,
          users * 500,
          users * 500 + seconds * 1000,
          launcher.pid,
        );
        // The processes exit on their users' request, or 5 s after they left: let them go.
        await new Promise((resolve) => setTimeout(resolve, 8000));
        return measured;
      },
    );
  } finally {
    await launcher.stop();
  }
}
