// One client of the end-to-end matrix (bench/e2e.ts), run under Deno, Bun or Node 24:
//   <runtime> bench/_e2e_client.ts URL KIND SCENARIO [--publishes N] [--calls N]
//     [--large-count N] [--large-mib N] [--timeout-ms N] [--backlog-ms N]
// KIND is trame-wire (WslinkSession), bare (the runtime's WebSocket, counting frames and bytes,
// no decoding: the limit) or reference (wslink 2.5.0, Bun only). Prints one JSON ClientReport.
import process from "node:process";
import { generateChunks } from "../src/codec/chunker.ts";
import { HEADER_LENGTH } from "../src/codec/header.ts";
import { createMessageCodec } from "../src/protocol/msgpack.ts";
import { WslinkSession } from "../src/session/session.ts";
import { DEMO_TRIGGERS } from "../src/cli/demo_app.ts";
import {
  addCall,
  BENCH_TOPIC,
  checkBenchBlob,
  holdEventLoop,
  measureInFlight,
  measureLargeResults,
  measurePublishes,
  measureSequential,
  type Timing,
} from "../src/cli/bench_measure.ts";
import {
  type ClientKind,
  type ClientReport,
  memory,
  runtimeInfo,
  type Scenario,
} from "./_e2e_shared.ts";
import { connectReference } from "../test/_wslink_reference.ts";

const IN_FLIGHT = 100;
// Publishes per backlog batch: about 2 MB of frames, which the socket buffers hold.
const BACKLOG_BATCH = 20_000;
const SECRET = "wslink-secret";

interface Settings {
  readonly url: string;
  readonly kind: ClientKind;
  readonly scenario: Scenario;
  readonly publishes: number;
  readonly calls: number;
  readonly largeCount: number;
  readonly largeSize: number;
  readonly backlogMs: number;
}

/** What each kind of client can do; every workload is timed the same way on each. */
interface BenchClient {
  /**
   * Publishes per second: [first delivery to last, trigger call to last delivery]; with
   * `backlogMs`, the event loop is held that long after the trigger's reply (a backlog).
   */
  publishes(count: number, backlogMs: number): Promise<[number, number]>;
  /** One `add(1, 2)` round trip. */
  call(): Promise<unknown>;
  /** `count` results of `size` bytes, one call at a time. */
  large(count: number, size: number): Promise<Timing>;
  close(): Promise<void>;
}

function parseSettings(argv: string[]): Settings & { timeoutMs: number } {
  const [url, kind, scenario] = argv;
  const option = (name: string, fallback: number) => {
    const index = argv.indexOf(`--${name}`);
    return index < 0 ? fallback : Number(argv[index + 1]);
  };
  if (!["trame-wire", "bare", "reference"].includes(kind)) throw new Error(`kind ${kind}?`);
  if (!["publish", "rpc", "large"].includes(scenario)) throw new Error(`scenario ${scenario}?`);
  return {
    url,
    kind: kind as ClientKind,
    scenario: scenario as Scenario,
    publishes: option("publishes", 100_000),
    calls: option("calls", 5_000),
    largeCount: option("large-count", 16),
    largeSize: option("large-mib", 64) * 1024 * 1024,
    timeoutMs: option("timeout-ms", 120_000),
    backlogMs: option("backlog-ms", 400),
  };
}

// trame-wire: the measuring code `trame-wire bench` uses.
async function trameWireClient(url: string): Promise<BenchClient> {
  const session = await WslinkSession.connect(url, { secret: SECRET, callTimeout: 0 });
  return {
    async publishes(count, backlogMs) {
      const timing = await measurePublishes(session, count, undefined, backlogMs);
      return [(count - 1) * 1000 / timing.consumeMs, count * 1000 / timing.totalMs];
    },
    call: () => addCall(session),
    large: (count, size) => measureLargeResults(session, count, size),
    close: () => session.close(),
  };
}

// The limit: the runtime's own WebSocket, frames counted, never decoded. The calls it makes are
// encoded once, before timing; its replies are recognised by arriving, not by their content.
async function bareClient(url: string): Promise<BenchClient> {
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
      const frame = callFrame(DEMO_TRIGGERS.benchBlob, [size]);
      const started = performance.now();
      for (let index = 0; index < count; index++) {
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
        if (total < size) throw new Error(`a result of ${total} bytes, expected over ${size}`);
      }
      onFrame = settleNext;
      return { count, ms: performance.now() - started };
    },
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
async function referenceClient(url: string): Promise<BenchClient> {
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
    async close() {
      const closed = new Promise<void>((resolve) => connection.onConnectionClose(() => resolve()));
      await session.close();
      await closed;
      connection.destroy();
    },
  };
}

async function run(settings: Settings): Promise<ClientReport> {
  const client = settings.kind === "trame-wire"
    ? await trameWireClient(settings.url)
    : settings.kind === "bare"
    ? await bareClient(settings.url)
    : await referenceClient(settings.url);
  const base = { ...runtimeInfo(), kind: settings.kind, scenario: settings.scenario };
  try {
    // Every workload is run once untimed, smaller, so that the timed run meets warm code.
    if (settings.scenario === "publish") {
      await client.publishes(Math.min(10_000, settings.publishes), 0);
      const baseRss = memory().current;
      const cpu = process.cpuUsage();
      const [streaming, total] = await client.publishes(settings.publishes, 0);
      const used = process.cpuUsage(cpu);
      // The backlog pass in batches small enough (~2 MB) to sit in the socket buffers whole.
      let consumedCount = 0;
      let consumedMs = 0;
      for (let done = 0; done < settings.publishes; done += BACKLOG_BATCH) {
        const batch = Math.min(BACKLOG_BATCH, settings.publishes - done);
        const [rate] = await client.publishes(batch, settings.backlogMs);
        consumedCount += batch - 1;
        consumedMs += (batch - 1) * 1000 / rate;
      }
      const consumed = consumedCount * 1000 / consumedMs;
      return {
        ...base,
        publishesPerSecond: consumed,
        publishesPerSecondStreaming: streaming,
        publishesPerSecondTotal: total,
        cpuMicrosPerPublish: (used.user + used.system) / settings.publishes,
        peakRss: memory().peak,
        baseRss,
      };
    }
    if (settings.scenario === "rpc") {
      const warmUp = Math.min(1_000, settings.calls);
      await measureSequential(warmUp, client.call);
      await measureInFlight(warmUp, IN_FLIGHT, client.call);
      const baseRss = memory().current;
      const sequential = await measureSequential(settings.calls, client.call);
      const inFlight = await measureInFlight(settings.calls, IN_FLIGHT, client.call);
      return {
        ...base,
        sequentialPerSecond: sequential.count * 1000 / sequential.ms,
        inFlightPerSecond: inFlight.count * 1000 / inFlight.ms,
        peakRss: memory().peak,
        baseRss,
      };
    }
    await client.large(1, settings.largeSize);
    const baseRss = memory().current;
    const large = await client.large(settings.largeCount, settings.largeSize);
    return {
      ...base,
      gbPerSecond: large.count * settings.largeSize / large.ms / 1e6,
      peakRss: memory().peak,
      baseRss,
    };
  } finally {
    await client.close();
  }
}

const settings = parseSettings(process.argv.slice(2));
const timer = setTimeout(() => {
  process.stderr.write(`timed out after ${settings.timeoutMs} ms\n`);
  process.exit(3);
}, settings.timeoutMs);
try {
  const report = await run(settings);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  clearTimeout(timer);
  process.exit(0);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
}
