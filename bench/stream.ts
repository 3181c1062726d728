// The streaming benchmark: results streamed from a file (1 GiB and 3.5 GiB by default) by the
// embedded server, received by `callStream` and by the bare WebSocket, server and client in
// separate processes on the same runtime, for each runtime; the buffered path's 64 MiB results
// (`call`, as bench/e2e.ts measures them) in the same run; and, with --python, a 1 GiB result of
// the reference Python server (bench/_python_app.py, started as bench/python_server.ts starts
// it) received by `callStream` on each runtime. Prints the medians and, with --write, rewrites
// its section of bench/RESULTS.md.
//   [TRAME_WIRE_PYTHON_SERVER='python3 {app} --port {port}'] deno run -A bench/stream.ts
//     [--write] [--runs 1] [--sizes-mib 1024,3584] [--runtimes deno,bun,node]
//     [--kinds trame-wire,trame-wire-views,bare] [--no-buffered] [--dir /tmp] [--port N]
// Without a server command, the Python part is skipped (and said so).
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { ClientReport, Runtime } from "./_e2e_shared.ts";
import { freePort, PYTHON_SERVER_HELP, startPythonServer } from "./_python_process.ts";
import {
  median,
  option,
  root,
  runJsonProcess,
  runtimeCommand,
  startServerProcess,
  table,
  writeResultsSection,
} from "./_runner.ts";
import type { StreamClientKind, StreamReport } from "./_stream_shared.ts";

const BEGIN = "<!-- stream:begin (written by bench/stream.ts --write) -->";
const END = "<!-- stream:end -->";
const MIB = 2 ** 20;
const WARM_UP_BYTES = 64 * MIB;
// A client gets this long for its transfers, plus a second per 10 MiB of result.
const CLIENT_BASE_TIMEOUT_MS = 60_000;

const settings = {
  runs: Number(option("runs", "1")),
  sizes: option("sizes-mib", "1024,3584").split(",").map((mib) => Number(mib) * MIB),
  runtimes: option("runtimes", "deno,bun,node").split(",") as Runtime[],
  pythonCommand: option("server-command", process.env.TRAME_WIRE_PYTHON_SERVER ?? ""),
  port: Number(option("port", "0")),
  buffered: !process.argv.includes("--no-buffered"),
  kinds: option("kinds", "trame-wire,trame-wire-views,bare").split(",") as StreamClientKind[],
  dir: option("dir", "/tmp"),
  write: process.argv.includes("--write"),
  results: option("results", join(root, "bench", "RESULTS.md")),
};

function streamClient(
  runtime: Runtime,
  kind: StreamClientKind,
  url: string,
  size: number,
  extra: string[],
): Promise<StreamReport> {
  const [program, ...args] = runtimeCommand(runtime, "_stream_client.ts");
  const timeoutMs = CLIENT_BASE_TIMEOUT_MS + Math.ceil(size / (10 * MIB)) * 1000;
  args.push(url, kind, String(size), "--timeout-ms", String(timeoutMs), ...extra);
  return runJsonProcess([program, ...args], timeoutMs, `${runtime} ${kind} ${size} bytes`);
}

function bufferedClient(runtime: Runtime, kind: "trame-wire" | "bare", url: string) {
  const [program, ...args] = runtimeCommand(runtime, "_e2e_client.ts");
  args.push(url, kind, "large", "--large-count", "16", "--large-mib", "64");
  args.push("--timeout-ms", String(CLIENT_BASE_TIMEOUT_MS));
  return runJsonProcess<ClientReport>(
    [program, ...args],
    CLIENT_BASE_TIMEOUT_MS,
    `${runtime} ${kind} buffered`,
  );
}

// Sparse files: read as zeros from the page cache, so the disk does not set the pace.
function makeFiles(): Map<number, string> {
  const files = new Map<number, string>();
  for (const size of [WARM_UP_BYTES, ...settings.sizes]) {
    const path = join(settings.dir, `trame-wire-bench-${process.pid}-${size}.bin`);
    writeFileSync(path, new Uint8Array(0));
    spawnSync("truncate", ["-s", String(size), path]);
    files.set(size, path);
  }
  return files;
}

const streamed = new Map<string, StreamReport[]>();
const buffered = new Map<string, ClientReport[]>();
const python = new Map<string, StreamReport[]>();
const versions = new Map<Runtime, string>();
let pythonVersions = "";

function record<T>(table: Map<string, T[]>, key: string, report: T): void {
  table.set(key, [...table.get(key) ?? [], report]);
}

async function measureRuntime(runtime: Runtime, files: Map<number, string>): Promise<void> {
  const [program, ...args] = runtimeCommand(runtime, "_stream_server.ts");
  args.push(...[...files].map(([size, path]) => `${size}=${path}`));
  for (const size of settings.sizes) {
    for (const kind of settings.kinds) {
      // A fresh server for each transfer, so that one's memory does not weigh on the next.
      const server = await startServerProcess([program, ...args]);
      try {
        const extra = ["--warmup", String(WARM_UP_BYTES), "--server-memory"];
        const report = await streamClient(runtime, kind, server.info.url, size, extra);
        versions.set(runtime, report.version);
        record(streamed, `${runtime}/${kind}/${size}`, report);
        console.error(`${runtime} ${kind} ${size / MIB} MiB: ${describe(report)}`);
      } finally {
        await server.stop();
      }
    }
  }
  if (!settings.buffered) return;
  const server = await startServerProcess([program, ...args]);
  try {
    for (const kind of ["trame-wire", "bare"] as const) {
      const report = await bufferedClient(runtime, kind, server.info.url);
      record(buffered, `${runtime}/${kind}`, report);
      console.error(
        `${runtime} ${kind} buffered 16 × 64 MiB: ${report.gbPerSecond!.toFixed(3)} GB/s, ` +
          `growth ${mib(report.peakRss - report.baseRss)} MiB`,
      );
    }
  } finally {
    await server.stop();
  }
}

// The demo pattern of bench/_python_app.py, made once per size and kept by the server.
const PYTHON_BLOB_TRIGGER = "trame_wire.bench.blob";

async function measurePython(): Promise<void> {
  const port = settings.port || await freePort();
  const server = await startPythonServer(settings.pythonCommand, port);
  console.error(`python server: ${server.versions}`);
  pythonVersions = server.versions;
  try {
    for (const runtime of settings.runtimes) {
      for (const kind of ["trame-wire", "bare"] as const) {
        const extra = ["--trigger", PYTHON_BLOB_TRIGGER, "--warmup", String(WARM_UP_BYTES)];
        const report = await streamClient(runtime, kind, server.url, 2 ** 30, extra);
        record(python, `${runtime}/${kind}`, report);
        console.error(`python → ${runtime} ${kind} 1 GiB: ${describe(report)}`);
      }
    }
  } finally {
    await server.stop();
  }
}

const mib = (bytes: number) => (bytes / MIB).toFixed(0);
const gbps = (report: StreamReport) => report.size / report.ms / 1e6;

function describe(report: StreamReport): string {
  const server = report.serverGrowth === undefined ? "" : `, server +${mib(report.serverGrowth)}`;
  return `${gbps(report).toFixed(3)} GB/s, client +${mib(report.clientGrowth)} MiB${server}`;
}

function medianOf<T>(list: T[] | undefined, pick: (report: T) => number | undefined): number {
  const values = (list ?? []).map(pick).filter((value): value is number => value !== undefined);
  return values.length === 0 ? NaN : median(values);
}

const fixed = (value: number, digits = 2) => Number.isNaN(value) ? "–" : value.toFixed(digits);
const plus = (bytes: number) => Number.isNaN(bytes) ? "–" : `+${mib(bytes)}`;

function render(started: Date, seconds: number, load: string): string {
  const runtimes = settings.runtimes;
  const lines = [
    `- Date: ${started.toISOString()}; the whole run took ${seconds.toFixed(0)} s.`,
    `- Machine: \`nproc\` = ${availableParallelism()}, ${cpus()[0]?.model ?? "?"}; load ` +
    `average (1/5/15 min) at the end ${load}.`,
    `- Runtimes: ${
      runtimes.map((runtime) => `${runtime} ${versions.get(runtime) ?? "?"}`).join(", ")
    }.`,
    `- Each figure is the median of ${settings.runs} run(s). Server and client run in separate ` +
    "processes on the same runtime; each transfer gets a fresh server process. The file is " +
    "sparse (zeros from the page cache), streamed by the embedded server's `openFile` in " +
    "frames of `maxMsgSize` 10,000,000 bytes. Each client first receives a 64 MiB result " +
    "untimed; both processes' peak resident memory (`VmHWM`) is then reset " +
    "(`/proc/self/clear_refs`), and the growth is the peak during the timed transfer minus " +
    "the resident memory at the reset. GB/s is 10^9 bytes of result per second, from the " +
    "call to the last byte. trame-wire reads with a BYOB reader into one 1 MiB buffer (each " +
    "frame freed once copied), views with a default reader (each frame's bytes as a view, " +
    "freed by the collector); both only count the bytes, as the bare WebSocket, which " +
    "receives the very same frames, does. Client CPU is user + system time over the transfer.",
    "",
    "### Streamed results (`callStream`)",
    "",
    table(
      [
        "runtime, size",
        "GB/s: trame-wire / views / bare",
        "trame-wire / bare",
        "client growth MiB: trame-wire / views / bare",
        "server growth MiB: trame-wire / views / bare",
        "client CPU s: trame-wire / views / bare",
      ],
      runtimes.flatMap((runtime) =>
        settings.sizes.map((size) => {
          const of = (kind: StreamClientKind) => streamed.get(`${runtime}/${kind}/${size}`);
          const each = (pick: (list: StreamReport[] | undefined) => string) =>
            (["trame-wire", "trame-wire-views", "bare"] as const).map((kind) => pick(of(kind)))
              .join(" / ");
          const rate = (kind: StreamClientKind) => medianOf(of(kind), gbps);
          return [
            `${runtime}, ${size / 2 ** 30} GiB`,
            each((list) => fixed(medianOf(list, gbps), 3)),
            fixed(rate("trame-wire") / rate("bare")),
            each((list) => plus(medianOf(list, (r) => r.clientGrowth))),
            each((list) => plus(medianOf(list, (r) => r.serverGrowth))),
            each((list) => fixed(medianOf(list, (r) => r.cpuMs / 1000), 1)),
          ];
        })
      ),
    ),
    "",
  ];
  if (settings.buffered) {
    lines.push(
      "### The buffered path in the same run (`call`, 16 results of 64 MiB)",
      "",
      "`bench/_e2e_client.ts … large` against the same server process kind (the demo pattern " +
        "made once and kept, so the transfer is what is timed). Growth is the client's peak " +
        "over the timed results minus its resident memory before them.",
      "",
      table(
        ["runtime", "trame-wire GB/s", "bare GB/s", "trame-wire / bare", "growth MiB", "× msg"],
        runtimes.map((runtime) => {
          const mine = buffered.get(`${runtime}/trame-wire`);
          const bare = buffered.get(`${runtime}/bare`);
          const growth = medianOf(mine, (r) => r.peakRss - r.baseRss);
          const mineRate = medianOf(mine, (r) => r.gbPerSecond);
          const bareRate = medianOf(bare, (r) => r.gbPerSecond);
          return [
            runtime,
            fixed(mineRate, 3),
            fixed(bareRate, 3),
            fixed(mineRate / bareRate),
            plus(growth),
            fixed(growth / (64 * MIB)),
          ];
        }),
      ),
      "",
    );
  }
  if (settings.pythonCommand !== "") {
    lines.push(
      "### From the reference Python server (1 GiB)",
      "",
      `The \`trame_wire.bench.blob\` trigger of bench/_python_app.py on ${pythonVersions}, ` +
        "which packs the whole result before sending it (so its own memory is not measured): " +
        "the figures are the client's.",
      "",
      table(
        [
          "client runtime",
          "trame-wire GB/s",
          "bare GB/s",
          "trame-wire / bare",
          "client growth MiB",
        ],
        runtimes.map((runtime) => {
          const mine = python.get(`${runtime}/trame-wire`);
          const bare = python.get(`${runtime}/bare`);
          const mineRate = medianOf(mine, gbps);
          const bareRate = medianOf(bare, gbps);
          return [
            runtime,
            fixed(mineRate, 3),
            fixed(bareRate, 3),
            fixed(mineRate / bareRate),
            plus(medianOf(mine, (r) => r.clientGrowth)),
          ];
        }),
      ),
      "",
    );
  }
  return lines.join("\n");
}

if (settings.pythonCommand === "") {
  console.error(
    `bench/stream.ts: the Python part is skipped: no server command. ${PYTHON_SERVER_HELP}`,
  );
}
const started = new Date();
const startedAt = performance.now();
const files = makeFiles();
try {
  for (let run = 1; run <= settings.runs; run++) {
    for (const runtime of settings.runtimes) await measureRuntime(runtime, files);
    if (settings.pythonCommand !== "") await measurePython();
  }
} finally {
  for (const path of files.values()) rmSync(path, { force: true });
}
const load = loadavg().map((value) => value.toFixed(2)).join(" / ");
const section = render(started, (performance.now() - startedAt) / 1000, load);
console.log(section);
if (settings.write) {
  writeResultsSection(
    settings.results,
    { begin: BEGIN, end: END },
    "## Streaming\n\n`bench/stream.ts`, run with `TRAME_WIRE_PYTHON_SERVER=… deno run -A " +
      "bench/stream.ts --runs 3 --write`.",
    section,
  );
}
