// Durations as people write them in scenario files and on the command line.

/**
 * Milliseconds in `value`: a number is seconds (as in Artillery); a string is a number with a
 * unit, `ms`, `s`, `m` or `h` (`"250ms"`, `"1.5s"`, `"2m"`), or a bare number of seconds.
 * Returns `undefined` when `value` is none of these.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (match === null) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? "s";
  return amount * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
}

/** Formats milliseconds for people: `850 µs`, `12.3 ms`, `4.20 s`. */
export function formatMilliseconds(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
