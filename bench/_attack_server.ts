// The server of bench/attack.ts, in a process of its own: the embedded server with the options
// given as JSON in its first argument, a watch on its own event loop, and a record of every
// connection that closed. Prints one JSON line once listening ({ url }) and one `AttackReport`
// for each line read on standard input; closes when standard input ends.
import process from "node:process";
import { serve } from "../src/server/mod.ts";

/** What the server process reports. */
export interface AttackReport {
  readonly url: string;
  /** Resident memory now, and the largest sampled (every 20 ms) since the previous report. */
  readonly rss: number;
  readonly peakRss: number;
  /** The JavaScript heap in use, and the memory of ArrayBuffers (what the runtime reports). */
  readonly heapUsed: number;
  readonly arrayBuffers: number;
  /** The event loop: how late a 10 ms timer fired, at worst and in total beyond 50 ms. */
  readonly loop: {
    readonly maxLateMs: number;
    readonly stallsOver100Ms: number;
    readonly stallsOver500Ms: number;
    readonly ticks: number;
  };
  /** Connections closed, by code and reason: how many, first and last (seconds from start). */
  readonly closes: Record<string, { count: number; firstS: number; lastS: number }>;
  /** Clients connected now, and how many of them authenticated. */
  readonly clients: number;
  readonly authenticated: number;
  /** Log lines the server wrote, by level, and how many exits clients asked for. */
  readonly logLines: Record<string, number>;
  readonly exitRequests: number;
}

const started = performance.now();
const seconds = () => Math.round((performance.now() - started) / 100) / 10;
const logLines: Record<string, number> = {};
let exitRequests = 0;
const server = await serve({
  ...JSON.parse(process.argv[2] ?? "{}"),
  log: (level) => void (logLines[level] = (logLines[level] ?? 0) + 1),
  // A client may ask the application to exit; here that is only counted.
  onExit: () => void exitRequests++,
});

const closes: AttackReport["closes"] = {};
server.on("disconnect", (_client, code, reason) => {
  const key = `${code} ${reason}`;
  const entry = closes[key] ??= { count: 0, firstS: seconds(), lastS: 0 };
  entry.count++;
  entry.lastS = seconds();
});

// The event loop's health: a 10 ms timer, and how late it fires.
const TICK_MS = 10;
let expected = performance.now() + TICK_MS;
let maxLateMs = 0;
let stallsOver100Ms = 0;
let stallsOver500Ms = 0;
let ticks = 0;
let peakRss = 0;
const sampleRss = () => {
  try {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  } catch {
    // Reading it takes a file descriptor (Node): out of them, a sample is skipped.
  }
};
const monitor = setInterval(() => {
  const now = performance.now();
  const late = now - expected;
  expected = now + TICK_MS;
  ticks++;
  maxLateMs = Math.max(maxLateMs, late);
  if (late > 100) stallsOver100Ms++;
  if (late > 500) stallsOver500Ms++;
  if (ticks % 2 === 0) sampleRss();
}, TICK_MS);

const report = () => {
  sampleRss();
  const clients = server.clients;
  const memory = process.memoryUsage();
  const line: AttackReport = {
    url: server.url,
    rss: memory.rss,
    peakRss,
    heapUsed: memory.heapUsed,
    arrayBuffers: memory.arrayBuffers,
    loop: { maxLateMs: Math.round(maxLateMs), stallsOver100Ms, stallsOver500Ms, ticks },
    closes,
    clients: clients.length,
    authenticated: clients.filter((client) => client.authenticated).length,
    logLines,
    exitRequests,
  };
  peakRss = 0;
  maxLateMs = 0;
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text: string) => {
  for (const character of text) if (character === "\n") report();
});
process.stdin.on("end", async () => {
  clearInterval(monitor);
  await server.close();
  process.exit(0);
});
