/**
 * The `--html` report: one self-contained file (no script, no network) with the run's figures
 * and its plots drawn as inline SVG: latency percentiles per second for each metric, throughput
 * and errors, users connected, and the generator's CPU. SVG written here rather than a charting
 * library: the plots are plain line charts, the file stays small and opens anywhere, even with
 * scripts disabled, and the client keeps its single dependency. The results are embedded as
 * JSON too (`<script type="application/json" id="trame-wire-load-result">`).
 * @module
 */
import { formatBytes } from "../cli/progress.ts";
import { formatMilliseconds } from "./duration.ts";
import { METRICS } from "./scenario.ts";
import type { LoadResult } from "./run.ts";
import type { TimelineSecond } from "./metrics.ts";
import type { ThresholdOutcome } from "./thresholds.ts";

/** The colours of the plotted series, by name. */
export const SERIES_COLORS = {
  p50: "#1f77b4",
  p90: "#2ca02c",
  p99: "#d62728",
  max: "#9467bd",
  actions: "#1f77b4",
  errors: "#d62728",
  busy: "#ff7f0e",
  users: "#2ca02c",
  cpu: "#8c564b",
} as const;

/** One line of a chart; `null` values leave a gap. */
export interface ChartSeries {
  readonly name: string;
  readonly color: string;
  readonly values: readonly (number | null)[];
  /** Drawn dashed (and thinner), for a series that matters less, such as the max. */
  readonly dashed?: boolean;
}

/** A line chart. */
export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  /** The y values' unit, shown on the axis. */
  readonly unit: string;
  /** The x positions (seconds of the run). */
  readonly xs: readonly number[];
  readonly series: readonly ChartSeries[];
}

const WIDTH = 760;
const HEIGHT = 260;
const MARGIN = { left: 64, right: 16, top: 34, bottom: 40 };
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_HEIGHT = HEIGHT - MARGIN.top - MARGIN.bottom;
const PLOT_BOTTOM = MARGIN.top + PLOT_HEIGHT;

// A chart's scales: data values to SVG coordinates.
interface ChartScales {
  readonly x: (value: number) => number;
  readonly y: (value: number) => number;
  readonly xTicks: readonly number[];
  readonly yTicks: readonly number[];
}

/** A line chart as an SVG element. */
export function lineChart(spec: ChartSpec): string {
  const scales = chartScales(spec);
  return [
    `<svg class="chart" id="${escape(spec.id)}" xmlns="http://www.w3.org/2000/svg" ` +
    `viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" ` +
    `aria-label="${escape(spec.title)}">`,
    `<text x="${MARGIN.left}" y="20" class="title">${escape(spec.title)}</text>`,
    `<rect class="plot-area" x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_WIDTH}" ` +
    `height="${PLOT_HEIGHT}" fill="#ffffff" stroke="#cccccc"/>`,
    ...yAxis(scales),
    ...xAxis(scales),
    ...axisLabels(spec.unit),
    ...legend(spec.series),
    // The first series is drawn last, on top: where lines coincide, the first one shows.
    ...[...spec.series].reverse().map((series) => seriesLine(series, spec.xs, scales))
      .filter((line) => line !== ""),
    "</svg>",
  ].join("\n");
}

function chartScales(spec: ChartSpec): ChartScales {
  const xMin = spec.xs[0] ?? 0;
  const xMax = Math.max(spec.xs.at(-1) ?? 1, xMin + 1);
  const values = spec.series.flatMap((series) => series.values).filter((v): v is number =>
    v !== null
  );
  const yTicks = niceTicks(0, Math.max(...values, 0));
  const yMax = yTicks.at(-1)!;
  return {
    x: (value) => MARGIN.left + ((value - xMin) / (xMax - xMin)) * PLOT_WIDTH,
    y: (value) => MARGIN.top + PLOT_HEIGHT - (value / yMax) * PLOT_HEIGHT,
    xTicks: niceTicks(xMin, xMax, 8, 1).filter((tick) => tick <= xMax),
    yTicks,
  };
}

// Horizontal grid lines with their values.
function yAxis({ y, yTicks }: ChartScales): string[] {
  return yTicks.flatMap((tick) => [
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_WIDTH}" y1="${y(tick).toFixed(1)}" ` +
    `y2="${y(tick).toFixed(1)}" stroke="#eeeeee"/>`,
    `<text x="${MARGIN.left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${
      escape(formatTick(tick))
    }</text>`,
  ]);
}

// Tick marks under the plot with their seconds.
function xAxis({ x, xTicks }: ChartScales): string[] {
  return xTicks.flatMap((tick) => [
    `<line x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${PLOT_BOTTOM}" ` +
    `y2="${PLOT_BOTTOM + 4}" stroke="#999999"/>`,
    `<text x="${x(tick).toFixed(1)}" y="${PLOT_BOTTOM + 18}" text-anchor="middle">${
      formatTick(tick)
    }</text>`,
  ]);
}

function axisLabels(unit: string): string[] {
  const middle = MARGIN.top + PLOT_HEIGHT / 2;
  return [
    `<text x="${MARGIN.left + PLOT_WIDTH / 2}" y="${HEIGHT - 4}" text-anchor="middle" ` +
    `class="axis">seconds</text>`,
    `<text x="14" y="${middle}" text-anchor="middle" class="axis" ` +
    `transform="rotate(-90 14 ${middle})">${escape(unit)}</text>`,
  ];
}

// The series' names with their colours, right-aligned above the plot.
function legend(series: readonly ChartSeries[]): string[] {
  const parts: string[] = [];
  let legendX = WIDTH - MARGIN.right;
  for (const { name, color } of [...series].reverse()) {
    const label = escape(name);
    legendX -= 16 + label.length * 7;
    parts.push(
      `<rect x="${legendX}" y="11" width="10" height="10" fill="${color}"/>`,
      `<text x="${legendX + 14}" y="20">${label}</text>`,
    );
  }
  return parts;
}

// One series as a path (broken at its gaps), or "" when it has no value to draw.
function seriesLine(series: ChartSeries, xs: readonly number[], { x, y }: ChartScales): string {
  let path = "";
  const dots: string[] = [];
  series.values.forEach((value, index) => {
    if (value === null || index >= xs.length) return;
    const joined = index > 0 && series.values[index - 1] !== null;
    path += `${joined ? "L" : "M"}${x(xs[index]).toFixed(1)} ${y(value).toFixed(1)}`;
    // A point with no neighbour would draw nothing as a path: it gets a dot.
    if (!joined && (series.values[index + 1] ?? null) === null) {
      dots.push(
        `<circle cx="${x(xs[index]).toFixed(1)}" cy="${y(value).toFixed(1)}" r="3" ` +
          `fill="${series.color}"/>`,
      );
    }
  });
  if (path === "") return "";
  const dash = series.dashed ? ' stroke-dasharray="6 4"' : "";
  return `<g class="series" data-series="${escape(series.name)}"><title>${
    escape(series.name)
  }</title>` +
    `<path d="${path}" fill="none" stroke="${series.color}" ` +
    `stroke-width="${series.dashed ? 1.5 : 2}"${dash} ` +
    `stroke-linejoin="round" stroke-linecap="round"/>${dots.join("")}</g>`;
}

const LATENCY_FIGURES = ["p50", "p90", "p99", "max"] as const;

const REPORT_STYLE =
  `body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 800px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e5e5; text-align: right; font-variant-numeric: tabular-nums; }
th { text-align: left; font-weight: 600; }
td.text { text-align: left; }
tr.fail th, .verdict.fail { color: #b00020; }
tr.ok th, .verdict.ok { color: #1b7f3b; }
svg.chart { display: block; margin: 12px 0; background: #fafafa; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #444; }
svg.chart text.title { font-size: 13px; font-weight: 600; fill: #222; }`;

/** The report for `result`, as a complete HTML document. */
export function renderHtmlReport(
  result: LoadResult,
  thresholds: readonly ThresholdOutcome[],
): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trame-wire load report: ${escape(result.scenario.name)}</title>
<style>
${REPORT_STYLE}
</style>
</head>
<body>
<h1>trame-wire load report</h1>
${verdictSection(thresholds)}
<table class="facts">
${
    runFacts(result).map(([name, value]) =>
      `<tr><th>${name}</th><td class="text">${escape(value)}</td></tr>`
    ).join("\n")
  }
</table>
${latencySection(result)}
${thresholdsSection(thresholds)}
${errorsSection(result)}
<h2>Over time</h2>
${timelineCharts(result).join("\n")}
<script type="application/json" id="trame-wire-load-result">${
    JSON.stringify({ ...result, thresholds }).replace(/</g, "\\u003c")
  }</script>
</body>
</html>
`;
}

function verdictSection(thresholds: readonly ThresholdOutcome[]): string {
  if (thresholds.length === 0) return "";
  const passed = thresholds.every((outcome) => outcome.ok);
  return `<p class="verdict ${passed ? "ok" : "fail"}">${
    passed ? "Every threshold was met." : "Some thresholds were not met."
  }</p>`;
}

// The run's settings and totals, as name and value.
function runFacts(result: LoadResult): [string, string][] {
  const { generator, totals } = result;
  const target = result.target.launcher !== undefined
    ? `launcher ${result.target.launcher}`
    : result.target.url ?? "";
  const perUser = generator.rssPerUserBytes === null
    ? ""
    : `, ${formatBytes(Math.max(0, generator.rssPerUserBytes))} per user`;
  return [
    ["target", target],
    ["scenario", `${result.scenario.name} (${result.scenario.source})`],
    ["users", `${result.users} (peak connected ${totals.peakConnected})`],
    ["duration", `${result.durationSeconds} s, ramp ${result.rampSeconds} s`],
    ["started", result.startedAt],
    [
      "generator",
      `${result.runtime}, ${result.workers} worker thread${
        result.workers === 1 ? "" : "s"
      }, ${generator.cores} cores`,
    ],
    [
      "throughput",
      `${totals.actions.toLocaleString("en-US")} actions (${
        totals.actionsPerSecond.toFixed(1)
      }/s), ${totals.iterations.toLocaleString("en-US")} iterations`,
    ],
    ["errors", `${totals.errors} (launcher 503: ${totals.busy})`],
    [
      "generator load",
      `CPU ${generator.cpuSeconds.toFixed(1)} s (${
        generator.cpuPercent.toFixed(1)
      }% of one core), ` +
      `memory peak ${formatBytes(generator.peakRssBytes)}${perUser}`,
    ],
  ];
}

function latencySection(result: LoadResult): string {
  const rows = METRICS.flatMap((metric) => {
    const s = result.metrics[metric];
    if (s === undefined) return [];
    return [
      `<tr><th>${metric}</th><td>${s.count.toLocaleString("en-US")}</td>${
        [s.mean, s.p50, s.p90, s.p99, s.p999, s.max]
          .map((value) => `<td>${escape(formatMilliseconds(value))}</td>`).join("")
      }</tr>`,
    ];
  });
  return `<h2>Latency (ms)</h2>
<table class="summary">
<tr><th>metric</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>
${rows.join("\n")}
</table>`;
}

function thresholdsSection(thresholds: readonly ThresholdOutcome[]): string {
  if (thresholds.length === 0) return "";
  const rows = thresholds.map((outcome) =>
    `<tr class="${outcome.ok ? "ok" : "fail"}"><th>${outcome.ok ? "ok" : "FAIL"}</th>` +
    `<td class="text">${escape(outcome.rule)}</td><td>${escape(outcome.actual)}</td></tr>`
  );
  return `<h2>Thresholds</h2>\n<table class="thresholds">\n${rows.join("\n")}\n</table>`;
}

function errorsSection(result: LoadResult): string {
  const rows = Object.entries(result.errors).map(([kind, { count, message }]) =>
    `<tr><th>${escape(kind)}</th><td>${count.toLocaleString("en-US")}</td><td class="text">${
      escape(message)
    }</td></tr>`
  );
  if (rows.length === 0) return "";
  return `<h2>Errors</h2>\n<table class="errors">\n` +
    `<tr><th>kind</th><th>count</th><th>first message</th></tr>\n${rows.join("\n")}\n</table>`;
}

// The charts over the run's seconds: throughput, users, latency per metric, generator CPU.
function timelineCharts(result: LoadResult): string[] {
  const xs = result.timeline.map((second) => second.second + 1);
  const perSecond = (pick: (second: TimelineSecond) => number | null) => result.timeline.map(pick);
  const throughput: ChartSeries[] = [
    { name: "actions/s", color: SERIES_COLORS.actions, values: perSecond((s) => s.actions) },
    { name: "errors/s", color: SERIES_COLORS.errors, values: perSecond((s) => s.errors) },
  ];
  if (result.totals.busy > 0) {
    throughput.push({
      name: "launcher 503/s",
      color: SERIES_COLORS.busy,
      values: perSecond((s) => s.busy),
    });
  }
  return [
    lineChart({
      id: "chart-throughput",
      title: "Throughput: actions and errors per second",
      unit: "per second",
      xs,
      series: throughput,
    }),
    lineChart({
      id: "chart-users",
      title: "Users connected",
      unit: "users",
      xs,
      series: [{
        name: "users",
        color: SERIES_COLORS.users,
        values: perSecond((s) => s.connected),
      }],
    }),
    ...latencyCharts(result, xs),
    lineChart({
      id: "chart-generator-cpu",
      title: "Generator CPU (all threads), percent of one core",
      unit: "% of a core",
      xs,
      series: [{ name: "cpu", color: SERIES_COLORS.cpu, values: perSecond((s) => s.cpuPercent) }],
    }),
  ];
}

// One chart per metric measured: its p50, p90, p99 and max in each second.
function latencyCharts(result: LoadResult, xs: readonly number[]): string[] {
  return METRICS.filter((metric) => result.metrics[metric] !== undefined).map((metric) =>
    lineChart({
      id: `chart-latency-${metric}`,
      title: `Latency of ${metric}, per second`,
      unit: "ms",
      xs,
      series: LATENCY_FIGURES.map((figure) => ({
        name: figure,
        color: SERIES_COLORS[figure],
        dashed: figure === "max",
        values: result.timeline.map((second) => second.latency[metric]?.[figure] ?? null),
      })),
    })
  );
}

// Round tick values covering `min` to `max`: steps of 1, 2 or 5 times a power of ten, at least
// `smallest`.
function niceTicks(min: number, max: number, count = 5, smallest = 0): number[] {
  if (!(max > min)) return [min, min + 1];
  const rough = Math.max((max - min) / count, smallest);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) =>
    candidate >= rough
  )!;
  const ticks: number[] = [];
  for (let tick = Math.floor(min / step) * step; tick < max + step; tick += step) {
    ticks.push(Number(tick.toPrecision(12)));
    if (tick >= max) break;
  }
  return ticks;
}

function formatTick(value: number): string {
  if (value !== 0 && Math.abs(value) < 0.01) return value.toExponential(0);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return String(Number(value.toPrecision(3)));
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}
