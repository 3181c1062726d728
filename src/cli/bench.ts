// `trame-wire bench`: throughput of publishes, RPC round trips and large messages.
import type { CliOutput } from "./output.ts";
import { EXIT_CODES, NotFoundError } from "./failures.ts";
import { withSession } from "./connection.ts";
import { Watchdog } from "./deadline.ts";
import { DEMO_TRIGGERS, startDemoServer } from "./demo_app.ts";
import { formatBytes, formatCount, ProgressReporter } from "./progress.ts";
import type { WslinkSession } from "../session/session.ts";
import { METHOD_NOT_FOUND, WslinkError } from "../session/errors.ts";
import {
  addCall,
  BENCH_TOPIC,
  measureInFlight,
  measureLargeResults,
  measurePublishes,
  measureSequential,
  type Timing,
} from "./bench_measure.ts";
import { TRAME_METHODS } from "../trame/protocol.ts";

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** The server to measure; the embedded one (in this process) when undefined. */
  readonly url?: string;
  readonly secret?: string;
  /** How many small publishes to consume (0: none). */
  readonly publishes: number;
  /** How many RPC round trips, in each of the two modes. */
  readonly calls: number;
  /** Size of the large message, in MiB (0: none). */
  readonly sizeMiB: number;
  /**
   * Limit, in ms, of connecting, of each call, and of the silence while publishes or the large
   * message arrive.
   */
  readonly timeout: number;
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
    const settings = { url, secret: options.secret, timeout: options.timeout };
    const figures = await withSession(settings, (session) => measureAll(session, options, output));
    output.out("\nresults:\n");
    for (const figure of figures) {
      output.out(`  ${figure.name.padEnd(34)} ${formatNumber(figure.value)} ${figure.unit}\n`);
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
  // Publishes and the large message need the triggers of `trame-wire serve`; calls alone do not.
  const callsOnly = options.publishes === 0 && options.sizeMiB === 0;
  if (!callsOnly) await checkBenchTriggers(session, options.url);
  const call = callsOnly ? () => session.call(TRAME_METHODS.stateGet) : () => addCall(session);
  output.out(
    callsOnly
      ? "measuring RPC round trips with trame.state.get\n"
      : "measuring with the bench triggers of trame-wire serve\n",
  );
  if (options.publishes > 0) figures.push(await benchPublishes(session, options, output));
  if (options.calls > 0) figures.push(...await benchCalls(call, options.calls, output));
  if (options.sizeMiB > 0) figures.push(await benchLargeMessage(session, options, output));
  return figures;
}

async function benchPublishes(
  session: WslinkSession,
  { publishes, timeout }: BenchOptions,
  output: CliOutput,
): Promise<BenchFigure> {
  const progress = new ProgressReporter(output, "publishes", { noun: "publishes" });
  const timing = await measurePublishes(
    session,
    publishes,
    (received) => progress.update(received, publishes),
    0,
    timeout,
  );
  progress.finish();
  return {
    name: "publishes consumed",
    value: (timing.count * 1000) / timing.totalMs,
    unit: "publishes/s",
  };
}

// `calls` round trips one after the other, then as many with 100 in flight.
async function benchCalls(
  call: () => Promise<unknown>,
  calls: number,
  output: CliOutput,
): Promise<BenchFigure[]> {
  const sequential = await measureSequential(calls, call);
  output.out(`${formatCount(calls)} sequential calls done\n`);
  const concurrent = await measureInFlight(calls, 100, call);
  output.out(`${formatCount(calls)} calls, 100 in flight, done\n`);
  return [
    { name: "RPC round trips, sequential", ...perSecond(sequential, "calls/s") },
    { name: "RPC round trips, 100 in flight", ...perSecond(concurrent, "calls/s") },
  ];
}

async function benchLargeMessage(
  session: WslinkSession,
  options: BenchOptions,
  output: CliOutput,
): Promise<BenchFigure> {
  const size = options.sizeMiB * 1024 * 1024;
  const progress = new ProgressReporter(output, `${formatBytes(size)} message`);
  // The whole message may take long; what may not is a silence as long as the timeout.
  const watchdog = new Watchdog(options.timeout, "the large message");
  const stop = session.on("progress", (event) => {
    watchdog.touch();
    progress.update(event.received, event.total);
  });
  try {
    const timing = await watchdog.guard(
      measureLargeResults(session, 1, size, { timeout: 0, signal: watchdog.signal }),
    );
    progress.finish();
    return { name: "large message", value: size / MIB / (timing.ms / 1000), unit: "MiB/s" };
  } finally {
    watchdog.stop();
    stop();
  }
}

const MIB = 1024 * 1024;

function perSecond(timing: Timing, unit: string): { value: number; unit: string } {
  return { value: (timing.count * 1000) / timing.ms, unit };
}

/**
 * Asks for zero publishes: `trame-wire serve` answers 0, trame answers null for a trigger it does
 * not have, and a server without trame has no `trame.trigger` at all.
 */
async function checkBenchTriggers(session: WslinkSession, url: string | undefined): Promise<void> {
  const advice = "bench the URL of `trame-wire serve` (or no URL for the embedded server), " +
    "or add --calls-only to measure RPC round trips alone";
  let answer: unknown;
  try {
    answer = await session.call(TRAME_METHODS.trigger, [
      DEMO_TRIGGERS.benchPublish,
      [0, BENCH_TOPIC],
      {},
    ]);
  } catch (error) {
    if (error instanceof WslinkError && error.code === METHOD_NOT_FOUND) {
      throw new NotFoundError(`${url} is not a trame server (it has no trame.trigger): ${advice}`);
    }
    throw error;
  }
  if (answer !== 0) {
    throw new NotFoundError(
      `${url} lacks the bench triggers of trame-wire serve (its trigger ` +
        `${DEMO_TRIGGERS.benchPublish} answered ${JSON.stringify(answer)}): ${advice}`,
    );
  }
}

function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2);
}
