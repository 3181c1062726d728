/**
 * `trame-wire load`: many virtual users against a trame server (or a launcher), a live line
 * while it runs, a table at the end, `--json` and `--html` reports, and an exit code that says
 * whether the thresholds were met.
 * @module
 */
import { writeFile } from "node:fs/promises";
import process from "node:process";
import { parseArgs, type ParsedArgs, UsageError } from "../cli/args.ts";
import { EXIT_CODES } from "../cli/failures.ts";
import type { CliOutput } from "../cli/output.ts";
import { parseDuration } from "./duration.ts";
import { formatLiveLine, formatResultTable } from "./report_text.ts";
import { renderHtmlReport } from "./report_html.ts";
import { type LiveStatus, type LoadResult, runLoad } from "./run.ts";
import {
  DEFAULT_SCENARIO_SOURCE,
  type LoadedScenario,
  loadScenarioFile,
  parseScenario,
  ScenarioError,
} from "./scenario.ts";
import {
  checkThresholds,
  COUNT_FLAGS,
  LATENCY_FLAGS,
  parseThresholds,
  type Threshold,
  ThresholdError,
  type ThresholdOutcome,
} from "./thresholds.ts";
import type { LoadTarget } from "./user.ts";

/** Exit code of a run that did not meet a threshold. */
export const THRESHOLDS_FAILED_EXIT = 9;

/** The help of `trame-wire load`. */
export const LOAD_HELP =
  `Usage: trame-wire load URL --users N [--ramp S] [--duration S] [--scenario FILE] [options]
       trame-wire load --launcher URL --users N … (one server process per user)

Runs N virtual users, each connecting and then repeating the scenario's steps, spread over
worker threads (one per core). Shows a live line, then a table of latencies (p50, p90, p99,
p99.9, max per step kind), errors by kind and the generator's own CPU and memory.

  --users N            virtual users (default 10)
  --ramp S             start the users evenly over S seconds (default 0)
  --duration S         length of the whole run, ramp included (default 30); "90s", "2m" work too
  --scenario FILE      steps in JSON or YAML (default: write a key of its own, read it back,
                       think 1 s; needs nothing but trame)
  --secret S           wslink secret (default wslink-secret; with --launcher, the one it returns)
  --timeout MS         limit of connecting and of each step, in ms (default: the scenario's
                       timeout, else 10000; a step's own timeout still wins)
  --launcher URL       POST to this wslink launcher for each user and connect to the sessionURL
                       it returns; HTTP 503 (all resources taken) is counted as "busy"
  --application NAME   the application the launch request asks for (default trame)
  --workers N          worker threads (default: one per core, at most N users; 0: this thread)
  --json FILE          write the results as JSON (- for standard output, instead of the table)
  --html FILE          write a self-contained HTML report with plots
Thresholds (the exit code is ${THRESHOLDS_FAILED_EXIT} when one is not met):
  --max-p50, --max-p90, --max-p99, --max-p999, --max-latency METRIC=DURATION[,…]
                       e.g. --max-p99 trigger=200ms,set=50ms
  --max-errors N       at most N errors (launcher 503 replies are not errors)
  --max-busy N         at most N launcher 503 replies
Metrics: launch, connect, initial_state, set, get, trigger, call, wait_for, state_round_trip,
publish. Exit codes: 0 thresholds met, 2 usage or bad scenario, 3 bad URL, 4 no user could
connect, ${THRESHOLDS_FAILED_EXIT} a threshold not met.`;

const MAX_USERS = 100_000;

const LOAD_FLAGS = [
  "users",
  "ramp",
  "duration",
  "scenario",
  "secret",
  "timeout",
  "launcher",
  "application",
  "workers",
  "json",
  "html",
  ...Object.keys(LATENCY_FLAGS),
  ...Object.keys(COUNT_FLAGS),
];

/** Runs `trame-wire load` with `argv` (after the command name); resolves with the exit code. */
export async function loadCommand(argv: readonly string[], output: CliOutput): Promise<number> {
  const args = parseArgs(argv, { values: LOAD_FLAGS });
  if (args.booleans.has("help")) {
    output.out(LOAD_HELP + "\n");
    return EXIT_CODES.ok;
  }
  const settings = await loadSettings(args);
  const stop = new AbortController();
  const result = await runInterruptibly(settings, output, stop);
  const outcomes = checkThresholds(settings.thresholds, result);
  await writeReports(settings, result, outcomes, output);
  return exitCode(result, outcomes, output, stop.signal.aborted);
}

// What the command line asks for, checked.
interface LoadSettings {
  readonly target: LoadTarget;
  readonly users: number;
  readonly durationMs: number;
  readonly rampMs: number;
  readonly workers: number | undefined;
  readonly thresholds: readonly Threshold[];
  readonly loaded: LoadedScenario;
  readonly jsonPath: string | undefined;
  readonly htmlPath: string | undefined;
}

async function loadSettings(args: ParsedArgs): Promise<LoadSettings> {
  const target = targetOf(args);
  const users = wholeNumber(args, "users", 10, 1, MAX_USERS);
  const durationMs = secondsFlag(args, "duration", 30_000);
  const rampMs = secondsFlag(args, "ramp", 0);
  if (durationMs <= 0) throw new UsageError("--duration must be more than 0");
  if (rampMs > durationMs) throw new UsageError("--ramp cannot be longer than --duration");
  const workers = args.values.has("workers") ? wholeNumber(args, "workers", 0, 0, 256) : undefined;
  let thresholds;
  try {
    thresholds = parseThresholds(args.values);
  } catch (error) {
    if (error instanceof ThresholdError) throw new UsageError(error.message);
    throw error;
  }
  const timeout = args.values.has("timeout")
    ? wholeNumber(args, "timeout", 0, 1, 2 ** 31 - 1)
    : undefined;
  const loaded = await scenarioOf(args.values.get("scenario"), timeout);
  return {
    target,
    users,
    durationMs,
    rampMs,
    workers,
    thresholds,
    loaded,
    jsonPath: args.values.get("json"),
    htmlPath: args.values.get("html"),
  };
}

// The run with its live line; Ctrl-C aborts `stop` and the run ends with what it has.
async function runInterruptibly(
  settings: LoadSettings,
  output: CliOutput,
  stop: AbortController,
): Promise<LoadResult> {
  const { target, users, durationMs, rampMs, loaded } = settings;
  const onSignal = () => {
    // A second Ctrl-C gets the default behaviour: the process ends at once.
    process.off("SIGINT", onSignal);
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  // With the JSON on standard output, nothing else goes there.
  const jsonOnly = settings.jsonPath === "-";
  const live = jsonOnly ? { update: () => {}, end: () => {} } : liveLine(output);
  try {
    if (!jsonOnly) {
      output.out(
        `trame-wire load: ${users} users, ${durationMs / 1000} s (ramp ${
          rampMs / 1000
        } s) against ${target.launcher ?? target.url}; scenario ${loaded.scenario.name}\n`,
      );
    }
    return await runLoad({
      target,
      scenario: { value: loaded.value, source: loaded.source },
      users,
      rampMs,
      durationMs,
      workers: settings.workers,
      onProgress: live.update,
      signal: stop.signal,
    });
  } finally {
    live.end();
    process.off("SIGINT", onSignal);
  }
}

// --json and --html as asked, and the table unless the JSON goes to standard output.
async function writeReports(
  { jsonPath, htmlPath }: LoadSettings,
  result: LoadResult,
  outcomes: readonly ThresholdOutcome[],
  output: CliOutput,
): Promise<void> {
  if (jsonPath !== undefined) {
    const text = JSON.stringify({ ...result, thresholds: outcomes }, null, 2) + "\n";
    if (jsonPath === "-") output.out(text);
    else await writeFile(jsonPath, text);
  }
  if (htmlPath !== undefined) await writeFile(htmlPath, renderHtmlReport(result, outcomes));
  if (jsonPath !== "-") output.out("\n" + formatResultTable(result, outcomes));
}

function exitCode(
  result: LoadResult,
  outcomes: readonly ThresholdOutcome[],
  output: CliOutput,
  interrupted: boolean,
): number {
  if (result.totals.peakConnected === 0 && !interrupted) {
    const first = Object.entries(result.errors)[0];
    output.error(
      `trame-wire: no user could connect${first ? `: ${first[0]}: ${first[1].message}` : ""}\n`,
    );
    return EXIT_CODES.connectionRefused;
  }
  const failed = outcomes.filter((outcome) => !outcome.ok);
  if (failed.length > 0) {
    output.error(
      `trame-wire: ${failed.length} threshold${failed.length === 1 ? "" : "s"} not met: ${
        failed.map((outcome) => `${outcome.rule} (${outcome.actual})`).join("; ")
      }\n`,
    );
    return THRESHOLDS_FAILED_EXIT;
  }
  return EXIT_CODES.ok;
}

function targetOf(args: ParsedArgs): LoadTarget {
  const launcher = args.values.get("launcher");
  const url = args.positionals[0];
  if (args.positionals.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[1])}`);
  }
  const secret = args.values.get("secret");
  if (launcher !== undefined) {
    if (url !== undefined) throw new UsageError("give either a URL or --launcher, not both");
    checkUrl(launcher, ["http:", "https:"], "--launcher");
    return {
      launcher,
      launchBody: { application: args.values.get("application") ?? "trame" },
      secret,
    };
  }
  if (url === undefined) {
    throw new UsageError("load needs a URL (ws://…) or --launcher; see trame-wire load --help");
  }
  if (args.values.has("application")) throw new UsageError("--application goes with --launcher");
  checkUrl(url, ["ws:", "wss:"], "the URL");
  return { url, secret };
}

function checkUrl(text: string, protocols: string[], what: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(text);
  } catch {
    // Reported below.
  }
  if (parsed === undefined || !protocols.includes(parsed.protocol)) {
    const error = new Error(
      `bad URL ${JSON.stringify(text)}: ${what} must start with ${
        protocols.map((protocol) => `${protocol}//`).join(" or ")
      }`,
    );
    error.name = "BadUrlError"; // The exit code for bad URLs (3).
    throw error;
  }
}

// The scenario file (or the default one), with --timeout as its default step timeout when given.
async function scenarioOf(
  path: string | undefined,
  timeoutMs: number | undefined,
): Promise<LoadedScenario> {
  try {
    const file = path === undefined
      ? { value: DEFAULT_SCENARIO_SOURCE, source: "default scenario" }
      : await loadScenarioFile(path);
    const value = timeoutMs === undefined || !isRecord(file.value)
      ? file.value
      : { ...file.value, timeout: `${timeoutMs}ms` };
    return { value, source: file.source, scenario: parseScenario(value, file.source) };
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message);
    throw error;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function wholeNumber(args: ParsedArgs, name: string, fallback: number, min: number, max: number) {
  const text = args.values.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${text}`);
  }
  return value;
}

function secondsFlag(args: ParsedArgs, name: string, fallbackMs: number): number {
  const text = args.values.get(name);
  if (text === undefined) return fallbackMs;
  const ms = parseDuration(text);
  if (ms === undefined || ms > 2 ** 31 - 1) {
    throw new UsageError(`--${name} must be a number of seconds (or "90s", "2m"), got ${text}`);
  }
  return ms;
}

// On a terminal, one line redrawn every second; elsewhere a plain line every 5 seconds.
function liveLine(output: CliOutput): { update: (status: LiveStatus) => void; end: () => void } {
  let drawn = false;
  let lastPlain = -Infinity;
  return {
    update: (status) => {
      const line = formatLiveLine(status);
      if (output.isTerminal) {
        output.out(`\r\x1b[2K${line}`);
        drawn = true;
      } else if (status.elapsedMs - lastPlain >= 4_500) {
        lastPlain = status.elapsedMs;
        output.out(line + "\n");
      }
    },
    end: () => {
      if (drawn) output.out("\n");
    },
  };
}
