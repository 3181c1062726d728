// `trame-wire demo`: the whole library at work against the embedded server, in one run.
import type { CliOutput } from "./output.ts";
import { EXIT_CODES } from "./failures.ts";
import { webSocketClass } from "./connection.ts";
import process from "node:process";
import { DEMO_TRIGGERS, type DemoState, isDemoPattern, startDemoServer } from "./demo_app.ts";
import type { TrameServer } from "../server/mod.ts";
import { formatBytes, formatRate, ProgressReporter } from "./progress.ts";
import { TrameClient } from "../trame/client.ts";
import { WslinkError } from "../session/errors.ts";

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Size of the large binary transfer, in MiB. */
  readonly sizeMiB: number;
}

/** Runs the demo; resolves with the exit code (0 when every step did what it should). */
export async function runDemo(output: CliOutput, options: DemoOptions): Promise<number> {
  const say = (text: string) => output.out(text + "\n");
  say(`trame-wire demo on ${runtimeName()}`);
  // try/finally rather than `await using`: the npm package's JavaScript runs on Node 20, which
  // has no Symbol.asyncDispose.
  const server = await startDemoServer({ log: () => {} });
  try {
    say(`embedded trame server listening on ${server.url}`);
    // Nothing here may take long: a step that hangs fails the demo instead.
    const client = new TrameClient<DemoState>(server.url, {
      session: {
        helloTimeout: STEP_TIMEOUT_MS,
        callTimeout: STEP_TIMEOUT_MS,
        WebSocket: await webSocketClass(),
      },
    });
    try {
      await client.connect();
      await showEverything({ client, server, say, output, options });
    } finally {
      await client.disconnect();
    }
  } finally {
    await server.close();
  }
  say("\ndemo finished: every step worked");
  return EXIT_CODES.ok;
}

// The longest any step of the demo may take (the large transfer included), in milliseconds.
const STEP_TIMEOUT_MS = 120_000;

/** The runtime running this: `Node 24.9.0`, `Bun 1.4.5`, `Deno 2.9.6`. */
export function runtimeName(): string {
  const runtime = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (runtime.Deno !== undefined) return `Deno ${runtime.Deno.version.deno}`;
  if (runtime.Bun !== undefined) return `Bun ${runtime.Bun.version}`;
  return `Node ${process.versions.node}`;
}

// What each part of the demo works with.
interface Demo {
  readonly client: TrameClient<DemoState>;
  readonly server: TrameServer<DemoState>;
  readonly say: (text: string) => void;
  readonly output: CliOutput;
  readonly options: DemoOptions;
}

// The parts of the demo, in order; each prints its heading and throws if it did not work.
const DEMO_PARTS: readonly ((demo: Demo) => void | Promise<void>)[] = [
  showInitialState,
  showClientChange,
  showServerChange,
  showTrigger,
  showPublishes,
  showServerError,
  showLargeTransfer,
];

async function showEverything(demo: Demo): Promise<void> {
  const { client } = demo;
  demo.say(
    `client connected as ${client.session.clientId} (frames up to ${client.session.maxMsgSize} bytes)`,
  );
  for (const part of DEMO_PARTS) await part(demo);
}

function heading({ say }: Demo, title: string): void {
  say(`\n== ${title}`);
}

function showInitialState(demo: Demo): void {
  heading(demo, "initial state, loaded before connect() resolved");
  const initial = demo.client.state.toObject();
  for (const key of ["counter", "greeting", "resolution"] as const) {
    demo.say(`  ${key} = ${JSON.stringify(initial[key])}`);
  }
}

async function showClientChange(demo: Demo): Promise<void> {
  const { client, server, say } = demo;
  heading(demo, "a change made by the client reaches the server");
  client.state.set("resolution", 12);
  await client.state.flush();
  say(
    `  client set resolution = 12; the server now has resolution = ${
      server.state.get("resolution")
    }`,
  );
  expect(server.state.get("resolution") === 12, "the server did not receive the client's change");
}

async function showServerChange(demo: Demo): Promise<void> {
  const { client, server, say } = demo;
  heading(demo, "a change made by the server reaches the client");
  const greeted = new Promise<string>((resolve) => {
    const stop = client.state.onChange("greeting", (state) => {
      stop();
      resolve(state.greeting);
    });
  });
  server.state.set("greeting", "hello from the server, changed");
  const greeting = await greeted;
  say(`  client.state.onChange saw greeting = ${JSON.stringify(greeting)}`);
  say(`  modified keys: ${[...client.state.modifiedKeys].join(", ")}`);
}

async function showTrigger(demo: Demo): Promise<void> {
  heading(demo, "a trigger with its result");
  const sum = await demo.client.trigger<number>(DEMO_TRIGGERS.add, [1, 2, 3]);
  demo.say(`  trigger add(1, 2, 3) returned ${sum}`);
  expect(sum === 6, "add(1, 2, 3) should be 6");
}

async function showPublishes(demo: Demo): Promise<void> {
  const { client, say } = demo;
  heading(demo, "a subscription receiving publishes");
  const received: unknown[] = [];
  const allReceived = new Promise<void>((resolve) => {
    const subscription = client.session.subscribe("demo.news", (payload) => {
      received.push(payload);
      say(`  demo.news -> ${JSON.stringify(payload)}`);
      if (received.length === 3) {
        subscription.unsubscribe();
        resolve();
      }
    });
  });
  for (let index = 1; index <= 3; index++) {
    await client.trigger(DEMO_TRIGGERS.publish, ["demo.news", { headline: index }]);
  }
  await allReceived;
}

async function showServerError(demo: Demo): Promise<void> {
  const { client, say } = demo;
  heading(demo, "a server error becomes a typed error");
  try {
    await client.trigger(DEMO_TRIGGERS.fail, ["the server refused on purpose"]);
    expect(false, "the failing trigger should have thrown");
  } catch (error) {
    if (!(error instanceof WslinkError)) throw error;
    const data = error.data as { exception?: string };
    say(`  WslinkError code ${error.code}: ${error.message} (${data.exception})`);
    say(`  the connection is still ${client.status}`);
  }
}

async function showLargeTransfer(demo: Demo): Promise<void> {
  const { client, say } = demo;
  const size = demo.options.sizeMiB * 1024 * 1024;
  heading(demo, `a large binary transfer (${formatBytes(size)})`);
  const progress = new ProgressReporter(demo.output, "  receiving");
  const stopProgress = client.session.on("progress", (event) => {
    progress.update(event.received, event.total);
  });
  const started = performance.now();
  const blob = await client.trigger<Uint8Array>(DEMO_TRIGGERS.blob, [size]);
  const elapsed = performance.now() - started;
  progress.finish();
  stopProgress();
  expect(blob instanceof Uint8Array && blob.byteLength === size, "the blob has the wrong size");
  expect(isDemoPattern(blob), "the blob's bytes are not the ones sent");
  say(
    `  received ${formatBytes(blob.byteLength)} intact in ${elapsed.toFixed(0)} ms: ` +
      `${formatRate(blob.byteLength, elapsed)}`,
  );
}

function expect(condition: boolean, failure: string): asserts condition {
  if (!condition) throw new Error(`demo step failed: ${failure}`);
}
