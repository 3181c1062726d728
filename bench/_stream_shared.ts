// What the streaming benchmark's runner (bench/stream.ts), server and clients agree on.
import type { Runtime } from "./_e2e_shared.ts";

/** The triggers the benchmark's server adds to the demo application. */
export const STREAM_BENCH_TRIGGERS = {
  /** `[size]` → the file of that size, streamed from disk. */
  file: "trame_wire.bench.file",
  /** Resets the server's peak memory; returns its resident memory then. */
  resetMemory: "trame_wire.bench.reset_memory",
  /** `{ peak, base }`: the peak since the last reset, and the resident memory at that reset. */
  memory: "trame_wire.bench.memory",
} as const;

/**
 * Who receives: `callStream` of a session read with a BYOB reader, or with a default reader
 * (views), or the runtime's bare WebSocket counting bytes.
 */
export type StreamClientKind = "trame-wire" | "trame-wire-views" | "bare";

/** What one client process reports (one JSON line on stdout). */
export interface StreamReport {
  readonly runtime: Runtime;
  readonly version: string;
  readonly kind: StreamClientKind;
  /** Bytes of the result. */
  readonly size: number;
  /** From the call to the result's last byte, in milliseconds. */
  readonly ms: number;
  /** The client process's CPU time (user + system) over that time, in milliseconds. */
  readonly cpuMs: number;
  /** The client's peak resident memory during the transfer minus its resident memory before. */
  readonly clientGrowth: number;
  /** The same for the server, when it reports it (the embedded server). */
  readonly serverGrowth?: number;
}
