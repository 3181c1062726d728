// Progress for long transfers: a live bar on a terminal, a few plain lines otherwise.

/** Where progress is written; a terminal gets a redrawn bar. */
export interface ProgressSink {
  out(text: string): void;
  readonly isTerminal: boolean;
}

const BAR_WIDTH = 30;

/** Formats a byte count for people: `64.0 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Formats bytes per second. */
export function formatRate(bytes: number, milliseconds: number): string {
  if (milliseconds <= 0) return "n/a";
  return `${formatBytes((bytes * 1000) / milliseconds)}/s`;
}

/** Formats a count for people: `100,000`. */
export function formatCount(count: number): string {
  return Math.round(count).toLocaleString("en-US");
}

/** What a progress reporter counts: bytes, or items of which `noun` is the plural. */
export type ProgressUnit = { readonly bytes: true } | { readonly noun: string };

// `9.5 MiB of 64.0 MiB`, `45,056 of 100,000 publishes`.
function portion(unit: ProgressUnit, received: number, total: number): string {
  if ("bytes" in unit) return `${formatBytes(received)} of ${formatBytes(total)}`;
  return `${formatCount(received)} of ${formatCount(total)} ${unit.noun}`;
}

function rate(unit: ProgressUnit, value: number, milliseconds: number): string {
  if ("bytes" in unit) return formatRate(value, milliseconds);
  return milliseconds <= 0 ? "n/a" : `${formatCount((value * 1000) / milliseconds)}/s`;
}

/**
 * Reports progress of one transfer, in bytes or in items. On a terminal it redraws one line at
 * most every 50 ms; elsewhere it prints a line when a quarter is passed (with the exact
 * percentage of the amount it shows), so logs stay short.
 */
export class ProgressReporter {
  #sink: ProgressSink;
  #label: string;
  #unit: ProgressUnit;
  #started = performance.now();
  #lastDraw = 0;
  #lastQuarter = -1;
  #finished = false;

  constructor(sink: ProgressSink, label: string, unit: ProgressUnit = { bytes: true }) {
    this.#sink = sink;
    this.#label = label;
    this.#unit = unit;
  }

  update(received: number, total: number): void {
    if (this.#finished || total <= 0) return;
    const fraction = Math.min(received / total, 1);
    const elapsed = performance.now() - this.#started;
    if (this.#sink.isTerminal) {
      if (received < total && elapsed - this.#lastDraw < 50) return;
      this.#lastDraw = elapsed;
      const filled = Math.round(fraction * BAR_WIDTH);
      const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
      this.#sink.out(
        `\r${this.#label} [${bar}] ${percent(fraction)} ` +
          `${portion(this.#unit, received, total)} ${rate(this.#unit, received, elapsed)}   `,
      );
      return;
    }
    const quarter = Math.floor(fraction * 4);
    if (quarter === this.#lastQuarter) return;
    this.#lastQuarter = quarter;
    this.#sink.out(
      `${this.#label}: ${percent(fraction)} ` +
        `(${portion(this.#unit, received, total)})\n`,
    );
  }

  /** Ends the display; returns the elapsed milliseconds since the reporter was made. */
  finish(): number {
    const elapsed = performance.now() - this.#started;
    if (!this.#finished && this.#sink.isTerminal) this.#sink.out("\n");
    this.#finished = true;
    return elapsed;
  }
}

// Rounded down, so that 100% means all of it.
function percent(fraction: number): string {
  return `${Math.floor(fraction * 100).toString().padStart(3)}%`;
}
