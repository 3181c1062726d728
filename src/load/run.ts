/**
 * A load run: the users spread over worker threads (one per core by default), their seconds
 * merged into exact totals and a timeline, the generator's own CPU and memory sampled every
 * second, and a live status for the terminal.
 * @module
 */
import { availableParallelism } from "node:os";
import process from "node:process";
import { Worker } from "node:worker_threads";
import type { LatencySummary } from "./histogram.ts";
import { RunAggregator, type TimelineSecond, wallClock } from "./metrics.ts";
import { type MetricName, METRICS, parseScenario } from "./scenario.ts";
import type { LoadTarget } from "./user.ts";
import {
  runThread,
  type ThreadCommand,
  type ThreadMessage,
  type ThreadPlan,
  type ThreadReport,
  WORKER_KIND,
} from "./worker.ts";

/** Options of {@link runLoad}. */
export interface LoadOptions {
  readonly target: LoadTarget;
  /** The scenario as parsed from its file (plain values), and its name for messages. */
  readonly scenario: { readonly value: unknown; readonly source: string };
  readonly users: number;
  /** Users start evenly over this many milliseconds from the start. */
  readonly rampMs: number;
  /** The whole run, ramp included, in milliseconds. */
  readonly durationMs: number;
  /** Worker threads; 0 runs the users in this thread. Default: one per core, at most `users`. */
  readonly workers?: number;
  /** Called about every second while the run goes on. */
  readonly onProgress?: (status: LiveStatus) => void;
  /** Ends the run early (the users stop and disconnect; the results cover what ran). */
  readonly signal?: AbortSignal;
}

/** What the live line shows. */
export interface LiveStatus {
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly connected: number;
  readonly users: number;
  /** Actions in the last complete second. */
  readonly actionsPerSecond: number;
  /** The run's first step metric and its p99 so far, in ms (undefined before any sample). */
  readonly metric: MetricName | undefined;
  readonly p99: number | undefined;
  readonly errors: number;
  readonly busy: number;
}

/** The results of a run; `--json` writes exactly this. */
export interface LoadResult {
  readonly version: 1;
  readonly target: { readonly url?: string; readonly launcher?: string };
  readonly scenario: { readonly name: string; readonly source: string };
  readonly runtime: string;
  readonly startedAt: string;
  readonly users: number;
  readonly workers: number;
  readonly rampSeconds: number;
  readonly durationSeconds: number;
  readonly elapsedSeconds: number;
  readonly totals: {
    readonly actions: number;
    readonly actionsPerSecond: number;
    readonly iterations: number;
    readonly errors: number;
    /** Launcher replies HTTP 503 (all resources taken), counted apart from errors. */
    readonly busy: number;
    readonly peakConnected: number;
  };
  /** Latency figures per metric, in milliseconds. */
  readonly metrics: Partial<Record<MetricName, LatencySummary>>;
  /** Errors by kind (`step.reason`), and the first message seen for each. */
  readonly errors: Record<string, { readonly count: number; readonly message: string }>;
  readonly generator: {
    readonly cores: number;
    /** CPU time of the whole generator process (all its threads), in seconds. */
    readonly cpuSeconds: number;
    /** Average CPU over the run, in percent of one core. */
    readonly cpuPercent: number;
    readonly baselineRssBytes: number;
    readonly peakRssBytes: number;
    /** (peak - baseline) / peak users connected. */
    readonly rssPerUserBytes: number | null;
  };
  readonly timeline: readonly TimelineSecond[];
}

/** Runs the load; resolves with the results once every user has disconnected. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const scenario = parseScenario(options.scenario.value, options.scenario.source);
  const cores = availableParallelism();
  const threads = options.workers ?? Math.min(cores, options.users);
  const plans = planThreads(options, Math.max(threads, 1));
  const aggregator = new RunAggregator(plans.length);
  let peakConnected = 0;
  const group = startThreads(plans, options.workers === 0, (report) => {
    aggregator.add(
      report.thread,
      report.seconds,
      report.through,
      report.connected,
      report.errorMessages,
    );
    peakConnected = Math.max(peakConnected, aggregator.connected);
  });
  const { stopAll } = group;
  options.signal?.addEventListener("abort", stopAll, { once: true });
  let sampler: GeneratorSampler | undefined;
  try {
    await Promise.all(group.handles.map((handle) => handle.ready));
    // Second 0 starts once every thread is loaded: memory measured now is the generator's own.
    const baselineRss = process.memoryUsage().rss;
    const startedAt = new Date();
    const startAt = wallClock() + 20;
    for (const handle of group.handles) handle.start(startAt);
    if (options.signal?.aborted) stopAll();
    const primary = scenario.metrics.find((metric) => metric !== "state_round_trip");
    sampler = new GeneratorSampler(aggregator, options, primary, startAt, baselineRss);
    sampler.start();
    const failure = (await group.finished).find((outcome) => outcome.status === "rejected");
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    sampler.stop();
    sampler.sample();
    return buildResult(options, scenario.name, aggregator, {
      startedAt,
      elapsedMs: wallClock() - startAt,
      threads: options.workers === 0 ? 0 : plans.length,
      cores,
      cpuSeconds: cpuSecondsSince(sampler.cpuAtStart),
      baselineRss,
      peakRss: sampler.peakRss,
      peakConnected,
    });
  } catch (error) {
    stopAll();
    await group.finished;
    throw error;
  } finally {
    sampler?.stop();
    options.signal?.removeEventListener("abort", stopAll);
  }
}

/** The run's threads, stopped together. */
interface ThreadGroup {
  readonly handles: readonly ThreadHandle[];
  /** Settles once every thread has ended, well or not. */
  readonly finished: Promise<PromiseSettledResult<void>[]>;
  stopAll(): void;
}

// One thread failing stops the others, so the run ends (and reports the failure) promptly.
function startThreads(
  plans: readonly ThreadPlan[],
  inThisOne: boolean,
  onReport: (report: ThreadReport) => void,
): ThreadGroup {
  const handles = plans.map((plan) =>
    inThisOne ? inThisThread(plan, onReport) : inWorker(plan, onReport)
  );
  let stopping = false;
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    for (const handle of handles) handle.stop();
  };
  const finished = Promise.allSettled(handles.map((handle) =>
    handle.finished.catch((error) => {
      stopAll();
      throw error;
    })
  ));
  return { handles, finished, stopAll };
}

// The generator's own CPU and memory, sampled just after each second boundary (like the threads'
// reports) into the timeline, with a live status for `onProgress` each time.
class GeneratorSampler {
  readonly cpuAtStart = process.cpuUsage();
  peakRss: number;
  readonly #aggregator: RunAggregator;
  readonly #options: LoadOptions;
  readonly #primary: MetricName | undefined;
  readonly #startAt: number;
  #lastCpu = this.cpuAtStart;
  #lastSampleAt = wallClock();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    aggregator: RunAggregator,
    options: LoadOptions,
    primary: MetricName | undefined,
    startAt: number,
    baselineRss: number,
  ) {
    this.#aggregator = aggregator;
    this.#options = options;
    this.#primary = primary;
    this.#startAt = startAt;
    this.peakRss = baselineRss;
  }

  /** Samples after each second until {@link stop}. */
  start(): void {
    const elapsed = wallClock() - this.#startAt;
    const delay = (Math.max(0, Math.floor(elapsed / 1000)) + 1) * 1000 - elapsed + 20;
    this.#timer = setTimeout(() => {
      this.sample();
      this.start();
    }, delay);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  sample(): void {
    const now = wallClock();
    const cpu = process.cpuUsage();
    const used = cpu.user + cpu.system - this.#lastCpu.user - this.#lastCpu.system;
    const rss = process.memoryUsage().rss;
    this.peakRss = Math.max(this.peakRss, rss);
    const second = Math.floor((now - this.#startAt) / 1000) - 1;
    if (second >= 0) {
      this.#aggregator.sample(second, (used / 1000 / (now - this.#lastSampleAt)) * 100, rss);
    }
    this.#lastCpu = cpu;
    this.#lastSampleAt = now;
    this.#options.onProgress?.(this.#status(now));
  }

  #status(now: number): LiveStatus {
    const aggregator = this.#aggregator;
    const primary = this.#primary;
    const total = primary === undefined ? undefined : aggregator.totals.get(primary);
    return {
      elapsedMs: Math.max(0, now - this.#startAt),
      durationMs: this.#options.durationMs,
      connected: aggregator.connected,
      users: this.#options.users,
      actionsPerSecond: aggregator.timeline.at(-1)?.actions ?? 0,
      metric: primary,
      p99: total !== undefined && total.count > 0 ? total.summary().p99 : undefined,
      errors: aggregator.errorCount,
      busy: aggregator.busy,
    };
  }
}

interface RunFacts {
  readonly startedAt: Date;
  readonly elapsedMs: number;
  readonly threads: number;
  readonly cores: number;
  readonly cpuSeconds: number;
  readonly baselineRss: number;
  readonly peakRss: number;
  readonly peakConnected: number;
}

function cpuSecondsSince(start: { user: number; system: number }): number {
  const now = process.cpuUsage();
  return (now.user + now.system - start.user - start.system) / 1e6;
}

function buildResult(
  options: LoadOptions,
  scenarioName: string,
  aggregator: RunAggregator,
  facts: RunFacts,
): LoadResult {
  aggregator.finish();
  const { elapsedMs, cpuSeconds } = facts;
  const peakConnected = Math.max(
    facts.peakConnected,
    ...aggregator.timeline.map((second) => second.connected),
  );
  const metrics: Partial<Record<MetricName, LatencySummary>> = {};
  for (const metric of METRICS) {
    const histogram = aggregator.totals.get(metric);
    if (histogram !== undefined && histogram.count > 0) metrics[metric] = histogram.summary();
  }
  const errors: LoadResult["errors"] = {};
  for (
    const [kind, count] of Object.entries(aggregator.errors).sort(([a], [b]) => a < b ? -1 : 1)
  ) {
    errors[kind] = { count, message: aggregator.errorMessages.get(kind) ?? "" };
  }
  return {
    version: 1,
    target: options.target.launcher !== undefined
      ? { launcher: options.target.launcher }
      : { url: options.target.url },
    scenario: { name: scenarioName, source: options.scenario.source },
    runtime: runtimeName(),
    startedAt: facts.startedAt.toISOString(),
    users: options.users,
    workers: facts.threads,
    rampSeconds: options.rampMs / 1000,
    durationSeconds: options.durationMs / 1000,
    elapsedSeconds: elapsedMs / 1000,
    totals: {
      actions: aggregator.actions,
      actionsPerSecond: aggregator.actions / (Math.min(elapsedMs, options.durationMs) / 1000),
      iterations: aggregator.iterations,
      errors: aggregator.errorCount,
      busy: aggregator.busy,
      peakConnected,
    },
    metrics,
    errors,
    generator: {
      cores: facts.cores,
      cpuSeconds,
      cpuPercent: (cpuSeconds * 1000 / elapsedMs) * 100,
      baselineRssBytes: facts.baselineRss,
      peakRssBytes: facts.peakRss,
      rssPerUserBytes: peakConnected > 0
        ? (facts.peakRss - facts.baselineRss) / peakConnected
        : null,
    },
    timeline: aggregator.timeline,
  };
}

// Users go to threads in turn; user i starts at i/users of the ramp.
function planThreads(options: LoadOptions, threads: number): ThreadPlan[] {
  const plans: ThreadPlan[] = [];
  for (let thread = 0; thread < threads; thread++) {
    const users: { index: number; offsetMs: number }[] = [];
    for (let index = thread; index < options.users; index += threads) {
      users.push({ index, offsetMs: (options.rampMs * index) / options.users });
    }
    plans.push({
      kind: WORKER_KIND,
      thread,
      target: options.target,
      scenario: options.scenario,
      users,
      durationMs: options.durationMs,
    });
  }
  return plans;
}

/** A thread of the run, in a worker or in this thread. */
interface ThreadHandle {
  /** Resolves once the thread has loaded and checked the scenario. */
  readonly ready: Promise<void>;
  /** Resolves once every user of the thread has disconnected and the last report is in. */
  readonly finished: Promise<void>;
  start(startAt: number): void;
  stop(): void;
}

function inThisThread(plan: ThreadPlan, onReport: (report: ThreadReport) => void): ThreadHandle {
  let start!: (startAt: number) => void;
  let stop!: () => void;
  const started = new Promise<number>((resolve) => (start = resolve));
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  return {
    ready: Promise.resolve(),
    finished: runThread(plan, onReport, started, stopped),
    start,
    stop,
  };
}

function inWorker(plan: ThreadPlan, onReport: (report: ThreadReport) => void): ThreadHandle {
  const extension = import.meta.url.endsWith(".ts") ? "ts" : "js";
  const worker = new Worker(new URL(`./worker.${extension}`, import.meta.url), {
    workerData: plan,
  });
  let ready!: () => void;
  const readiness = new Promise<void>((resolve) => (ready = resolve));
  const finished = new Promise<void>((resolve, reject) => {
    let done = false;
    let failure: Error | undefined;
    worker.on("message", (message: ThreadMessage) => {
      if (message === "ready") ready();
      else if ("failed" in message) {
        failure = new Error(`load thread ${plan.thread} failed: ${message.failed}`);
      } else {
        onReport(message);
        if (message.done) done = true;
      }
    });
    worker.on("error", (error) => (failure ??= error));
    worker.on("exit", () => {
      if (done) resolve();
      else reject(failure ?? new Error(`load thread ${plan.thread} exited before finishing`));
    });
  });
  return {
    // A thread that fails to load never says it is ready: its failure ends the wait.
    ready: Promise.race([readiness, finished]),
    finished,
    start: (startAt) => worker.postMessage({ startAt } satisfies ThreadCommand),
    stop: () => worker.postMessage("stop" satisfies ThreadCommand),
  };
}

/** `node 24.9.0`, `deno 2.9.6` or `bun 1.4.5`. */
export function runtimeName(): string {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.deno !== undefined) return `deno ${versions.deno}`;
  if (versions.bun !== undefined) return `bun ${versions.bun}`;
  return `node ${versions.node}`;
}
