// The well-behaved client of bench/attack.ts, in a process of its own (so that the attackers'
// work does not delay it): connects to the URL in its first argument and calls `trame.state.get`
// every 100 ms, one call at a time, each with a 2 s timeout, for the seconds in its second
// argument; then prints one JSON line, a `ProbeReport`.
import process from "node:process";
import { WslinkSession } from "../mod.ts";

/** What the probe reports. */
export interface ProbeReport {
  readonly calls: number;
  /** Calls that did not get their reply within 2 s (or failed otherwise), with why. */
  readonly failures: string[];
  /** Milliseconds from call to reply. */
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** How the session ended, when the server ended it. */
  readonly closed: string | undefined;
}

const [url, secondsText] = process.argv.slice(2);
const startedAt = performance.now();
const deadline = startedAt + Number(secondsText) * 1000;
const latencies: number[] = [];
const failures: string[] = [];
let closed: string | undefined;
const session = await WslinkSession.connect(url, { helloTimeout: 10_000 });
session.on("close", ({ code, reason, local }) => {
  if (!local) closed = `${code} ${reason}`;
});
while (performance.now() < deadline && closed === undefined) {
  const start = performance.now();
  try {
    await session.call("trame.state.get", [], {}, { timeout: 2_000 });
    latencies.push(performance.now() - start);
  } catch (error) {
    failures.push(`${((start - startedAt) / 1000).toFixed(1)} s: ${(error as Error).message}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
await session.close();
latencies.sort((a, b) => a - b);
const at = (fraction: number) =>
  Math.round(latencies[Math.min(latencies.length - 1, Math.floor(fraction * latencies.length))]);
const report: ProbeReport = {
  calls: latencies.length + failures.length,
  failures,
  medianMs: at(0.5),
  p99Ms: at(0.99),
  maxMs: Math.round(latencies.at(-1) ?? 0),
  closed,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
