/**
 * Thresholds given on the command line, checked against a run's results: the exit code says
 * whether the run met them, so a load test can gate CI.
 *
 *     --max-p99 trigger=200ms,set=50ms   --max-p50 … --max-p90 … --max-p999 … --max-latency …
 *     --max-errors 0                      --max-busy 10   (launcher 503 replies)
 * @module
 */
import { formatMilliseconds, parseDuration } from "./duration.ts";
import { type MetricName, METRICS } from "./scenario.ts";
import type { LoadResult } from "./run.ts";

/** The latency flags and the figure each one bounds. */
export const LATENCY_FLAGS = {
  "max-p50": "p50",
  "max-p90": "p90",
  "max-p99": "p99",
  "max-p999": "p999",
  "max-latency": "max",
} as const;

/** The count flags and the total each one bounds. */
export const COUNT_FLAGS = { "max-errors": "errors", "max-busy": "busy" } as const;

type LatencyFigure = (typeof LATENCY_FLAGS)[keyof typeof LATENCY_FLAGS];

/** One threshold. */
export type Threshold =
  | {
    readonly type: "latency";
    readonly figure: LatencyFigure;
    readonly metric: MetricName;
    readonly ms: number;
  }
  | { readonly type: "count"; readonly total: "errors" | "busy"; readonly max: number };

/** A threshold checked against a run. */
export interface ThresholdOutcome {
  readonly rule: string;
  readonly actual: string;
  readonly ok: boolean;
}

/** A threshold flag that does not parse; the message says how to write it. */
export class ThresholdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ThresholdError";
  }
}

/** Parses the threshold flags present in `values` (flag name → text). */
export function parseThresholds(values: ReadonlyMap<string, string>): Threshold[] {
  const thresholds: Threshold[] = [];
  for (const [flag, figure] of Object.entries(LATENCY_FLAGS)) {
    const text = values.get(flag);
    if (text === undefined) continue;
    for (const part of text.split(",")) {
      const match = /^\s*([a-z_]+)\s*=\s*(.+?)\s*$/.exec(part);
      const metric = match?.[1] as MetricName | undefined;
      const ms = match === null ? undefined : parseDuration(match[2]);
      if (match === null || ms === undefined) {
        throw new ThresholdError(
          `--${flag} takes METRIC=DURATION[,…], e.g. trigger=200ms; got ${JSON.stringify(part)}`,
        );
      }
      if (!METRICS.includes(metric!)) {
        throw new ThresholdError(
          `--${flag}: unknown metric ${metric}; metrics: ${METRICS.join(", ")}`,
        );
      }
      thresholds.push({ type: "latency", figure, metric: metric!, ms });
    }
  }
  for (const [flag, total] of Object.entries(COUNT_FLAGS)) {
    const text = values.get(flag);
    if (text === undefined) continue;
    const max = Number(text);
    if (text.trim() === "" || !Number.isSafeInteger(max) || max < 0) {
      throw new ThresholdError(`--${flag} takes a whole number, got ${JSON.stringify(text)}`);
    }
    thresholds.push({ type: "count", total, max });
  }
  return thresholds;
}

/** Checks each threshold against `result`. A latency with no samples fails: nothing was shown. */
export function checkThresholds(
  thresholds: readonly Threshold[],
  result: LoadResult,
): ThresholdOutcome[] {
  return thresholds.map((threshold) => {
    if (threshold.type === "count") {
      const actual = result.totals[threshold.total];
      return {
        rule: `${threshold.total} <= ${threshold.max}`,
        actual: String(actual),
        ok: actual <= threshold.max,
      };
    }
    const rule = `${threshold.figure} ${threshold.metric} <= ${formatMilliseconds(threshold.ms)}`;
    const summary = result.metrics[threshold.metric];
    if (summary === undefined || summary.count === 0) {
      return { rule, actual: "no samples", ok: false };
    }
    const actual = summary[threshold.figure];
    return { rule, actual: formatMilliseconds(actual), ok: actual <= threshold.ms };
  });
}
