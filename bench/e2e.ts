// The end-to-end matrix: one server process (the embedded server), then client processes on
// Deno, Bun and Node 24, each kind of client (trame-wire, the bare WebSocket, the wslink
// reference on Bun) on each workload, all against that same server, `--runs` times; prints the
// medians and, with --write, rewrites its section of bench/RESULTS.md.
//   deno run -A bench/e2e.ts [--write] [--runs 3] [--server bun|deno|node] [--publishes 100000]
//     [--calls 5000] [--large-count 16] [--large-mib 64] [--scenarios publish,rpc,large]
//     [--runtimes deno,bun,node] [--backlog-ms 400] [--results bench/RESULTS.md]
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { ClientKind, ClientReport, Runtime, Scenario } from "./_e2e_shared.ts";
import {
  median,
  option,
  rate,
  referenceVersion,
  root,
  runJsonProcess,
  runtimeCommand,
  type ServerProcess,
  startServerProcess,
  table,
  writeResultsSection,
} from "./_runner.ts";

const BEGIN = "<!-- e2e:begin (written by bench/e2e.ts --write) -->";
const END = "<!-- e2e:end -->";
const CLIENT_TIMEOUT_MS = 60_000;

const settings = {
  runs: Number(option("runs", "3")),
  server: option("server", "deno") as Runtime,
  publishes: Number(option("publishes", "100000")),
  calls: Number(option("calls", "5000")),
  largeCount: Number(option("large-count", "16")),
  largeMiB: Number(option("large-mib", "64")),
  backlogMs: Number(option("backlog-ms", "400")),
  scenarios: option("scenarios", "publish,rpc,large").split(",") as Scenario[],
  runtimes: option("runtimes", "deno,bun,node").split(",") as Runtime[],
  write: process.argv.includes("--write"),
  results: option("results", join(root, "bench", "RESULTS.md")),
};

function runClient(
  runtime: Runtime,
  kind: ClientKind,
  scenario: Scenario,
  url: string,
): Promise<ClientReport> {
  const [program, ...args] = runtimeCommand(runtime, "_e2e_client.ts");
  args.push(url, kind, scenario, "--publishes", String(settings.publishes));
  args.push("--calls", String(settings.calls), "--large-count", String(settings.largeCount));
  args.push("--large-mib", String(settings.largeMiB));
  args.push("--timeout-ms", String(CLIENT_TIMEOUT_MS), "--backlog-ms", String(settings.backlogMs));
  return runJsonProcess([program, ...args], CLIENT_TIMEOUT_MS, `${runtime} ${kind} ${scenario}`);
}

type Metric =
  | "publishesPerSecond"
  | "publishesPerSecondTotal"
  | "publishesPerSecondStreaming"
  | "cpuMicrosPerPublish"
  | "sequentialPerSecond"
  | "inFlightPerSecond"
  | "gbPerSecond"
  | "peakRss"
  | "baseRss";

const key = (runtime: Runtime, kind: ClientKind, scenario: Scenario) =>
  `${runtime}/${kind}/${scenario}`;

const reports = new Map<string, ClientReport[]>();
const versions = new Map<Runtime, string>();

function figure(runtime: Runtime, kind: ClientKind, scenario: Scenario, metric: Metric): number {
  const list = reports.get(key(runtime, kind, scenario)) ?? [];
  const values = list.map((report) => report[metric]).filter((value) => value !== undefined);
  return values.length === 0 ? NaN : median(values as number[]);
}

function clients(): [Runtime, ClientKind][] {
  const list: [Runtime, ClientKind][] = [];
  for (const runtime of settings.runtimes) {
    list.push([runtime, "trame-wire"], [runtime, "bare"]);
    if (runtime === "bun") list.push([runtime, "reference"]);
  }
  return list;
}

async function runMatrix(url: string): Promise<void> {
  for (let run = 1; run <= settings.runs; run++) {
    for (const scenario of settings.scenarios) {
      for (const [runtime, kind] of clients()) {
        const started = performance.now();
        const report = await runClient(runtime, kind, scenario, url);
        versions.set(runtime, report.version);
        const list = reports.get(key(runtime, kind, scenario)) ?? [];
        list.push(report);
        reports.set(key(runtime, kind, scenario), list);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        console.error(
          `run ${run} ${scenario} ${runtime} ${kind}: ${summary(report)} (${seconds} s)`,
        );
      }
    }
  }
}

function summary(report: ClientReport): string {
  const parts: string[] = [];
  if (report.publishesPerSecond !== undefined) {
    parts.push(`${Math.round(report.publishesPerSecond)} pub/s`);
    parts.push(`streaming ${Math.round(report.publishesPerSecondStreaming!)}`);
    parts.push(`(${Math.round(report.publishesPerSecondTotal!)} incl. server packing)`);
    parts.push(`${report.cpuMicrosPerPublish!.toFixed(2)} µs CPU/pub`);
  }
  if (report.sequentialPerSecond !== undefined) {
    parts.push(`${Math.round(report.sequentialPerSecond)} seq/s`);
    parts.push(`${Math.round(report.inFlightPerSecond!)} in-flight/s`);
  }
  if (report.gbPerSecond !== undefined) parts.push(`${report.gbPerSecond.toFixed(3)} GB/s`);
  parts.push(`peak ${mib(report.peakRss)} MiB`);
  return parts.join(" ");
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const ratio = (value: number) => Number.isNaN(value) ? "–" : value.toFixed(2);

function render(
  server: ServerProcess["info"],
  started: Date,
  seconds: number,
  load: string,
): string {
  const ref = (scenario: Scenario, metric: Metric) => figure("bun", "reference", scenario, metric);
  const lines: string[] = [];
  const runtimes = settings.runtimes;
  const runtimeList = runtimes.map((runtime) => `${runtime} ${versions.get(runtime) ?? "?"}`);
  lines.push(
    `- Date: ${started.toISOString()}; the whole matrix took ${seconds.toFixed(0)} s.`,
    `- Machine: \`nproc\` = ${availableParallelism()}, ${cpus()[0]?.model ?? "?"}; load ` +
      `average (1/5/15 min) ${load}.`,
    `- Server: the embedded server (\`src/server\`, demo application) on ${server.runtime} ` +
      `${server.version}, one process, \`maxMsgSize\` 10,000,000 (the default frame size).`,
    `- Clients: ${runtimeList.join(", ")}; wslink ${referenceVersion()} (reference) on Bun only.`,
    `- Every figure is the median of ${settings.runs} runs; each run is a fresh client process ` +
      "which does the workload once untimed (smaller) and then once timed.",
    `- Workloads: ${settings.publishes.toLocaleString("en-US")} publishes of ~100 bytes; ` +
      `${settings.calls.toLocaleString("en-US")} \`add(1, 2)\` round trips sequentially and ` +
      `then with 100 in flight; ${settings.largeCount} results of ${settings.largeMiB} MiB.`,
    "",
  );
  if (settings.scenarios.includes("publish")) {
    const refRate = ref("publish", "publishesPerSecond");
    lines.push(
      "### Publishes consumed per second",
      "",
      "Main figures: consumed from a backlog, in batches of 20,000 (about 2 MB of frames, " +
        "which the socket buffers hold whole). Once the reply to a batch's trigger call arrived " +
        "(the server has packed all its publishes by then), the client holds its event loop " +
        `for ${settings.backlogMs} ms so that the frames pile up, then the time from the ` +
        "batch's first publish delivered to its last is taken and summed over the batches: the " +
        "client's pace rather than the server's. " +
        '"Streaming" is the same without the hold (a second timed pass), "from call" adds the ' +
        "server's packing. trame-wire and the reference decode each publish and hand it to a " +
        "subscriber (count and checksum checked); the bare WebSocket only counts frames. The " +
        "reference runs only in Bun, so every runtime's trame-wire is compared with the reference " +
        "on Bun. CPU µs/publish is the client process's user + system CPU time over the " +
        "streaming pass (call to last publish) divided by the count.",
      "",
      table(
        [
          "client runtime",
          "trame-wire",
          "bare WebSocket (limit)",
          "trame-wire / limit",
          "reference (Bun)",
          "trame-wire / reference",
          "streaming: trame-wire / bare / reference",
          "CPU µs/publish: trame-wire / bare / reference",
          "from call: trame-wire / reference",
        ],
        runtimes.map((runtime) => {
          const mine = figure(runtime, "trame-wire", "publish", "publishesPerSecond");
          const limit = figure(runtime, "bare", "publish", "publishesPerSecond");
          return [
            runtime,
            rate(mine),
            rate(limit),
            ratio(mine / limit),
            rate(refRate),
            ratio(mine / refRate),
            [
              figure(runtime, "trame-wire", "publish", "publishesPerSecondStreaming"),
              figure(runtime, "bare", "publish", "publishesPerSecondStreaming"),
              ref("publish", "publishesPerSecondStreaming"),
            ].map(rate).join(" / "),
            [
              figure(runtime, "trame-wire", "publish", "cpuMicrosPerPublish"),
              figure(runtime, "bare", "publish", "cpuMicrosPerPublish"),
              ref("publish", "cpuMicrosPerPublish"),
            ].map(ratio).join(" / "),
            [
              figure(runtime, "trame-wire", "publish", "publishesPerSecondTotal"),
              ref("publish", "publishesPerSecondTotal"),
            ].map(rate).join(" / "),
          ];
        }),
      ),
      "",
    );
  }
  if (settings.scenarios.includes("rpc")) {
    const rows: string[][] = [];
    for (const runtime of runtimes) {
      for (
        const [metric, label] of [["sequentialPerSecond", "sequential"], [
          "inFlightPerSecond",
          "100 in flight",
        ]] as const
      ) {
        const mine = figure(runtime, "trame-wire", "rpc", metric);
        const limit = figure(runtime, "bare", "rpc", metric);
        rows.push([
          `${runtime}, ${label}`,
          rate(mine),
          rate(limit),
          ratio(mine / limit),
          rate(ref("rpc", metric)),
          ratio(mine / ref("rpc", metric)),
        ]);
      }
    }
    lines.push(
      "### RPC round trips per second",
      "",
      "The bare WebSocket sends a call encoded once beforehand and takes any frame as the reply.",
      "",
      table([
        "client runtime, mode",
        "trame-wire",
        "bare WebSocket (limit)",
        "trame-wire / limit",
        "reference (Bun)",
        "trame-wire / reference",
      ], rows),
      "",
    );
  }
  if (settings.scenarios.includes("large")) {
    const size = settings.largeMiB * 2 ** 20;
    const refRate = ref("large", "gbPerSecond");
    lines.push(
      "### Large messages",
      "",
      `${settings.largeCount} results of ${settings.largeMiB} MiB, one call at a time ` +
        `(${Math.ceil((size + 16) / (10_000_000 - 12))} frames each). GB/s is 10^9 bytes of ` +
        "results per second. Peak memory is the client process's VmHWM (whole process, runtime " +
        "included) and, after the slash, that peak minus the resident memory just before the " +
        `timed results; "× msg" is the whole peak over one ${settings.largeMiB} MiB message.`,
      "",
      table(
        [
          "client runtime",
          "trame-wire GB/s",
          "bare GB/s (limit)",
          "trame-wire / limit",
          "reference GB/s (Bun)",
          "trame-wire / reference",
          "trame-wire peak MiB",
          "× msg",
          "bare peak MiB",
          "reference peak MiB",
        ],
        runtimes.map((runtime) => {
          const mine = figure(runtime, "trame-wire", "large", "gbPerSecond");
          const limit = figure(runtime, "bare", "large", "gbPerSecond");
          const peak = figure(runtime, "trame-wire", "large", "peakRss");
          const base = figure(runtime, "trame-wire", "large", "baseRss");
          const barePeak = figure(runtime, "bare", "large", "peakRss");
          return [
            runtime,
            ratio(mine),
            ratio(limit),
            ratio(mine / limit),
            ratio(refRate),
            ratio(mine / refRate),
            `${mib(peak)} / +${mib(peak - base)}`,
            ratio(peak / size),
            mib(barePeak),
            mib(ref("large", "peakRss")),
          ];
        }),
      ),
      "",
    );
  }
  return lines.join("\n");
}

const started = new Date();
const startedAt = performance.now();
const server = await startServerProcess(runtimeCommand(settings.server, "_e2e_server.ts"));
const { url, runtime, version } = server.info;
console.error(`server: ${runtime} ${version} at ${url}`);
try {
  await runMatrix(url);
} finally {
  await server.stop();
}
const load = loadavg().map((value) => value.toFixed(2)).join(" / ");
const section = render(server.info, started, (performance.now() - startedAt) / 1000, load);
console.log(section);
if (settings.write) {
  writeResultsSection(
    settings.results,
    { begin: BEGIN, end: END },
    "## End to end\n\n`bench/e2e.ts`, run with `deno run -A bench/e2e.ts --write`.",
    section,
  );
}
