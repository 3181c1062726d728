/**
 * One thread of a load run: starts its share of the users at their times, reports each finished
 * second to the main thread, stops them at the end (or when told to), and reports the rest.
 * Loaded as a worker thread by `run.ts`; `runThread` also runs in the main thread when a run
 * asks for no workers.
 * @module
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { parseScenario } from "./scenario.ts";
import { type SecondData, SecondRecorder, wallClock } from "./metrics.ts";
import { onAbort, RoundTrips } from "./steps.ts";
import { type LoadTarget, runUser, type UserOptions } from "./user.ts";

/** Marks the worker data of a load thread. */
export const WORKER_KIND = "trame-wire-load-thread";

/** What a thread is asked to do. */
export interface ThreadPlan {
  readonly kind: typeof WORKER_KIND;
  readonly thread: number;
  readonly target: LoadTarget;
  /** The scenario as parsed from its file (plain values), and its file name. */
  readonly scenario: { readonly value: unknown; readonly source: string };
  /** The users of this thread: their index in the run and when each starts (ms after start). */
  readonly users: readonly { readonly index: number; readonly offsetMs: number }[];
  /** The length of the run in ms, from its start. */
  readonly durationMs: number;
}

/** What the main thread tells a thread: start (second 0, in wall clock ms), or stop early. */
export type ThreadCommand = { readonly startAt: number } | "stop";

/** A thread's message to the main thread: ready to start, a report, or a failure. */
export type ThreadMessage = "ready" | ThreadReport | { readonly failed: string };

/** What a thread reports. */
export interface ThreadReport {
  readonly thread: number;
  readonly seconds: SecondData[];
  /** Every second before this one is complete for this thread. */
  readonly through: number;
  readonly connected: number;
  readonly errorMessages: Record<string, string>;
  /** Set on the last report, once every user has disconnected. */
  readonly done: boolean;
}

/**
 * Runs a thread's plan once `start` gives second 0 (wall clock ms). `report` receives the
 * finished seconds every second and a last report with `done`; `stop` ends the run early.
 */
export async function runThread(
  plan: ThreadPlan,
  report: (message: ThreadReport) => void,
  start: Promise<number>,
  stop: Promise<void>,
): Promise<void> {
  const scenario = parseScenario(plan.scenario.value, plan.scenario.source);
  const startAt = await Promise.race([start, stop.then(() => undefined)]);
  if (startAt === undefined) {
    report({
      thread: plan.thread,
      seconds: [],
      through: Infinity,
      connected: 0,
      errorMessages: {},
      done: true,
    });
    return;
  }
  const recorder = new SecondRecorder(startAt);
  const controller = new AbortController();
  const roundTrips = scenario.watchesRoundTrips ? new RoundTrips() : undefined;
  const send = (seconds: SecondData[], through: number, done: boolean) =>
    report({
      thread: plan.thread,
      seconds,
      through,
      connected: recorder.connected,
      errorMessages: Object.fromEntries(recorder.errorMessages),
      done,
    });
  const stopTicks = sendEachSecond(recorder, startAt, send);
  const endAt = startAt + plan.durationMs;
  const endTimer = setTimeout(() => controller.abort(), Math.max(0, endAt - wallClock()));
  void stop.then(() => controller.abort());
  await Promise.all(plan.users.map(({ index, offsetMs }) =>
    startUser(startAt + offsetMs, {
      target: plan.target,
      scenario,
      user: index,
      recorder,
      signal: controller.signal,
      roundTrips,
    })
  ));
  clearTimeout(endTimer);
  stopTicks();
  roundTrips?.clear();
  send(recorder.drain(), Infinity, true);
}

// A tick just after each second boundary hands over the second that ended; returns the function
// that stops the ticks.
function sendEachSecond(
  recorder: SecondRecorder,
  startAt: number,
  send: (seconds: SecondData[], through: number, done: boolean) => void,
): () => void {
  let tickTimer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    const now = recorder.secondOf();
    send(recorder.drain(now), now, false);
    tickTimer = setTimeout(tick, 1000 - ((wallClock() - startAt) % 1000) + 5);
  };
  tickTimer = setTimeout(tick, Math.max(0, startAt - wallClock()) + 1005);
  return () => clearTimeout(tickTimer);
}

// Runs a user from `startsAt` (wall clock ms) unless the run stops first; resolves once the user
// has disconnected (or never started). A user that throws is counted as `user.crashed`.
function startUser(startsAt: number, options: UserOptions): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      cancel();
      runUser(options)
        .catch((error) => options.recorder.error("user.crashed", String(error)))
        .finally(resolve);
    }, Math.max(0, startsAt - wallClock()));
    const cancel = onAbort(options.signal, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// As a worker thread: run the plan from the worker data, once told when to start.
if (!isMainThread && (workerData as ThreadPlan | undefined)?.kind === WORKER_KIND) {
  const port = parentPort!;
  let onStart: (startAt: number) => void;
  let onStop: () => void;
  const start = new Promise<number>((resolve) => (onStart = resolve));
  const stop = new Promise<void>((resolve) => (onStop = resolve));
  const onCommand = (command: ThreadCommand) => {
    if (command === "stop") onStop();
    else onStart(command.startAt);
  };
  port.on("message", onCommand);
  const post = (message: ThreadMessage) => port.postMessage(message);
  post("ready");
  // Once the plan has run, nothing is listened to any more and the thread ends by itself.
  runThread(workerData as ThreadPlan, post, start, stop)
    .catch((error) => post({ failed: String(error?.stack ?? error) }))
    .finally(() => port.off("message", onCommand));
}
