/**
 * Running a scenario's steps for one connected virtual user, through the public client API
 * (`TrameClient`, its `state` and its `session`). Shared by `trame-wire load` and the Artillery
 * engine: both hand over a `record` function for latencies and get typed failures back.
 * @module
 */
import type { TrameClient } from "../trame/client.ts";
import type { Subscription } from "../session/subscription.ts";
import { WslinkError } from "../session/errors.ts";
import { LauncherError } from "../trame/launcher.ts";
import { deepEqual } from "../trame/state.ts";
import { describeFailure } from "../cli/failures.ts";
import { CLIENT_ERROR, METHOD_NOT_FOUND, UNAUTHORIZED } from "../protocol/error_codes.ts";
import { STATE_TOPIC, TRAME_METHODS } from "../trame/protocol.ts";
import type { Condition, MetricName, Step, TemplateVars } from "./scenario.ts";

type StepOf<K extends Step["kind"]> = Extract<Step, { readonly kind: K }>;

/** Where a step's latency goes: `metric` took `ms` milliseconds. */
export type Recorder = (metric: MetricName, ms: number) => void;

/** A step (or the connection) failed; `kind` is the error's name in reports, `step.reason`. */
export class StepFailure extends Error {
  /** `"<step>.<reason>"`, e.g. `trigger.timeout`, `connect.refused`, `get.mismatch`. */
  readonly kind: string;

  constructor(step: string, reason: string, detail: string, options?: ErrorOptions) {
    super(`${step}: ${detail}`, options);
    this.name = "StepFailure";
    this.kind = `${step}.${reason}`;
  }
}

/** The run is stopping: the step was cut short on purpose, nothing failed. */
export class Stopped extends Error {
  constructor() {
    super("stopped");
    this.name = "Stopped";
  }
}

// One "abort" listener per signal, however many users wait on it: an EventTarget's listeners
// are a list that each addEventListener and removeEventListener walks, which thousands of users
// waiting on the run's one signal would turn into the generator's main cost.
const stopCallbacks = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `callback` when `signal` aborts (at once if it has); returns the function that cancels
 * this. Adding and cancelling cost O(1) whatever the number of callbacks.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    callback();
    return () => {};
  }
  let callbacks = stopCallbacks.get(signal);
  if (callbacks === undefined) {
    const created = new Set<() => void>();
    stopCallbacks.set(signal, callbacks = created);
    signal.addEventListener("abort", () => {
      for (const stop of [...created]) stop();
      created.clear();
    }, { once: true });
  }
  const registered = callbacks;
  const entry = () => callback();
  registered.add(entry);
  return () => void registered.delete(entry);
}

/** The reason part of an error's kind: `timeout`, `closed`, `server-error`, `busy`, … */
export function reasonOf(error: unknown): string {
  if (error instanceof WslinkError) {
    if (error.code === CLIENT_ERROR) {
      const kind = (error.data as { kind?: unknown } | undefined)?.kind;
      return typeof kind === "string" ? kind : "client";
    }
    if (error.code === UNAUTHORIZED) return "unauthorized";
    if (error.code === METHOD_NOT_FOUND) return "unknown-method";
    return "server-error";
  }
  if (error instanceof LauncherError) {
    if (error.status === 503) return "busy";
    return error.status === undefined ? "unreachable" : `http-${error.status}`;
  }
  return "error";
}

/**
 * Pending `set`s that asked for the state round trip, shared by the users of one thread: the
 * first other user that receives the change records `state_round_trip`.
 */
export class RoundTrips {
  #pending = new Map<string, { value: unknown; at: number; user: number | string }>();

  /** Notes that `user` set `changes` at `at` (ms, `performance.now()`). */
  noteSet(user: number | string, changes: Record<string, unknown>, at: number): void {
    for (const [key, value] of Object.entries(changes)) this.#pending.set(key, { value, at, user });
  }

  /** `user` received a state publish at `now`: records the round trips it completes. */
  observe(
    user: number | string,
    changes: Record<string, unknown>,
    now: number,
    record: Recorder,
  ): void {
    if (this.#pending.size === 0) return;
    for (const key of Object.keys(changes)) {
      const pending = this.#pending.get(key);
      if (pending === undefined || pending.user === user) continue;
      if (!deepEqual(pending.value, changes[key])) continue;
      this.#pending.delete(key);
      record("state_round_trip", now - pending.at);
    }
  }

  /** Forgets everything pending. */
  clear(): void {
    this.#pending.clear();
  }
}

interface TopicWatch {
  readonly subscription: Subscription;
  armedAt: number;
  arrivedAt: number | undefined;
  wake: (() => void) | undefined;
}

/** Options of {@link UserSteps}. */
export interface UserStepsOptions {
  readonly user: number | string;
  /** Aborted when the run stops: thinks and waits end at once with {@link Stopped}. */
  readonly signal: AbortSignal;
  readonly record: Recorder;
  /** Given when the scenario measures state round trips. */
  readonly roundTrips?: RoundTrips;
}

/** The steps of one connected user: `run()` one pass, `dispose()` at the end. */
export class UserSteps {
  readonly #client: TrameClient;
  readonly #options: UserStepsOptions;
  readonly #topics = new Map<string, TopicWatch>();
  readonly #stateWatch: Subscription | undefined;

  constructor(client: TrameClient, options: UserStepsOptions) {
    this.#client = client;
    this.#options = options;
    const roundTrips = options.roundTrips;
    if (roundTrips !== undefined) {
      this.#stateWatch = client.session.subscribe(STATE_TOPIC, (payload) => {
        if (payload !== null && typeof payload === "object" && !Array.isArray(payload)) {
          roundTrips.observe(
            options.user,
            payload as Record<string, unknown>,
            performance.now(),
            options.record,
          );
        }
      });
    }
  }

  /** Runs `steps` once with `{{iteration}}` = `iteration`; throws the first failure. */
  async run(steps: readonly Step[], iteration: number): Promise<void> {
    const vars: TemplateVars = { user: this.#options.user, iteration };
    for (const step of steps) {
      if (this.#options.signal.aborted) throw new Stopped();
      await this.#step(step, vars);
    }
  }

  /** Ends the subscriptions this user made. */
  dispose(): void {
    this.#stateWatch?.unsubscribe();
    for (const watch of this.#topics.values()) {
      watch.subscription.unsubscribe();
      watch.wake?.();
    }
    this.#topics.clear();
  }

  async #step(step: Step, vars: TemplateVars): Promise<void> {
    switch (step.kind) {
      case "set":
        return await this.#set(step, vars);
      case "get":
        return await this.#get(step, vars);
      case "trigger":
      case "call":
        return await this.#invoke(step, vars);
      case "waitFor": {
        const key = step.key(vars) as string;
        const started = performance.now();
        await this.#waitForState(key, step.condition, vars, step.timeout);
        this.#options.record("wait_for", performance.now() - started);
        return;
      }
      case "subscribe":
        this.#watch(step.topic, true);
        return;
      case "expectPublish":
        return await this.#expectPublish(step);
      case "think": {
        const ms = step.min + Math.random() * (step.max - step.min);
        await this.#wait("think", ms, "", () => () => {}, () => false);
        return;
      }
      case "loop":
        return await this.#loop(step, vars);
    }
  }

  async #set(step: StepOf<"set">, vars: TemplateVars): Promise<void> {
    const values = step.values(vars) as Record<string, unknown>;
    const started = performance.now();
    if (step.roundTrip) this.#options.roundTrips?.noteSet(vars.user, values, started);
    this.#client.state.update(values);
    await this.#bounded("set", this.#client.state.flush(), step.timeout);
    this.#options.record("set", performance.now() - started);
  }

  async #get(step: StepOf<"get">, vars: TemplateVars): Promise<void> {
    const keys = step.keys(vars) as string[];
    const expected = step.expect?.(vars) as Record<string, unknown> | undefined;
    const started = performance.now();
    const reply = await this.#call("get", TRAME_METHODS.stateGet, [], {}, step.timeout);
    this.#options.record("get", performance.now() - started);
    const state = (reply as { state?: Record<string, unknown> } | null)?.state ?? {};
    checkState(state, keys, expected ?? {});
  }

  // A trigger or a wslink method call, and its result checked against `expect` if given.
  async #invoke(step: StepOf<"trigger" | "call">, vars: TemplateVars): Promise<void> {
    const name = step.name(vars) as string;
    const args = step.args(vars) as unknown[];
    const kwargs = step.kwargs(vars) as Record<string, unknown>;
    const started = performance.now();
    const result = step.kind === "trigger"
      ? await this.#call("trigger", TRAME_METHODS.trigger, [name, args, kwargs], {}, step.timeout)
      : await this.#call("call", name, args, kwargs, step.timeout);
    this.#options.record(step.kind, performance.now() - started);
    if (step.expect !== undefined) {
      const expected = step.expect(vars);
      if (!deepEqual(result, expected)) {
        throw new StepFailure(
          step.kind,
          "mismatch",
          `${name} returned ${describe(result)}, expected ${describe(expected)}`,
        );
      }
    }
  }

  // Waits for a publish on the topic since the last one this step saw (or since it was armed).
  async #expectPublish(step: StepOf<"expectPublish">): Promise<void> {
    const watch = this.#watch(step.topic, false);
    if (watch.arrivedAt === undefined) {
      await this.#wait("publish", step.timeout, `no publish on ${step.topic}`, (wake) => {
        watch.wake = wake;
        return () => (watch.wake = undefined);
      }, () => watch.arrivedAt !== undefined);
    }
    this.#options.record("publish", watch.arrivedAt! - watch.armedAt);
    watch.armedAt = performance.now();
    watch.arrivedAt = undefined;
  }

  async #loop(step: StepOf<"loop">, vars: TemplateVars): Promise<void> {
    // Inside a loop, {{iteration}} keeps counting up across the outer passes.
    for (let index = 0; index < step.count; index++) {
      const inner = { user: vars.user, iteration: vars.iteration * step.count + index };
      for (const innerStep of step.steps) {
        if (this.#options.signal.aborted) throw new Stopped();
        await this.#step(innerStep, inner);
      }
    }
  }

  async #call(
    step: string,
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    timeout: number,
  ): Promise<unknown> {
    try {
      return await this.#client.session.call(method, args, kwargs, { timeout });
    } catch (error) {
      throw new StepFailure(step, reasonOf(error), describeError(error), { cause: error });
    }
  }

  async #bounded(step: string, promise: Promise<void>, timeout: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new StepFailure(step, "timeout", `no answer after ${timeout} ms`)),
            timeout,
          );
        }),
      ]);
    } catch (error) {
      if (error instanceof StepFailure) throw error;
      throw new StepFailure(step, reasonOf(error), describeError(error), { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  // Subscribes to `topic` once; `arm` restarts the wait for its next publish.
  #watch(topic: string, arm: boolean): TopicWatch {
    let watch = this.#topics.get(topic);
    if (watch === undefined) {
      const created: TopicWatch = {
        subscription: this.#client.session.subscribe(topic, () => {
          if (created.arrivedAt !== undefined) return;
          created.arrivedAt = performance.now();
          created.wake?.();
        }),
        armedAt: performance.now(),
        arrivedAt: undefined,
        wake: undefined,
      };
      this.#topics.set(topic, watch = created);
    } else if (arm) {
      watch.armedAt = performance.now();
      watch.arrivedAt = undefined;
    }
    return watch;
  }

  #waitForState(
    key: string,
    condition: Condition,
    vars: TemplateVars,
    timeout: number,
  ): Promise<void> {
    const state = this.#client.state;
    const expected = "value" in condition && typeof condition.value === "function"
      ? condition.value(vars)
      : undefined;
    const holds = (): boolean => {
      const value = state.get(key);
      switch (condition.type) {
        case "equals":
          return deepEqual(value, expected);
        case "notEquals":
          return !deepEqual(value, expected);
        case "greaterThan":
          return typeof value === "number" && value > (expected as number);
        case "lessThan":
          return typeof value === "number" && value < (expected as number);
        case "exists":
          return state.has(key) === condition.value;
        case "changes":
          return false; // Only a change event satisfies it.
      }
    };
    if (holds()) return Promise.resolve();
    let changed = false;
    return this.#wait("wait_for", timeout, `${key} did not satisfy ${condition.type}`, (wake) => {
      const stopListening = state.onChange(key, () => {
        changed = true;
        wake();
      });
      const stopStatus = this.#client.on("status", wake);
      return () => {
        stopListening();
        stopStatus();
      };
    }, () => {
      if (this.#client.status !== "connected") {
        throw new StepFailure("wait_for", "closed", "the connection closed while waiting");
      }
      return condition.type === "changes" ? changed : holds();
    });
  }

  /**
   * Waits until `done()` holds (checked each time `listen`'s wake is called), `ms` pass (a
   * timeout failure, or the end of a think when `detail` is empty) or the run stops.
   */
  #wait(
    step: string,
    ms: number,
    detail: string,
    listen: (wake: () => void) => () => void,
    done: () => boolean,
  ): Promise<void> {
    const signal = this.#options.signal;
    return new Promise<void>((resolve, reject) => {
      let stopListening = () => {};
      let stopWaiting = () => {};
      const finish = (error?: unknown) => {
        clearTimeout(timer);
        stopWaiting();
        stopListening();
        if (error === undefined) resolve();
        else reject(error);
      };
      const timer = setTimeout(() => {
        finish(
          detail === "" ? undefined : new StepFailure(step, "timeout", `${detail} in ${ms} ms`),
        );
      }, ms);
      stopWaiting = onAbort(signal, () => finish(new Stopped()));
      if (signal.aborted) return;
      stopListening = listen(() => {
        try {
          if (done()) finish();
        } catch (error) {
          finish(error);
        }
      });
    });
  }
}

/** One line for an error, for reports (a server error with the exception it raised). */
export function describeError(error: unknown): string {
  return describeFailure(error);
}

// The keys a get step asked for are all in the server's state, with the values it expects.
function checkState(
  state: Record<string, unknown>,
  keys: readonly string[],
  expected: Record<string, unknown>,
): void {
  for (const key of keys) {
    if (!Object.hasOwn(state, key)) {
      throw new StepFailure("get", "missing", `the server's state has no key ${key}`);
    }
  }
  for (const [key, value] of Object.entries(expected)) {
    if (!deepEqual(state[key], value)) {
      throw new StepFailure(
        "get",
        "mismatch",
        `${key} is ${describe(state[key])}, expected ${describe(value)}`,
      );
    }
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(
    value,
    (_key, item) => item instanceof Uint8Array ? `<${item.byteLength} bytes>` : item,
  );
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
