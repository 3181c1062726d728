// The measuring code of `trame-wire bench` and of the end-to-end matrix (bench/e2e.ts): each
// function times one workload on a connected session against a server with the demo triggers.
import type { CallOptions } from "../session/options.ts";
import type { WslinkSession } from "../session/session.ts";
import { DEMO_TRIGGERS } from "./demo_app.ts";
import { Watchdog } from "./deadline.ts";
import { TRAME_METHODS } from "../trame/protocol.ts";

/** The topic the publish workload uses. */
export const BENCH_TOPIC = "trame_wire.bench";

/** A timed batch of publishes. */
export interface PublishTiming {
  /** Publishes delivered to the subscriber. */
  readonly count: number;
  /** From the trigger call to the last publish delivered, in ms. */
  readonly totalMs: number;
  /** From the first publish delivered to the last, in ms: the consumption alone. */
  readonly consumeMs: number;
}

/** A timed batch of round trips or results. */
export interface Timing {
  readonly count: number;
  readonly ms: number;
}

/**
 * Asks the server for `count` publishes on {@link BENCH_TOPIC} and times their delivery to one
 * subscriber. The count and the sum of the payloads' `index` fields are checked (a mismatch
 * throws), so every publish was decoded and delivered whole.
 *
 * With `backlogMs`, the event loop is held that long once the trigger call returned (the server
 * has packed every publish by then and sends them right after), so the publishes pile up in the
 * socket buffers and are then consumed from a backlog: the time measures the client alone, not
 * the pace at which the server hands frames to its socket.
 *
 * With `idleTimeout`, the wait (trigger call included) fails with a -32099 `timeout` error once
 * about that many ms pass without a publish; without it, the trigger call has the session's timeout.
 * A server whose trigger does not answer `count` (trame answers null for a missing trigger)
 * fails at once rather than leaving the wait for publishes that will never come.
 */
export async function measurePublishes(
  session: WslinkSession,
  count: number,
  onProgress: (received: number) => void = () => {},
  backlogMs = 0,
  idleTimeout = 0,
): Promise<PublishTiming> {
  let received = 0;
  let checksum = 0;
  let first = 0;
  let last = 0;
  let done!: () => void;
  const allReceived = new Promise<void>((resolve) => (done = resolve));
  const watchdog = idleTimeout > 0 ? new Watchdog(idleTimeout, "the publishes") : undefined;
  const subscription = session.subscribe(BENCH_TOPIC, (payload) => {
    watchdog?.touch();
    if (received === 0) first = performance.now();
    checksum += (payload as { index: number }).index;
    received++;
    if ((received & 4095) === 0) onProgress(received);
    if (received === count) {
      last = performance.now();
      done();
    }
  });
  const guarded = <T>(work: Promise<T>) => watchdog?.guard(work) ?? work;
  try {
    const started = performance.now();
    // Under a watchdog, the call may take as long as the publishes keep coming.
    const callOptions = watchdog ? { timeout: 0, signal: watchdog.signal } : {};
    const answer = await guarded(
      session.call(
        TRAME_METHODS.trigger,
        [DEMO_TRIGGERS.benchPublish, [count, BENCH_TOPIC], {}],
        {},
        callOptions,
      ),
    );
    if (answer !== count) {
      throw new Error(
        `${DEMO_TRIGGERS.benchPublish} answered ${JSON.stringify(answer)} instead of ${count}`,
      );
    }
    holdEventLoop(backlogMs);
    if (count > 0) await guarded(allReceived);
    else first = last = performance.now();
    onProgress(received);
    const expected = (count * (count - 1)) / 2;
    if (received !== count || checksum !== expected) {
      throw new Error(`got ${received} publishes with checksum ${checksum}, expected ${expected}`);
    }
    return { count, totalMs: last - started, consumeMs: last - first };
  } finally {
    watchdog?.stop();
    subscription.unsubscribe();
  }
}

/** The round trip the RPC workloads repeat: `add(1, 2)`, checked. */
export async function addCall(session: WslinkSession): Promise<void> {
  const sum = await session.call(TRAME_METHODS.trigger, [DEMO_TRIGGERS.add, [1, 2], {}]);
  if (sum !== 3) throw new Error(`add(1, 2) returned ${String(sum)}`);
}

/** Times `count` calls made one after the other. */
export async function measureSequential(
  count: number,
  call: () => Promise<unknown>,
): Promise<Timing> {
  const started = performance.now();
  for (let index = 0; index < count; index++) await call();
  return { count, ms: performance.now() - started };
}

/** Times `count` calls with `window` of them in flight at any time. */
export async function measureInFlight(
  count: number,
  window: number,
  call: () => Promise<unknown>,
): Promise<Timing> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await call();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  return { count, ms: performance.now() - started };
}

/** Whether `bytes` looks like the demo pattern: its length and bytes spread across it. */
export function checkBenchBlob(bytes: unknown, size: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== size) {
    throw new Error(`expected ${size} bytes, got ${describe(bytes)}`);
  }
  const step = Math.max(1, Math.floor(size / 4096));
  for (let index = 0; index < size; index += step) {
    if (bytes[index] !== ((index * 31 + 7) & 0xff)) throw new Error(`byte ${index} is wrong`);
  }
  if (size > 0 && bytes[size - 1] !== (((size - 1) * 31 + 7) & 0xff)) {
    throw new Error("the last byte is wrong");
  }
}

/**
 * Times `count` results of `size` bytes each (the demo pattern, made once by the server and sent
 * again for every call), one call at a time; each result is checked and then dropped.
 * `callOptions` apply to each call.
 */
export async function measureLargeResults(
  session: WslinkSession,
  count: number,
  size: number,
  callOptions: CallOptions = {},
): Promise<Timing> {
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    // Checked where it arrives: no variable of this loop keeps it alive into the next call.
    checkBenchBlob(
      await session.call(
        TRAME_METHODS.trigger,
        [DEMO_TRIGGERS.benchBlob, [size], {}],
        {},
        callOptions,
      ),
      size,
    );
  }
  return { count, ms: performance.now() - started };
}

/** Blocks this thread for `ms` milliseconds (lets frames pile up in the socket buffers). */
export function holdEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy on purpose: nothing may run meanwhile.
  }
}

function describe(value: unknown): string {
  return value instanceof Uint8Array ? `${value.byteLength} bytes` : typeof value;
}
