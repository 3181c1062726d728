// The clients of bench/python_server.ts, one process per runtime (Deno, Bun or Node 24), against
// the reference Python server running bench/_python_app.py:
//   <runtime> bench/_python_client.ts URL --kinds trame-wire,bare[,reference,...] [--publishes N]
//     [--calls N] [--in-flight N] [--large-mib N]
// It connects every kind, warms each up, prints `{"ready": true, runtime, version}`, then does
// one measurement per line read from stdin (`{"kind", "workload", "run"}`) and answers each with
// one JSON PythonMeasurement line; it closes everything when stdin ends. The runner sends the
// commands of all runtimes in turn, so that every client meets the same moments of the machine's
// load. Around each measurement it records the server's usage (CPU time and context switches,
// from the `trame_wire.bench.usage` trigger through a session of its own) and this process's
// (CPU time, and how often its main thread slept waiting, from /proc).
import { readFileSync } from "node:fs";
import process from "node:process";
import { createInterface } from "node:readline";
import { WslinkSession } from "../mod.ts";
import { measureInFlight, measureSequential } from "../src/cli/bench_measure.ts";
import type { WebSocketConstructor } from "../src/session/options.ts";
import { type BenchClient, connectBenchClient, trameWireClient } from "./_bench_clients.ts";
import { type ClientKind, runtimeInfo } from "./_e2e_shared.ts";

/**
 * The kinds of client: those of the end-to-end matrix, trame-wire asking for compression
 * (`compression: true`; only Bun's WebSocket lets a client choose) and, on Node, trame-wire over
 * the `ws` package's WebSocket without compression (Node's global WebSocket always asks for it).
 */
export type PythonClientKind = ClientKind | "trame-wire-compressed" | "trame-wire-ws";

/**
 * One workload of the Python benchmark: publishes, round trips, a large result of the demo
 * pattern (which compresses to almost nothing) and one of random bytes (which does not).
 */
export type PythonWorkload = "publish" | "rpc" | "large" | "noise";

/** What the runner asks for: one measurement. */
export interface PythonCommand {
  readonly kind: PythonClientKind;
  readonly workload: PythonWorkload;
  readonly run: number;
}

/** What the server's `trame_wire.bench.usage` trigger returns (seconds, counts). */
export interface ServerUsage {
  readonly user: number;
  readonly system: number;
  readonly voluntary: number;
  readonly involuntary: number;
}

/** One measurement: one kind of client doing one workload once. */
export interface PythonMeasurement extends PythonCommand {
  readonly runtime: string;
  readonly version: string;
  /** publish: publishes per second from the trigger call to the last one delivered. */
  readonly publishesPerSecond?: number;
  /** publish: publishes per second from the first delivered to the last. */
  readonly publishesPerSecondConsumed?: number;
  readonly sequentialPerSecond?: number;
  readonly inFlightPerSecond?: number;
  /** large: bytes of results per second, in MB/s (10^6). */
  readonly megabytesPerSecond?: number;
  /** The unit of the per-unit figures below: publishes, calls or results. */
  readonly units: number;
  /** Server CPU time per unit, µs. */
  readonly serverUserMicros: number;
  readonly serverSystemMicros: number;
  /** Times the server was preempted while it could still run, per unit. */
  readonly serverPreemptions: number;
  /** This process's CPU time (user + system) per unit, µs. */
  readonly clientCpuMicros: number;
  /** Times this process's main thread slept waiting (for the socket, mostly), per unit. */
  readonly clientWakeups: number;
  /** The 1-minute load average when the measurement ended. */
  readonly load: number;
}

interface Sizes {
  readonly publishes: number;
  readonly calls: number;
  readonly inFlight: number;
  readonly largeSize: number;
}

const SECRET = "wslink-secret";
const USAGE_TRIGGER = "trame_wire.bench.usage";
const NOISE_TRIGGER = "trame_wire.bench.noise";

function option(argv: string[], name: string, fallback: string): string {
  const index = argv.indexOf(`--${name}`);
  return index < 0 ? fallback : argv[index + 1];
}

/** Voluntary context switches of this process's main thread (NaN where /proc is missing). */
function mainThreadSleeps(): number {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function loadAverage(): number {
  try {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return NaN;
  }
}

async function connect(kind: PythonClientKind, url: string): Promise<BenchClient> {
  switch (kind) {
    case "trame-wire-compressed":
      return trameWireClient(url, { compression: true });
    case "trame-wire-ws":
      return trameWireClient(url, { WebSocket: await uncompressedWs() });
    default:
      return connectBenchClient(kind, url);
  }
}

/** The `ws` package's WebSocket, not offering permessage-deflate. */
async function uncompressedWs(): Promise<WebSocketConstructor> {
  const { default: Ws } = await import("ws");
  return class extends Ws {
    constructor(url: string) {
      super(url, { perMessageDeflate: false });
    }
  } as unknown as WebSocketConstructor;
}

async function measure(
  client: BenchClient,
  workload: PythonWorkload,
  sizes: Sizes,
  monitor: WslinkSession,
): Promise<Partial<PythonMeasurement> & { units: number }> {
  switch (workload) {
    case "publish": {
      const [consumed, total] = await client.publishes(sizes.publishes, 0);
      return {
        publishesPerSecond: total,
        publishesPerSecondConsumed: consumed,
        units: sizes.publishes,
      };
    }
    case "rpc": {
      const sequential = await measureSequential(sizes.calls, client.call);
      const parallel = await measureInFlight(sizes.calls, sizes.inFlight, client.call);
      return {
        sequentialPerSecond: sequential.count * 1000 / sequential.ms,
        inFlightPerSecond: parallel.count * 1000 / parallel.ms,
        units: sequential.count + parallel.count,
      };
    }
    case "large": {
      const timing = await client.large(1, sizes.largeSize);
      return { megabytesPerSecond: sizes.largeSize / timing.ms / 1e3, units: 1 };
    }
    case "noise": {
      const { ms, bytes } = await client.result(NOISE_TRIGGER, sizes.largeSize);
      if (bytes !== undefined) await checkNoise(bytes, monitor);
      return { megabytesPerSecond: sizes.largeSize / ms / 1e3, units: 1 };
    }
  }
}

/** Checks random bytes received against the server's SHA-256 of what it sent (untimed). */
async function checkNoise(bytes: Uint8Array, monitor: WslinkSession): Promise<void> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  const hex = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
  const expected = await monitor.call("trame.trigger", ["trame_wire.bench.noise_digest", [], {}]);
  if (hex !== expected) throw new Error("the random result arrived altered");
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const url = argv[0];
  const kinds = option(argv, "kinds", "trame-wire,bare").split(",") as PythonClientKind[];
  const sizes: Sizes = {
    publishes: Number(option(argv, "publishes", "20000")),
    calls: Number(option(argv, "calls", "2000")),
    inFlight: Number(option(argv, "in-flight", "100")),
    largeSize: Number(option(argv, "large-mib", "50")) * 2 ** 20,
  };
  const monitor = await WslinkSession.connect(url, { secret: SECRET });
  const serverUsage = () =>
    monitor.call("trame.trigger", [USAGE_TRIGGER, [], {}]) as Promise<ServerUsage>;
  const clients = new Map<PythonClientKind, BenchClient>();
  const { runtime, version } = runtimeInfo();
  try {
    for (const kind of kinds) clients.set(kind, await connect(kind, url));
    // Warm-up, untimed and smaller, so that the timed runs meet warm code on both ends.
    for (const client of clients.values()) {
      await client.publishes(Math.min(2_000, sizes.publishes), 0);
      await measureSequential(Math.min(200, sizes.calls), client.call);
      await client.large(1, Math.min(sizes.largeSize, 2 ** 20));
    }
    // The random result is made once, before any measurement.
    await monitor.call("trame.trigger", [NOISE_TRIGGER, [sizes.largeSize], {}]);
    process.stdout.write(`${JSON.stringify({ ready: true, runtime, version })}\n`);
    for await (const line of createInterface({ input: process.stdin })) {
      if (line.trim() === "") continue;
      const command = JSON.parse(line) as PythonCommand;
      const client = clients.get(command.kind);
      if (client === undefined) throw new Error(`no client of kind ${command.kind}`);
      const serverBefore = await serverUsage();
      const cpuBefore = process.cpuUsage();
      const sleepsBefore = mainThreadSleeps();
      const figures = await measure(client, command.workload, sizes, monitor);
      const sleeps = mainThreadSleeps() - sleepsBefore;
      const cpu = process.cpuUsage(cpuBefore);
      const serverAfter = await serverUsage();
      const units = figures.units;
      const measurement: PythonMeasurement = {
        ...command,
        runtime,
        version,
        ...figures,
        serverUserMicros: (serverAfter.user - serverBefore.user) * 1e6 / units,
        serverSystemMicros: (serverAfter.system - serverBefore.system) * 1e6 / units,
        serverPreemptions: (serverAfter.involuntary - serverBefore.involuntary) / units,
        clientCpuMicros: (cpu.user + cpu.system) / units,
        clientWakeups: sleeps / units,
        load: loadAverage(),
      };
      process.stdout.write(`${JSON.stringify(measurement)}\n`);
    }
  } finally {
    for (const client of clients.values()) await client.close();
    await monitor.close();
  }
}

try {
  await main();
  process.exit(0);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
}
