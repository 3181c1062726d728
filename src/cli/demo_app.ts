// The embedded server's demo application: what `trame-wire serve`, `demo` and `bench` run.
import { serve, type ServeOptions, type TrameServer } from "../server/mod.ts";

/** The demo application's state. */
export interface DemoState extends Record<string, unknown> {
  counter: number;
  greeting: string;
  resolution: number;
}

/** Triggers of the demo application. */
export const DEMO_TRIGGERS = {
  add: "add",
  echo: "echo",
  fail: "fail",
  bump: "bump",
  blob: "blob",
  publish: "publish",
  benchPublish: "trame_wire.bench.publish",
  benchBlob: "trame_wire.bench.blob",
} as const;

/** The largest blob the demo server makes: 1 GiB. */
export const MAX_DEMO_BLOB = 2 ** 30;

/** A deterministic byte pattern, so a receiver can check every byte it got. */
export function demoPattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 31 + 7) & 0xff;
  return bytes;
}

/** Whether `bytes` is exactly {@link demoPattern} of its length. */
export function isDemoPattern(bytes: Uint8Array): boolean {
  for (let index = 0; index < bytes.length; index++) {
    if (bytes[index] !== ((index * 31 + 7) & 0xff)) return false;
  }
  return true;
}

/** Starts the embedded server with the demo application registered. */
export async function startDemoServer(
  options: ServeOptions<DemoState> = {},
): Promise<TrameServer<DemoState>> {
  const server = await serve<DemoState>({
    name: "trame-wire-demo",
    state: { counter: 0, greeting: "hello from the server", resolution: 6 },
    ...options,
  });
  addDemoTriggers(server);
  addBenchTriggers(server);
  return server;
}

// What `demo` and `serve` show: arithmetic, echo, a failure, state, a blob and publishes.
function addDemoTriggers(server: TrameServer<DemoState>): void {
  server.trigger(DEMO_TRIGGERS.add, (args) => {
    let sum = 0;
    for (const value of args) {
      if (typeof value !== "number") throw new TypeError(`add takes numbers, got ${typeof value}`);
      sum += value;
    }
    return sum;
  });
  server.trigger(DEMO_TRIGGERS.echo, (args, kwargs) => ({ args, kwargs }));
  server.trigger(DEMO_TRIGGERS.fail, (args) => {
    throw new Error(String(args[0] ?? "failed on purpose"));
  });
  server.trigger(DEMO_TRIGGERS.bump, () => {
    const counter = (server.state.get("counter") ?? 0) + 1;
    server.state.set("counter", counter);
    return counter;
  });
  server.trigger(DEMO_TRIGGERS.blob, (args) => demoPattern(blobSize(args[0])));
  server.trigger(DEMO_TRIGGERS.publish, (args) => {
    server.publish(String(args[0]), args[1] ?? null);
    return true;
  });
}

// What `bench` measures with.
function addBenchTriggers(server: TrameServer<DemoState>): void {
  // Publishes `count` small state-like messages to the caller as fast as the socket takes them.
  server.trigger(DEMO_TRIGGERS.benchPublish, (args, _kwargs, client) => {
    const count = Number(args[0] ?? 0);
    const topic = String(args[1] ?? "trame_wire.bench");
    if (!Number.isSafeInteger(count) || count < 0 || count > 10_000_000) {
      throw new RangeError(`count must be 0 to 10,000,000, got ${args[0]}`);
    }
    // About 100 bytes each, like a trame state change (the envelope included).
    for (let index = 0; index < count; index++) {
      server.publish(topic, { index, value: index * 0.5, busy: index & 1, label: "state" }, {
        clientId: client.id,
      });
    }
    return count;
  });
  // Returns the demo pattern of `size` bytes, made once and kept (the last size asked for), so
  // that a benchmark of large results measures the transfer rather than making the bytes.
  let benchBlob: Uint8Array = new Uint8Array(0);
  server.trigger(DEMO_TRIGGERS.benchBlob, (args) => {
    const size = blobSize(args[0]);
    if (benchBlob.byteLength !== size) benchBlob = demoPattern(size);
    return benchBlob;
  });
}

// A blob trigger's size argument (missing is 0), checked.
function blobSize(arg: unknown): number {
  const size = Number(arg ?? 0);
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_DEMO_BLOB) {
    throw new RangeError(`blob size must be 0 to ${MAX_DEMO_BLOB}, got ${arg}`);
  }
  return size;
}
