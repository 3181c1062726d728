// `trame-wire bench`: throughput of publishes, RPC round trips and large messages.
import type { CliOutput } from "./main.ts";
import { connecting, EXIT_CODES } from "./failures.ts";
import { DEMO_TRIGGERS, startDemoServer } from "./demo_app.ts";
import { formatBytes, formatRate, ProgressReporter } from "./progress.ts";
import { WslinkSession } from "../session/session.ts";
import { CLIENT_ERROR, WslinkError } from "../session/errors.ts";

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

const TOPIC = "trame_wire.bench";

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
    const rate = await measurePublishes(session, options.publishes, output);
    figures.push({ name: "publishes consumed", value: rate, unit: "msg/s" });
  }
  if (options.calls > 0) {
    let started = performance.now();
    for (let index = 0; index < options.calls; index++) await call();
    figures.push({
      name: "RPC round trips, sequential",
      value: (options.calls * 1000) / (performance.now() - started),
      unit: "calls/s",
    });
    output.out(`sequential calls done\n`);
    started = performance.now();
    await inFlight(options.calls, 100, call);
    figures.push({
      name: "RPC round trips, 100 in flight",
      value: (options.calls * 1000) / (performance.now() - started),
      unit: "calls/s",
    });
    output.out(`concurrent calls done\n`);
  }
  if (hasDemoTriggers && options.sizeMiB > 0) {
    const size = options.sizeMiB * 1024 * 1024;
    const progress = new ProgressReporter(output, `${formatBytes(size)} message`);
    const stop = session.on("progress", (event) => progress.update(event.received, event.total));
    const started = performance.now();
    const blob = await session.call<Uint8Array>("trame.trigger", [DEMO_TRIGGERS.blob, [size], {}]);
    const elapsed = performance.now() - started;
    progress.finish();
    stop();
    if (blob.byteLength !== size) throw new Error(`expected ${size} bytes, got ${blob.byteLength}`);
    output.out(`large message: ${formatRate(size, elapsed)}\n`);
    figures.push({ name: "large message", value: size / elapsed / 1e6, unit: "GB/s" });
  }
  return figures;
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

async function measurePublishes(
  session: WslinkSession,
  count: number,
  output: CliOutput,
): Promise<number> {
  const progress = new ProgressReporter(output, `${count} publishes`);
  let received = 0;
  let checksum = 0;
  let done!: () => void;
  const allReceived = new Promise<void>((resolve) => (done = resolve));
  const subscription = session.subscribe(TOPIC, (payload) => {
    checksum += (payload as { index: number }).index;
    received++;
    if ((received & 1023) === 0) progress.update(received, count);
    if (received === count) done();
  });
  try {
    const started = performance.now();
    await session.call("trame.trigger", [DEMO_TRIGGERS.benchPublish, [count, TOPIC], {}]);
    await allReceived;
    const elapsed = performance.now() - started;
    progress.update(count, count);
    progress.finish();
    const expected = (count * (count - 1)) / 2;
    if (checksum !== expected) {
      throw new Error(`publish checksum ${checksum}, expected ${expected}`);
    }
    return (count * 1000) / elapsed;
  } finally {
    subscription.unsubscribe();
  }
}

async function inFlight(total: number, window: number, call: () => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, total) }, worker));
}

function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2);
}
