// The terminal side of a load run: the live line while it runs, the table at the end.
import { formatBytes } from "../cli/progress.ts";
import { formatMilliseconds } from "./duration.ts";
import { METRICS } from "./scenario.ts";
import type { LiveStatus, LoadResult } from "./run.ts";
import type { ThresholdOutcome } from "./thresholds.ts";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

/** The live line: elapsed time, users connected, actions/s, p99 so far, errors. */
export function formatLiveLine(status: LiveStatus): string {
  const seconds = Math.min(status.elapsedMs, status.durationMs) / 1000;
  const parts = [
    `${seconds.toFixed(0).padStart(4)}s/${(status.durationMs / 1000).toFixed(0)}s`,
    `users ${status.connected}/${status.users}`,
    `${integer.format(status.actionsPerSecond)} actions/s`,
    status.metric === undefined
      ? ""
      : `p99 ${status.metric} ${status.p99 === undefined ? "-" : formatMilliseconds(status.p99)}`,
    `errors ${integer.format(status.errors)}`,
    status.busy > 0 ? `busy ${integer.format(status.busy)}` : "",
  ];
  return parts.filter((part) => part !== "").join("  ");
}

/** The results as a table for the terminal, with the thresholds when there are any. */
export function formatResultTable(
  result: LoadResult,
  thresholds: readonly ThresholdOutcome[],
): string {
  const lines = [
    ...runHeading(result),
    "",
    ...latencyTable(result),
    "",
    totalsLine(result.totals),
    generatorLine(result.generator),
    ...errorsTable(result.errors),
    ...thresholdsTable(thresholds),
  ];
  return lines.join("\n") + "\n";
}

function runHeading(result: LoadResult): string[] {
  const target = result.target.launcher !== undefined
    ? `launcher ${result.target.launcher}`
    : result.target.url;
  return [
    `${result.users} users for ${decimal.format(result.durationSeconds)} s (ramp ${
      decimal.format(result.rampSeconds)
    } s), ${result.workers} worker thread${result.workers === 1 ? "" : "s"}, ${result.runtime}`,
    `target ${target}; scenario ${result.scenario.name}`,
  ];
}

function latencyTable(result: LoadResult): string[] {
  const header = ["metric", "count", "mean", "p50", "p90", "p99", "p99.9", "max"];
  const rows: string[][] = [];
  for (const metric of METRICS) {
    const summary = result.metrics[metric];
    if (summary === undefined) continue;
    rows.push([
      metric,
      integer.format(summary.count),
      ...[summary.mean, summary.p50, summary.p90, summary.p99, summary.p999, summary.max].map(
        formatMilliseconds,
      ),
    ]);
  }
  return table([header, ...rows]);
}

function totalsLine(totals: LoadResult["totals"]): string {
  return `actions ${integer.format(totals.actions)} (${
    decimal.format(totals.actionsPerSecond)
  }/s)  ` +
    `iterations ${integer.format(totals.iterations)}  errors ${integer.format(totals.errors)}  ` +
    `busy (launcher 503) ${integer.format(totals.busy)}  peak users ${totals.peakConnected}`;
}

function generatorLine(generator: LoadResult["generator"]): string {
  return `generator: CPU ${decimal.format(generator.cpuSeconds)} s (${
    decimal.format(generator.cpuPercent)
  }% of one core; ${generator.cores} cores), memory peak ${formatBytes(generator.peakRssBytes)}${
    generator.rssPerUserBytes === null
      ? ""
      : `, ${formatBytes(Math.max(0, generator.rssPerUserBytes))} per user`
  }`;
}

// Errors by kind with their first message (cut to 100 characters); nothing when there were none.
function errorsTable(errors: LoadResult["errors"]): string[] {
  const entries = Object.entries(errors);
  if (entries.length === 0) return [];
  return [
    "",
    "errors:",
    ...table(entries.map(([kind, { count, message }]) => [
      `  ${kind}`,
      integer.format(count),
      message.length > 100 ? `${message.slice(0, 97)}...` : message,
    ])),
  ];
}

function thresholdsTable(thresholds: readonly ThresholdOutcome[]): string[] {
  if (thresholds.length === 0) return [];
  return [
    "",
    "thresholds:",
    ...table(thresholds.map((outcome) => [
      outcome.ok ? "  ok" : "  FAIL",
      outcome.rule,
      `(${outcome.actual})`,
    ])),
  ];
}

// Columns padded to their widest cell; numbers right-aligned.
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.length)));
  }
  return rows.map((row) =>
    row.map((cell, column) => {
      if (column === row.length - 1 && !/^[\d.,]+( [µm]?s)?$/.test(cell)) return cell;
      return /^[\d.,]+( [µm]?s)?$/.test(cell)
        ? cell.padStart(widths[column])
        : cell.padEnd(widths[column]);
    }).join("  ").trimEnd()
  );
}
