// What the end-to-end runner, server and clients agree on.
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";

/** The runtimes a client can run on. */
export type Runtime = "deno" | "bun" | "node";
/** Who receives: trame-wire's session, the runtime's bare WebSocket, the wslink reference. */
export type ClientKind = "trame-wire" | "bare" | "reference";
/** The workloads. */
export type Scenario = "publish" | "rpc" | "large";

/** What one client process reports (one JSON line on stdout). */
export interface ClientReport {
  readonly runtime: Runtime;
  readonly version: string;
  readonly kind: ClientKind;
  readonly scenario: Scenario;
  /** publish: publishes per second, first delivery to last, consumed from a backlog. */
  readonly publishesPerSecond?: number;
  /** publish: the same while the server streams them (no backlog). */
  readonly publishesPerSecondStreaming?: number;
  /** publish: streaming, from the trigger call to the last delivery. */
  readonly publishesPerSecondTotal?: number;
  /** publish: streaming, this process's CPU time (user + system) per publish, call to last. */
  readonly cpuMicrosPerPublish?: number;
  readonly sequentialPerSecond?: number;
  readonly inFlightPerSecond?: number;
  /** large: bytes of results per second, in GB/s (10^9). */
  readonly gbPerSecond?: number;
  /** Peak resident memory of the process (VmHWM), bytes. */
  readonly peakRss: number;
  /** Resident memory before the workload started, bytes. */
  readonly baseRss: number;
}

/** The runtime this code runs on, and its version. */
export function runtimeInfo(): { runtime: Runtime; version: string } {
  const globals = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (globals.Deno !== undefined) return { runtime: "deno", version: globals.Deno.version.deno };
  if (globals.Bun !== undefined) return { runtime: "bun", version: globals.Bun.version };
  return { runtime: "node", version: process.versions.node };
}

/** `VmHWM` (peak) and `VmRSS` (now) of this process, in bytes. */
export function memory(): { peak: number; current: number } {
  const status = readFileSync("/proc/self/status", "utf8");
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    return match === null ? NaN : Number(match[1]) * 1024;
  };
  return { peak: field("VmHWM"), current: field("VmRSS") };
}

/**
 * Resets this process's peak resident memory (`VmHWM`) to what it uses now, so that the next
 * peak read is that of what follows; returns the resident memory at that point, in bytes.
 */
export function resetPeakMemory(): number {
  writeFileSync("/proc/self/clear_refs", "5");
  return memory().current;
}

/**
 * What a benchmark server process does once it listens: prints one JSON line
 * `{url, runtime, version}`, then closes `server` and exits when its standard input ends (the
 * runner ends it, or dies).
 */
export function serveUntilInputEnds(server: { url: string; close(): Promise<void> }): void {
  const { runtime, version } = runtimeInfo();
  process.stdout.write(`${JSON.stringify({ url: server.url, runtime, version })}\n`);
  process.stdin.resume();
  process.stdin.on("data", () => {});
  process.stdin.on("end", async () => {
    await server.close();
    process.exit(0);
  });
}

/**
 * What a benchmark client process does: runs `measure` within `timeoutMs` (exit 3 past it),
 * prints its report as one JSON line and exits 0, or prints the failure and exits 1.
 */
export async function reportAndExit(
  measure: () => Promise<unknown>,
  timeoutMs: number,
): Promise<never> {
  const timer = setTimeout(() => {
    process.stderr.write(`timed out after ${timeoutMs} ms\n`);
    process.exit(3);
  }, timeoutMs);
  try {
    const report = await measure();
    process.stdout.write(`${JSON.stringify(report)}\n`);
    clearTimeout(timer);
    process.exit(0);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  }
}
