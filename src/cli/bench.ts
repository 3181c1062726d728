// `trame-wire bench`: throughput of publishes, RPC round trips and large messages.
import type { CliOutput } from "./main.ts";
import { connecting, EXIT_CODES } from "./failures.ts";
import { DEMO_TRIGGERS, startDemoServer } from "./demo_app.ts";
import { formatBytes, formatRate, ProgressReporter } from "./progress.ts";
import { WslinkSession } from "../session/session.ts";
import { CLIENT_ERROR, WslinkError } from "../session/errors.ts";
import {
  measureInFlight,
  measureLargeResults,
  measurePublishes,
  measureSequential,
  type Timing,
} from "./bench_measure.ts";

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** The server to measure; the embedded one (in this process) when undefined. */
  readonly url?: string;
  readonly secret?: string;
  /** How many small publishes to consume. */
  readonly publishes: number;
  /** How many RPC round trips, in each of the two modes. */
  readonly calls: number;
  /** Size of the large message, in MiB. */
  readonly sizeMiB: number;
}

/** One measured figure. */
export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

/** Runs the benchmark; prints each figure as it is measured; resolves with the exit code. */
export async function runBench(output: CliOutput, options: BenchOptions): Promise<number> {
  const embedded = options.url === undefined ? await startDemoServer({ log: () => {} }) : undefined;
  const url = options.url ?? embedded!.url;
  try {
    output.out(`benchmarking ${url}${embedded ? " (embedded server, same process)" : ""}\n`);
    const session = await connecting(url, WslinkSession.connect(url, { secret: options.secret }));
    try {
      const figures = await measureAll(session, options, output);
      output.out("\nresults:\n");
      for (const figure of figures) {
        output.out(`  ${figure.name.padEnd(34)} ${formatNumber(figure.value)} ${figure.unit}\n`);
      }
    } finally {
      await session.close();
    }
  } finally {
    await embedded?.close();
  }
  return EXIT_CODES.ok;
}

async function measureAll(
  session: WslinkSession,
  options: BenchOptions,
  output: CliOutput,
): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  const hasDemoTriggers = await supportsDemoTriggers(session);
  if (!hasDemoTriggers) {
    output.out("this server has no trame-wire bench triggers: measuring RPC round trips only\n");
  }
  const call = hasDemoTriggers
    ? () => session.call("trame.trigger", [DEMO_TRIGGERS.add, [1, 2], {}])
    : () => session.call("trame.state.get");

  if (hasDemoTriggers && options.publishes > 0) {
    const progress = new ProgressReporter(output, `${options.publishes} publishes`);
    const timing = await measurePublishes(
      session,
      options.publishes,
      (received) => progress.update(received, options.publishes),
    );
    progress.finish();
    figures.push({
      name: "publishes consumed",
      value: (timing.count * 1000) / timing.totalMs,
      unit: "msg/s",
    });
  }
  if (options.calls > 0) {
    const sequential = await measureSequential(options.calls, call);
    figures.push({ name: "RPC round trips, sequential", ...perSecond(sequential, "calls/s") });
    output.out(`sequential calls done\n`);
    const concurrent = await measureInFlight(options.calls, 100, call);
    figures.push({ name: "RPC round trips, 100 in flight", ...perSecond(concurrent, "calls/s") });
    output.out(`concurrent calls done\n`);
  }
  if (hasDemoTriggers && options.sizeMiB > 0) {
    const size = options.sizeMiB * 1024 * 1024;
    const progress = new ProgressReporter(output, `${formatBytes(size)} message`);
    const stop = session.on("progress", (event) => progress.update(event.received, event.total));
    const timing = await measureLargeResults(session, 1, size);
    progress.finish();
    stop();
    output.out(`large message: ${formatRate(size, timing.ms)}\n`);
    figures.push({ name: "large message", value: size / timing.ms / 1e6, unit: "GB/s" });
  }
  return figures;
}

function perSecond(timing: Timing, unit: string): { value: number; unit: string } {
  return { value: (timing.count * 1000) / timing.ms, unit };
}

async function supportsDemoTriggers(session: WslinkSession): Promise<boolean> {
  try {
    await session.call("trame.trigger", [DEMO_TRIGGERS.add, [1, 2], {}]);
    return true;
  } catch (error) {
    // The server answered with an error of its own: the method or trigger is not there.
    if (error instanceof WslinkError && error.code !== CLIENT_ERROR) return false;
    throw error;
  }
}

function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2);
}
