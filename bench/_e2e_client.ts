// One client of the end-to-end matrix (bench/e2e.ts), run under Deno, Bun or Node 24:
//   <runtime> bench/_e2e_client.ts URL KIND SCENARIO [--publishes N] [--calls N]
//     [--large-count N] [--large-mib N] [--timeout-ms N] [--backlog-ms N]
// KIND is trame-wire (WslinkSession), bare (the runtime's WebSocket, counting frames and bytes,
// no decoding: the limit) or reference (wslink 2.5.0, Bun only). Prints one JSON ClientReport.
import process from "node:process";
import { measureInFlight, measureSequential } from "../src/cli/bench_measure.ts";
import { connectBenchClient } from "./_bench_clients.ts";
import {
  type ClientKind,
  type ClientReport,
  memory,
  reportAndExit,
  runtimeInfo,
  type Scenario,
} from "./_e2e_shared.ts";

const IN_FLIGHT = 100;
// Publishes per backlog batch: about 2 MB of frames, which the socket buffers hold.
const BACKLOG_BATCH = 20_000;

interface Settings {
  readonly url: string;
  readonly kind: ClientKind;
  readonly scenario: Scenario;
  readonly publishes: number;
  readonly calls: number;
  readonly largeCount: number;
  readonly largeSize: number;
  readonly backlogMs: number;
}

function parseSettings(argv: string[]): Settings & { timeoutMs: number } {
  const [url, kind, scenario] = argv;
  const option = (name: string, fallback: number) => {
    const index = argv.indexOf(`--${name}`);
    return index < 0 ? fallback : Number(argv[index + 1]);
  };
  if (!["trame-wire", "bare", "reference"].includes(kind)) throw new Error(`kind ${kind}?`);
  if (!["publish", "rpc", "large"].includes(scenario)) throw new Error(`scenario ${scenario}?`);
  return {
    url,
    kind: kind as ClientKind,
    scenario: scenario as Scenario,
    publishes: option("publishes", 100_000),
    calls: option("calls", 5_000),
    largeCount: option("large-count", 16),
    largeSize: option("large-mib", 64) * 1024 * 1024,
    timeoutMs: option("timeout-ms", 120_000),
    backlogMs: option("backlog-ms", 400),
  };
}

async function run(settings: Settings): Promise<ClientReport> {
  const client = await connectBenchClient(settings.kind, settings.url);
  const base = { ...runtimeInfo(), kind: settings.kind, scenario: settings.scenario };
  try {
    // Every workload is run once untimed, smaller, so that the timed run meets warm code.
    if (settings.scenario === "publish") {
      await client.publishes(Math.min(10_000, settings.publishes), 0);
      const baseRss = memory().current;
      const cpu = process.cpuUsage();
      const [streaming, total] = await client.publishes(settings.publishes, 0);
      const used = process.cpuUsage(cpu);
      // The backlog pass in batches small enough (~2 MB) to sit in the socket buffers whole.
      let consumedCount = 0;
      let consumedMs = 0;
      for (let done = 0; done < settings.publishes; done += BACKLOG_BATCH) {
        const batch = Math.min(BACKLOG_BATCH, settings.publishes - done);
        const [rate] = await client.publishes(batch, settings.backlogMs);
        consumedCount += batch - 1;
        consumedMs += (batch - 1) * 1000 / rate;
      }
      const consumed = consumedCount * 1000 / consumedMs;
      return {
        ...base,
        publishesPerSecond: consumed,
        publishesPerSecondStreaming: streaming,
        publishesPerSecondTotal: total,
        cpuMicrosPerPublish: (used.user + used.system) / settings.publishes,
        peakRss: memory().peak,
        baseRss,
      };
    }
    if (settings.scenario === "rpc") {
      const warmUp = Math.min(1_000, settings.calls);
      await measureSequential(warmUp, client.call);
      await measureInFlight(warmUp, IN_FLIGHT, client.call);
      const baseRss = memory().current;
      const sequential = await measureSequential(settings.calls, client.call);
      const inFlight = await measureInFlight(settings.calls, IN_FLIGHT, client.call);
      return {
        ...base,
        sequentialPerSecond: sequential.count * 1000 / sequential.ms,
        inFlightPerSecond: inFlight.count * 1000 / inFlight.ms,
        peakRss: memory().peak,
        baseRss,
      };
    }
    await client.large(1, settings.largeSize);
    const baseRss = memory().current;
    const large = await client.large(settings.largeCount, settings.largeSize);
    return {
      ...base,
      gbPerSecond: large.count * settings.largeSize / large.ms / 1e6,
      peakRss: memory().peak,
      baseRss,
    };
  } finally {
    await client.close();
  }
}

const settings = parseSettings(process.argv.slice(2));
await reportAndExit(() => run(settings), settings.timeoutMs);
