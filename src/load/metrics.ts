/**
 * What a load run counts, second by second: each thread records into per-second buckets
 * ({@link SecondRecorder}) and hands over the seconds that are over; the main thread merges
 * them ({@link RunAggregator}) into exact totals and a timeline, finalising a second once every
 * thread has reported past it, so memory stays bounded however long the run.
 * @module
 */
import { Histogram, type HistogramData, type LatencySummary } from "./histogram.ts";
import { ACTION_METRICS, type MetricName } from "./scenario.ts";

/** Error kinds kept per run: past this many distinct kinds, the rest count as `other`. */
const MAX_ERROR_KINDS = 100;

/** The wall clock in milliseconds, comparable across threads. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/** One second of one thread, as it travels to the main thread. */
export interface SecondData {
  readonly second: number;
  readonly latencies: Partial<Record<MetricName, HistogramData>>;
  readonly actions: number;
  readonly iterations: number;
  readonly errors: Record<string, number>;
  /** Launcher replies HTTP 503 (no resources): their own outcome, not errors. */
  readonly busy: number;
  /** The most users connected at once in that second. */
  readonly connected: number;
}

interface OpenSecond {
  latencies: Map<MetricName, Histogram>;
  /** The most users connected at once during the second. */
  connected: number;
  actions: number;
  iterations: number;
  errors: Record<string, number>;
  busy: number;
}

/** Per-second recording in one thread. */
export class SecondRecorder {
  readonly #startAt: number;
  #open = new Map<number, OpenSecond>();
  #connected = 0;
  #drained = 0; // Seconds before this one were taken by drain().
  readonly #errorMessages = new Map<string, string>();

  /** `startAt`: the run's second 0, in {@link wallClock} milliseconds. */
  constructor(startAt: number) {
    this.#startAt = startAt;
  }

  /** Users connected now. */
  get connected(): number {
    return this.#connected;
  }

  /** The first message seen for each error kind (at most 100 kinds). */
  get errorMessages(): ReadonlyMap<string, string> {
    return this.#errorMessages;
  }

  /** The second of the run that `time` falls in. */
  secondOf(time = wallClock()): number {
    return Math.max(0, Math.floor((time - this.#startAt) / 1000));
  }

  record(metric: MetricName, ms: number): void {
    const open = this.#current();
    let histogram = open.latencies.get(metric);
    if (histogram === undefined) open.latencies.set(metric, histogram = new Histogram());
    histogram.recordMilliseconds(ms);
    if (ACTION_METRICS.has(metric)) open.actions++;
  }

  iteration(): void {
    this.#current().iterations++;
  }

  error(kind: string, message: string): void {
    const open = this.#current();
    const known = this.#errorMessages.has(kind) || this.#errorMessages.size < MAX_ERROR_KINDS;
    const key = known ? kind : "other";
    if (!this.#errorMessages.has(key)) this.#errorMessages.set(key, message);
    open.errors[key] = (open.errors[key] ?? 0) + 1;
  }

  busy(): void {
    this.#current().busy++;
  }

  userConnected(change: 1 | -1): void {
    const open = this.#current();
    this.#connected += change;
    open.connected = Math.max(open.connected, this.#connected);
  }

  /**
   * Takes every second not taken yet before `before` (default: up to and including the current
   * one), oldest first; seconds with nothing recorded come as empty ones, so the series has no
   * gaps.
   */
  drain(before = this.secondOf() + 1): SecondData[] {
    const taken: SecondData[] = [];
    for (; this.#drained < before; this.#drained++) {
      const second = this.#drained;
      const open = this.#open.get(second);
      this.#open.delete(second);
      const latencies: Partial<Record<MetricName, HistogramData>> = {};
      for (const [metric, histogram] of open?.latencies ?? []) {
        latencies[metric] = histogram.toData();
      }
      taken.push({
        second,
        latencies,
        actions: open?.actions ?? 0,
        iterations: open?.iterations ?? 0,
        errors: open?.errors ?? {},
        busy: open?.busy ?? 0,
        connected: open?.connected ?? this.#connected,
      });
    }
    return taken;
  }

  #current(): OpenSecond {
    // Never a second already taken: a late event counts in the first open one.
    const second = Math.max(this.secondOf(), this.#drained);
    let open = this.#open.get(second);
    if (open === undefined) {
      open = {
        latencies: new Map(),
        connected: this.#connected,
        actions: 0,
        iterations: 0,
        errors: {},
        busy: 0,
      };
      this.#open.set(second, open);
    }
    return open;
  }
}

/** Latency figures of one second of the timeline. */
export type SecondLatency = Pick<LatencySummary, "count" | "p50" | "p90" | "p99" | "max">;

/** One second of the run, all threads together. */
export interface TimelineSecond {
  readonly second: number;
  readonly connected: number;
  readonly actions: number;
  readonly iterations: number;
  readonly errors: number;
  readonly busy: number;
  /** The generator's CPU in that second, in percent of one core (200 = two cores busy). */
  readonly cpuPercent: number | null;
  readonly rssBytes: number | null;
  readonly latency: Partial<Record<MetricName, SecondLatency>>;
}

interface PendingSecond {
  latencies: Map<MetricName, Histogram>;
  actions: number;
  iterations: number;
  errors: number;
  busy: number;
  connected: number;
}

/** Merges the threads' seconds into totals and a timeline. */
export class RunAggregator {
  readonly totals = new Map<MetricName, Histogram>();
  readonly errors: Record<string, number> = {};
  readonly errorMessages = new Map<string, string>();
  timeline: TimelineSecond[] = [];
  actions = 0;
  iterations = 0;
  busy = 0;
  #pending = new Map<number, PendingSecond>();
  #reportedThrough: number[];
  #connected: number[];
  #samples = new Map<number, { cpuPercent: number; rssBytes: number }>();

  constructor(threads: number) {
    this.#reportedThrough = new Array(threads).fill(0);
    this.#connected = new Array(threads).fill(0);
  }

  /** Users connected now, over all threads (as last reported). */
  get connected(): number {
    return this.#connected.reduce((sum, count) => sum + count, 0);
  }

  /** Errors so far. */
  get errorCount(): number {
    return Object.values(this.errors).reduce((sum, count) => sum + count, 0);
  }

  /** The generator's CPU and memory in `second`, measured by the main thread. */
  sample(second: number, cpuPercent: number, rssBytes: number): void {
    this.#samples.set(second, { cpuPercent, rssBytes });
  }

  /**
   * Adds what thread `thread` reported: its finished seconds, and that every second before
   * `through` is complete for it (`Infinity` once it is done).
   */
  add(
    thread: number,
    seconds: readonly SecondData[],
    through: number,
    connected: number,
    messages: ReadonlyMap<string, string> | Record<string, string> = {},
  ): void {
    for (const data of seconds) {
      let pending = this.#pending.get(data.second);
      if (pending === undefined) {
        pending = {
          latencies: new Map(),
          actions: 0,
          iterations: 0,
          errors: 0,
          busy: 0,
          connected: 0,
        };
        this.#pending.set(data.second, pending);
      }
      for (
        const [metric, histogram] of Object.entries(data.latencies) as [MetricName, HistogramData][]
      ) {
        let merged = pending.latencies.get(metric);
        if (merged === undefined) pending.latencies.set(metric, merged = new Histogram());
        merged.add(histogram);
        let total = this.totals.get(metric);
        if (total === undefined) this.totals.set(metric, total = new Histogram());
        total.add(histogram);
      }
      let errors = 0;
      for (const [kind, count] of Object.entries(data.errors)) {
        this.errors[kind] = (this.errors[kind] ?? 0) + count;
        errors += count;
      }
      pending.actions += data.actions;
      pending.iterations += data.iterations;
      pending.errors += errors;
      pending.busy += data.busy;
      pending.connected += data.connected;
      this.actions += data.actions;
      this.iterations += data.iterations;
      this.busy += data.busy;
    }
    const entries = messages instanceof Map ? [...messages] : Object.entries(messages);
    for (const [kind, message] of entries) {
      if (!this.errorMessages.has(kind)) this.errorMessages.set(kind, message);
    }
    this.#reportedThrough[thread] = Math.max(this.#reportedThrough[thread], through);
    this.#connected[thread] = connected;
    this.#finalize(Math.min(...this.#reportedThrough));
  }

  /** Finalises every second still pending and adds the CPU and memory samples (at the end). */
  finish(): void {
    this.#finalize(Infinity);
    this.timeline = this.timeline.map((second) => {
      const sample = this.#samples.get(second.second);
      return {
        ...second,
        cpuPercent: sample?.cpuPercent ?? null,
        rssBytes: sample?.rssBytes ?? null,
      };
    });
  }

  #finalize(through: number): void {
    const ready = [...this.#pending.keys()].filter((second) => second < through).sort((a, b) =>
      a - b
    );
    for (const second of ready) {
      const pending = this.#pending.get(second)!;
      this.#pending.delete(second);
      const latency: Partial<Record<MetricName, SecondLatency>> = {};
      for (const [metric, histogram] of pending.latencies) {
        const { count, p50, p90, p99, max } = histogram.summary();
        latency[metric] = { count, p50, p90, p99, max };
      }
      this.timeline.push({
        second,
        connected: pending.connected,
        actions: pending.actions,
        iterations: pending.iterations,
        errors: pending.errors,
        busy: pending.busy,
        cpuPercent: null,
        rssBytes: null,
        latency,
      });
    }
  }
}
