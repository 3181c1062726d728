// trame-wire against the reference Python server (trame-server on wslink, aiohttp): starts the
// server with bench/_python_app.py, then one client process per runtime (bench/_python_client.ts),
// each running trame-wire and the runtime's bare WebSocket (and, on Bun, the wslink 2.5.0
// reference) in turn on publishes, RPC round trips and two large results; prints medians and
// ranges and, with --write, rewrites its section of bench/RESULTS.md. Run by hand, never in CI:
// it needs a Python with trame-server and wslink.
//   TRAME_WIRE_PYTHON_SERVER='python3 {app} --port {port}' \
//     deno run -A bench/python_server.ts [--write] [--runs 5] [--publishes 20000] [--calls 2000]
//     [--large-mib 50] [--runtimes bun,deno,node] [--port N] [--results bench/RESULTS.md]
//     [--save FILE] [--load FILE]
// The server command (also --server-command) runs under `sh -c`; {app} becomes the path of
// bench/_python_app.py and {port} the port. Without it, the benchmark says so and exits 0.
// --save writes every measurement to FILE (JSON); --load makes the section from such a file
// instead of measuring.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Runtime } from "./_e2e_shared.ts";
import { freePort, PYTHON_SERVER_HELP, startPythonServer } from "./_python_process.ts";
import {
  median,
  option,
  rate,
  referenceVersion,
  root,
  runtimeCommand,
  table,
  writeResultsSection,
} from "./_runner.ts";
import type {
  PythonClientKind,
  PythonCommand,
  PythonMeasurement,
  PythonWorkload,
} from "./_python_client.ts";

const BEGIN = "<!-- python:begin (written by bench/python_server.ts --write) -->";
const END = "<!-- python:end -->";
// The longest one measurement may take (Node's WebSocket is the slowest here).
const MEASUREMENT_TIMEOUT_MS = 300_000;
const WORKLOADS: PythonWorkload[] = ["publish", "rpc", "large", "noise"];

const settings = {
  serverCommand: option("server-command", process.env.TRAME_WIRE_PYTHON_SERVER ?? ""),
  port: Number(option("port", "0")),
  runs: Number(option("runs", "5")),
  publishes: Number(option("publishes", "20000")),
  calls: Number(option("calls", "2000")),
  largeMiB: Number(option("large-mib", "50")),
  runtimes: option("runtimes", "bun,deno,node").split(",") as Runtime[],
  write: process.argv.includes("--write"),
  results: option("results", join(root, "bench", "RESULTS.md")),
  save: option("save", ""),
  load: option("load", ""),
};

/**
 * The kinds each runtime runs: the reference and the choice of compression exist on Bun only;
 * on Node, trame-wire also runs over `ws` without compression.
 */
function kindsOf(runtime: Runtime): PythonClientKind[] {
  switch (runtime) {
    case "bun":
      return ["trame-wire", "trame-wire-compressed", "reference", "bare"];
    case "deno":
      return ["trame-wire", "bare"];
    case "node":
      return ["trame-wire", "trame-wire-ws", "bare"];
  }
}

/** One runtime's client process: takes a command, answers with a measurement. */
interface ClientProcess {
  readonly runtime: Runtime;
  readonly version: string;
  measure(command: PythonCommand): Promise<PythonMeasurement>;
  close(): Promise<void>;
}

function startClients(runtime: Runtime, url: string): Promise<ClientProcess> {
  const [program, ...args] = runtimeCommand(runtime, "_python_client.ts");
  args.push(url, "--kinds", kindsOf(runtime).join(","));
  args.push("--publishes", String(settings.publishes), "--calls", String(settings.calls));
  args.push("--large-mib", String(settings.largeMiB));
  const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
  // Lines of stdout go to whoever waits for the next one, in order.
  const waiting: { resolve(line: string): void; reject(error: Error): void }[] = [];
  let pending = "";
  child.stdout!.on("data", (chunk: Uint8Array) => {
    pending += new TextDecoder().decode(chunk);
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.startsWith("{")) waiting.shift()?.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  void exited.then((code) => {
    const error = new Error(`the ${runtime} clients exited ${code}: ${stderr.trim()}`);
    for (const waiter of waiting.splice(0)) waiter.reject(error);
  });
  const nextLine = (ms: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`the ${runtime} clients gave no answer within ${ms} ms`));
      }, ms);
      waiting.push({
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  return nextLine(MEASUREMENT_TIMEOUT_MS).then((line) => {
    const { version } = JSON.parse(line) as { version: string };
    return {
      runtime,
      version,
      measure(command) {
        const answer = nextLine(MEASUREMENT_TIMEOUT_MS);
        child.stdin!.write(`${JSON.stringify(command)}\n`);
        return answer.then((text) => JSON.parse(text) as PythonMeasurement);
      },
      async close() {
        child.stdin!.end();
        const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(killer);
      },
    };
  });
}

function describe(m: PythonMeasurement): string {
  const figure = m.workload === "publish"
    ? `${rate(m.publishesPerSecond!)} pub/s (${rate(m.publishesPerSecondConsumed!)} consumed)`
    : m.workload === "rpc"
    ? `${rate(m.sequentialPerSecond!)} seq/s, ${rate(m.inFlightPerSecond!)} in flight/s`
    : `${m.megabytesPerSecond!.toFixed(0)} MB/s`;
  return `run ${m.run} ${m.workload} ${m.runtime} ${m.kind}: ${figure}; server ` +
    `${(m.serverUserMicros + m.serverSystemMicros).toFixed(1)} µs CPU ` +
    `(${m.serverSystemMicros.toFixed(1)} sys), ${m.serverPreemptions.toFixed(2)} preempted; ` +
    `client ${m.clientCpuMicros.toFixed(1)} µs CPU, ${m.clientWakeups.toFixed(2)} wake-ups ` +
    `(per unit); load ${m.load}`;
}

const fixed = (digits: number) => (value: number) =>
  Number.isNaN(value) ? "–" : value.toFixed(digits);

/** "median (min–max)" of `list`, each formatted by `format`. */
function spread(list: number[], format: (value: number) => string): string {
  if (list.length === 0) return "–";
  const low = format(Math.min(...list));
  const high = format(Math.max(...list));
  return `${format(median(list))} (${low}–${high})`;
}

type Figure = (m: PythonMeasurement) => number;

const KIND_LABELS: Record<PythonClientKind, string> = {
  "trame-wire": "trame-wire",
  "trame-wire-compressed": "trame-wire, `compression: true`",
  "trame-wire-ws": "trame-wire over `ws`, no compression",
  reference: "reference (wslink 2.5.0)",
  bare: "bare WebSocket",
};

/** The columns per unit (publish, call, result) that every table ends with, as medians. */
const PER_UNIT_HEADER = [
  "server CPU (system)",
  "server preempted",
  "client CPU",
  "client wake-ups",
];

/**
 * One row per client of `workload`: each rate as "median (range)" with its ratio to the
 * reference taken run by run, then the medians per unit, CPU times in µs (or ms: `cpuScale`).
 */
function rows(
  record: RunRecord,
  workload: PythonWorkload,
  rates: [Figure, (value: number) => string][],
  cpuUnit: "µs" | "ms",
): string[][] {
  const of = (runtime: Runtime, kind: PythonClientKind) =>
    record.measurements.filter((m) =>
      m.runtime === runtime && m.kind === kind && m.workload === workload
    );
  const cpu = (micros: number) => cpuUnit === "µs" ? micros.toFixed(1) : (micros / 1000).toFixed(0);
  const list: string[][] = [];
  for (const runtime of record.runtimes) {
    for (const kind of kindsOf(runtime)) {
      const mine = of(runtime, kind);
      if (mine.length === 0) continue;
      const middle = (figure: Figure) => median(mine.map(figure));
      const cells = [`${runtime}: ${KIND_LABELS[kind]}`];
      for (const [figure, format] of rates) {
        const reference = new Map(of("bun", "reference").map((m) => [m.run, figure(m)]));
        const ratios = mine.filter((m) => reference.has(m.run))
          .map((m) => figure(m) / reference.get(m.run)!);
        cells.push(spread(mine.map(figure), format), spread(ratios, fixed(2)));
      }
      cells.push(
        `${cpu(middle((m) => m.serverUserMicros + m.serverSystemMicros))} ` +
          `(${cpu(middle((m) => m.serverSystemMicros))}) ${cpuUnit}`,
        fixed(2)(middle((m) => m.serverPreemptions)),
        `${cpu(middle((m) => m.clientCpuMicros))} ${cpuUnit}`,
        fixed(2)(middle((m) => m.clientWakeups)),
      );
      list.push(cells);
    }
  }
  return list;
}

/** Everything a run produced: what --save writes, --load reads and the section is made of. */
interface RunRecord {
  readonly started: string;
  readonly seconds: number;
  readonly serverVersions: string;
  readonly clientVersions: string[];
  readonly runs: number;
  readonly publishes: number;
  readonly calls: number;
  readonly largeMiB: number;
  readonly runtimes: Runtime[];
  readonly measurements: PythonMeasurement[];
}

function render(record: RunRecord): string {
  const all = record.measurements;
  const loads = all.map((m) => m.load);
  return [
    `- Date: ${record.started}; ${record.seconds.toFixed(0)} s in all.`,
    `- Machine: \`nproc\` = ${availableParallelism()}, ${cpus()[0]?.model ?? "?"}, shared with ` +
    `other work: 1-minute load average ${Math.min(...loads).toFixed(2)}–` +
    `${Math.max(...loads).toFixed(2)} during the measurements.`,
    `- Server: ${record.serverVersions}; one process (bench/_python_app.py), \`WSLINK_MAX_MSG_SIZE\` ` +
    "default (4 MiB frames).",
    `- Clients: ${
      record.clientVersions.join(", ")
    }; wslink ${referenceVersion()} (the reference) on Bun only.`,
    `- ${record.runs} runs. In each run every workload is done by every client in turn (all ` +
    "runtimes' clients connected at once, the order rotated from run to run), so that the " +
    "clients share the machine's moments of load. Rates: median (lowest–highest) of the runs; " +
    "ratios to the reference are taken within each run, then summarised the same way.",
    `- Workloads: ${record.publishes.toLocaleString("en-US")} publishes of ~100 bytes (the ` +
    "`trame_wire.bench.publish` trigger calls wslink's `publish` in a loop; rate from the " +
    `trigger call to the last publish delivered); ${record.calls.toLocaleString("en-US")} ` +
    "`add(1, 2)` round trips one at a time, then as many with 100 in flight; one result of " +
    `${record.largeMiB} MiB of the demo pattern (\`trame_wire.bench.blob\`), then one of ` +
    "random bytes (`trame_wire.bench.noise`, checked against the server's SHA-256).",
    "- Per unit (publish, call or result), medians: the server's CPU time (`getrusage`, user + " +
    "system, the system part in brackets) and the times it was preempted while it could run " +
    "(involuntary context switches); the client process's CPU time, and the times its main " +
    "thread slept waiting (voluntary context switches of that thread: each is a wake-up that " +
    "the server's sends had to cause).",
    "",
    "#### Publishes",
    "",
    table(
      ["client", "publishes/s", "/ reference", ...PER_UNIT_HEADER],
      rows(record, "publish", [[(m) => m.publishesPerSecond!, rate]], "µs"),
    ),
    "",
    "#### RPC round trips",
    "",
    table(
      [
        "client",
        "sequential/s",
        "/ reference",
        "100 in flight/s",
        "/ reference",
        ...PER_UNIT_HEADER,
      ],
      rows(record, "rpc", [
        [(m) => m.sequentialPerSecond!, rate],
        [(m) => m.inFlightPerSecond!, rate],
      ], "µs"),
    ),
    "",
    `#### One ${record.largeMiB} MiB result: the demo pattern (compresses ~140:1)`,
    "",
    table(
      ["client", "MB/s", "/ reference", ...PER_UNIT_HEADER],
      rows(record, "large", [[(m) => m.megabytesPerSecond!, fixed(0)]], "ms"),
    ),
    "",
    `#### One ${record.largeMiB} MiB result: random bytes (do not compress)`,
    "",
    table(
      ["client", "MB/s", "/ reference", ...PER_UNIT_HEADER],
      rows(record, "noise", [[(m) => m.megabytesPerSecond!, fixed(0)]], "ms"),
    ),
    "",
  ].join("\n");
}

/** Starts the server and every runtime's clients, and takes every measurement. */
async function measureAll(): Promise<RunRecord> {
  const started = new Date();
  const startedAt = performance.now();
  const port = settings.port || await freePort();
  const server = await startPythonServer(settings.serverCommand, port);
  console.error(`server: ${server.versions} at ${server.url}`);
  const measurements: PythonMeasurement[] = [];
  const processes: ClientProcess[] = [];
  try {
    for (const runtime of settings.runtimes) {
      processes.push(await startClients(runtime, server.url));
    }
    const clients = processes.flatMap((client) =>
      kindsOf(client.runtime).map((kind) => ({ client, kind }))
    );
    for (let run = 1; run <= settings.runs; run++) {
      for (const workload of WORKLOADS) {
        for (let turn = 0; turn < clients.length; turn++) {
          const { client, kind } = clients[(turn + run - 1) % clients.length];
          const measurement = await client.measure({ kind, workload, run });
          measurements.push(measurement);
          console.error(describe(measurement));
        }
      }
    }
  } finally {
    for (const client of processes) await client.close();
    await server.stop();
  }
  return {
    started: started.toISOString(),
    seconds: (performance.now() - startedAt) / 1000,
    serverVersions: server.versions,
    clientVersions: processes.map((client) => `${client.runtime} ${client.version}`),
    runs: settings.runs,
    publishes: settings.publishes,
    calls: settings.calls,
    largeMiB: settings.largeMiB,
    runtimes: settings.runtimes,
    measurements,
  };
}

let record: RunRecord;
if (settings.load !== "") {
  record = JSON.parse(readFileSync(settings.load, "utf8")) as RunRecord;
} else if (settings.serverCommand === "") {
  console.log(
    `bench/python_server.ts skipped: no server command. ${PYTHON_SERVER_HELP}`,
  );
  process.exit(0);
} else {
  try {
    record = await measureAll();
  } catch (error) {
    // The server or a client failed: say what happened, without a stack trace.
    console.error(`bench/python_server.ts: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
  if (settings.save !== "") writeFileSync(settings.save, `${JSON.stringify(record)}\n`);
}
const section = render(record);
console.log(section);
if (settings.write) {
  writeResultsSection(
    settings.results,
    { begin: BEGIN, end: END },
    "## Against the reference Python server\n\n`bench/python_server.ts`; how to run it is at " +
      "the top of the script.",
    section,
  );
}
