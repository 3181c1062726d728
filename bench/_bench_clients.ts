// The three kinds of client the benchmarks drive, each behind one interface so that every
// workload is timed the same way on each: trame-wire (a `WslinkSession`), the runtime's bare
// WebSocket (frames counted, never decoded: the limit) and the wslink 2.5.0 reference (Bun only).
// The server must have the demo application's triggers (the embedded server's, or
// bench/_python_app.py on the reference Python server).
import { generateChunks } from "../src/codec/chunker.ts";
import { HEADER_LENGTH } from "../src/codec/header.ts";
import { createMessageCodec } from "../src/protocol/msgpack.ts";
import { WslinkSession } from "../src/session/session.ts";
import type { WslinkSessionOptions } from "../src/session/options.ts";
import { DEMO_TRIGGERS } from "../src/cli/demo_app.ts";
import {
  addCall,
  BENCH_TOPIC,
  checkBenchBlob,
  holdEventLoop,
  measureLargeResults,
  measurePublishes,
  type Timing,
} from "../src/cli/bench_measure.ts";
import type { ClientKind } from "./_e2e_shared.ts";
import { connectReference } from "../test/_wslink_reference.ts";

const SECRET = "wslink-secret";

/** What each kind of client can do; every workload is timed the same way on each. */
export interface BenchClient {
  /**
   * Publishes per second: [first delivery to last, trigger call to last delivery]; with
   * `backlogMs`, the event loop is held that long after the trigger's reply (a backlog).
   */
  publishes(count: number, backlogMs: number): Promise<[number, number]>;
  /** One `add(1, 2)` round trip. */
  call(): Promise<unknown>;
  /** `count` results of `size` bytes, one call at a time. */
  large(count: number, size: number): Promise<Timing>;
  /**
   * One call of `trigger(size)`, whose result is `size` bytes or more: the time it took and, for
   * the clients that decode, the bytes (the bare WebSocket only counts them).
   */
  result(trigger: string, size: number): Promise<{ ms: number; bytes?: Uint8Array }>;
  close(): Promise<void>;
}

/** Times one call of `call()`, which resolves with the result's bytes. */
async function timedResult(
  call: () => Promise<unknown>,
  size: number,
): Promise<{ ms: number; bytes: Uint8Array }> {
  const started = performance.now();
  const bytes = await call();
  const ms = performance.now() - started;
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < size) {
    throw new Error(`expected a result of ${size} bytes or more`);
  }
  return { ms, bytes };
}

// trame-wire: the measuring code `trame-wire bench` uses.
export async function trameWireClient(
  url: string,
  options: WslinkSessionOptions = {},
): Promise<BenchClient> {
  const session = await WslinkSession.connect(url, { secret: SECRET, callTimeout: 0, ...options });
  return {
    async publishes(count, backlogMs) {
      const timing = await measurePublishes(session, count, undefined, backlogMs);
      return [(count - 1) * 1000 / timing.consumeMs, count * 1000 / timing.totalMs];
    },
    call: () => addCall(session),
    large: (count, size) => measureLargeResults(session, count, size),
    result: (trigger, size) =>
      timedResult(() => session.call("trame.trigger", [trigger, [size], {}]), size),
    close: () => session.close(),
  };
}

// The limit: the runtime's own WebSocket, frames counted, never decoded. The calls it makes are
// encoded once, before timing; its replies are recognised by arriving, not by their content.
export async function bareClient(url: string): Promise<BenchClient> {
  const codec = createMessageCodec();
  const frameOf = (envelope: unknown) => [...generateChunks(codec.encode(envelope), 0)][0];
  const callFrame = (trigger: string, args: unknown[]) =>
    frameOf({
      wslink: "1.0",
      id: "rpc:bare:1",
      method: "trame.trigger",
      args: [trigger, args, {}],
      kwargs: {},
    });
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  // Replies settle the calls waiting for them in order (a queue as a growing array and a head).
  const waiting: ((frame: ArrayBuffer) => void)[] = [];
  let head = 0;
  const settleNext = (frame: ArrayBuffer) => {
    const resolve = waiting[head];
    waiting[head++] = undefined!;
    if (head === waiting.length) waiting.length = head = 0;
    resolve?.(frame);
  };
  let onFrame: (frame: ArrayBuffer) => void = settleNext;
  socket.addEventListener("message", (event) => onFrame(event.data as ArrayBuffer));
  const nextFrame = () => new Promise<ArrayBuffer>((resolve) => waiting.push(resolve));
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error("cannot connect")), { once: true });
  });
  const hello = nextFrame();
  socket.send(frameOf({
    wslink: "1.0",
    id: "system:c0:0",
    method: "wslink.hello",
    args: [{ secret: SECRET }],
    kwargs: {},
  }));
  await hello;
  const add = callFrame(DEMO_TRIGGERS.add, [1, 2]);
  // Counts the bytes of one result (the header gives the message's total) until all arrived.
  const receiveResult = async (trigger: string, size: number) => {
    const frame = callFrame(trigger, [size]);
    const started = performance.now();
    let total = -1;
    let received = 0;
    await new Promise<void>((resolve) => {
      onFrame = (data) => {
        if (total < 0) total = new DataView(data, 8, 4).getUint32(0, true);
        received += data.byteLength - HEADER_LENGTH;
        if (received >= total) resolve();
      };
      socket.send(frame);
    });
    const ms = performance.now() - started;
    onFrame = settleNext;
    if (total < size) throw new Error(`a result of ${total} bytes, expected over ${size}`);
    return { ms };
  };
  return {
    async publishes(count, backlogMs) {
      // The reply to the trigger call comes first, then the publishes.
      const frames = count + 1;
      let received = 0;
      let bytes = 0;
      let first = 0;
      let last = 0;
      const done = new Promise<void>((resolve) => {
        onFrame = (frame) => {
          received++;
          bytes += frame.byteLength;
          if (received === 1) holdEventLoop(backlogMs);
          if (received === 2) first = performance.now();
          if (received === frames) {
            last = performance.now();
            resolve();
          }
        };
      });
      const started = performance.now();
      socket.send(callFrame(DEMO_TRIGGERS.benchPublish, [count, BENCH_TOPIC]));
      await done;
      onFrame = settleNext;
      if (bytes < count * HEADER_LENGTH) throw new Error(`only ${bytes} bytes`);
      return [(count - 1) * 1000 / (last - first), count * 1000 / (last - started)];
    },
    call() {
      const reply = nextFrame();
      socket.send(add);
      return reply;
    },
    async large(count, size) {
      let ms = 0;
      for (let index = 0; index < count; index++) {
        ms += (await receiveResult(DEMO_TRIGGERS.benchBlob, size)).ms;
      }
      return { count, ms };
    },
    result: receiveResult,
    close() {
      const closed = new Promise<void>((resolve) => {
        socket.addEventListener("close", () => resolve(), { once: true });
      });
      socket.close();
      return closed;
    },
  };
}

// The reference: wslink 2.5.0's WebsocketConnection, driven as its own test drives it.
export async function referenceClient(url: string): Promise<BenchClient> {
  const { connection, session } = await connectReference(url, SECRET);
  const trigger = (name: string, args: unknown[]) =>
    session.call("trame.trigger", [name, args, {}]);
  return {
    async publishes(count, backlogMs) {
      let received = 0;
      let checksum = 0;
      let first = 0;
      let last = 0;
      let done!: () => void;
      const allReceived = new Promise<void>((resolve) => done = resolve);
      const subscription = session.subscribe(BENCH_TOPIC, ([payload]) => {
        if (received === 0) first = performance.now();
        checksum += (payload as { index: number }).index;
        if (++received === count) {
          last = performance.now();
          done();
        }
      });
      const started = performance.now();
      await trigger(DEMO_TRIGGERS.benchPublish, [count, BENCH_TOPIC]);
      holdEventLoop(backlogMs);
      await allReceived;
      await session.unsubscribe(subscription);
      if (checksum !== (count * (count - 1)) / 2) throw new Error(`checksum ${checksum}`);
      return [(count - 1) * 1000 / (last - first), count * 1000 / (last - started)];
    },
    async call() {
      const sum = await trigger(DEMO_TRIGGERS.add, [1, 2]);
      if (sum !== 3) throw new Error(`add returned ${String(sum)}`);
    },
    async large(count, size) {
      const started = performance.now();
      for (let index = 0; index < count; index++) {
        checkBenchBlob(await trigger(DEMO_TRIGGERS.benchBlob, [size]), size);
      }
      return { count, ms: performance.now() - started };
    },
    result: (name, size) => timedResult(() => trigger(name, [size]), size),
    async close() {
      const closed = new Promise<void>((resolve) => connection.onConnectionClose(() => resolve()));
      await session.close();
      await closed;
      connection.destroy();
    },
  };
}

/** Connects a client of `kind` to `url`. */
export function connectBenchClient(kind: ClientKind, url: string): Promise<BenchClient> {
  switch (kind) {
    case "trame-wire":
      return trameWireClient(url);
    case "bare":
      return bareClient(url);
    case "reference":
      return referenceClient(url);
  }
}
