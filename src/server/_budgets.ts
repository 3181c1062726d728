// What the server spends on its peers, bounded: the bytes of incomplete incoming messages across
// every connection, and the log lines one peer can cause.
import type { Logger, LogLevel } from "./log.ts";

/**
 * The bytes that the incomplete incoming messages of every connection may hold together (their
 * un-chunkers' `pendingBytes`: declared sizes plus range bookkeeping). Each connection charges
 * what its un-chunker holds after every frame and gives it all back when it closes.
 */
export class IncomingBudget {
  /** The most that may be charged at once. */
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** What is charged now. */
  get used(): number {
    return this.#used;
  }

  /**
   * Moves one connection's charge from `before` to `after` bytes. Returns false, and changes
   * nothing, when the increase does not fit.
   */
  recharge(before: number, after: number): boolean {
    if (after > before && this.#used + (after - before) > this.limit) return false;
    this.#used += after - before;
    return true;
  }
}

/** Log lines one peer may cause per window; the ones beyond are counted, not written. */
export const PEER_LOG_LINES = 10;
/** The window of {@link PEER_LOG_LINES}, in milliseconds. */
export const PEER_LOG_WINDOW_MS = 10_000;

/**
 * The log lines caused by one peer, at most {@link PEER_LOG_LINES} per
 * {@link PEER_LOG_WINDOW_MS}: a peer that repeats a mistake 100,000 times cannot flood the log.
 * The first line held back says so; how many were held back is written when the next window
 * opens with a line, or at {@link PeerLog.close}. Needs no timer.
 */
export class PeerLog {
  readonly #log: Logger;
  readonly #peer: string;
  readonly #now: () => number;
  #windowStart = -Infinity;
  #written = 0;
  #heldBack = 0;

  /** `peer` names the peer in the lines this adds (`client c…`). */
  constructor(log: Logger, peer: string, now: () => number = () => performance.now()) {
    this.#log = log;
    this.#peer = peer;
    this.#now = now;
  }

  /** Writes a line, unless this window's lines are used up. */
  write(level: LogLevel, message: string, detail?: unknown): void {
    const now = this.#now();
    if (now - this.#windowStart >= PEER_LOG_WINDOW_MS) {
      this.#reportHeldBack();
      this.#windowStart = now;
      this.#written = 0;
    }
    if (this.#written < PEER_LOG_LINES) {
      this.#written++;
      this.#log(level, message, detail);
    } else if (this.#heldBack++ === 0) {
      this.#log(
        "warn",
        `${this.#peer} caused more than ${PEER_LOG_LINES} log lines in ${
          PEER_LOG_WINDOW_MS / 1000
        } s; the next ones are counted, not written`,
      );
    }
  }

  /** Writes how many lines were held back, if any; for when the connection ends. */
  close(): void {
    this.#reportHeldBack();
  }

  #reportHeldBack(): void {
    if (this.#heldBack === 0) return;
    this.#log("warn", `${this.#peer}: ${this.#heldBack} log lines were not written`);
    this.#heldBack = 0;
  }
}
