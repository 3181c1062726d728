/**
 * A virtual user of `trame-wire load`: connects (through the launcher when there is one), then
 * runs the scenario's steps in a loop until the run stops. A failed step is counted and the user
 * pauses a second before the next pass (a failing step never spins); a lost connection is
 * counted and the user connects again. Every outcome goes to the thread's recorder.
 * @module
 */
import { TrameClient } from "../trame/client.ts";
import { launch, type TrameConnectionConfig } from "../trame/launcher.ts";
import type { WebSocketConstructor } from "../session/options.ts";
import { webSocketClass } from "../cli/connection.ts";
import type { Scenario } from "./scenario.ts";
import type { SecondRecorder } from "./metrics.ts";
import {
  describeError,
  onAbort,
  reasonOf,
  type Recorder,
  type RoundTrips,
  StepFailure,
  Stopped,
  UserSteps,
} from "./steps.ts";

/** How long a user waits after a failure before trying again. */
export const RETRY_PAUSE_MS = 1000;

/** Where the users connect. */
export interface LoadTarget {
  /** The `ws://` URL of the server, without a launcher. */
  readonly url?: string;
  /** The launcher's URL: each user POSTs to it and connects to the `sessionURL` it returns. */
  readonly launcher?: string;
  /** What the launch request sends (at least the `application` a wslink launcher needs). */
  readonly launchBody?: Readonly<Record<string, unknown>>;
  /** The wslink secret; with a launcher, the one it returns unless this is set. */
  readonly secret?: string;
}

/** Options of {@link runUser}. */
export interface UserOptions {
  readonly target: LoadTarget;
  readonly scenario: Scenario;
  readonly user: number;
  readonly recorder: SecondRecorder;
  readonly signal: AbortSignal;
  readonly roundTrips?: RoundTrips;
}

/** Runs one user until `signal` aborts; resolves once it has disconnected. */
export async function runUser(options: UserOptions): Promise<void> {
  const { recorder, signal, scenario } = options;
  const record = recorder.record.bind(recorder);
  let iteration = 0;
  while (!signal.aborted) {
    let client: TrameClient;
    // A signal of its own for the connection (the session listens on it while connecting).
    const connecting = new AbortController();
    const stopConnecting = onAbort(signal, () => connecting.abort());
    try {
      client = await connectUser(options.target, scenario, connecting.signal, record);
    } catch (error) {
      if (error instanceof Stopped || signal.aborted) return;
      if (error instanceof StepFailure && error.kind === "launch.busy") recorder.busy();
      else recordFailure(options, error);
      await pause(RETRY_PAUSE_MS, signal);
      continue;
    } finally {
      stopConnecting();
    }
    recorder.userConnected(1);
    const steps = new UserSteps(client, {
      user: options.user,
      signal,
      record,
      roundTrips: options.roundTrips,
    });
    try {
      while (!signal.aborted && client.status === "connected") {
        try {
          await steps.run(scenario.steps, iteration++);
          recorder.iteration();
        } catch (error) {
          if (error instanceof Stopped || signal.aborted) break;
          recordFailure(options, error);
          if (client.status !== "connected") break;
          await pause(RETRY_PAUSE_MS, signal);
        }
      }
      if (!signal.aborted && client.status !== "connected") {
        recorder.error("session.closed", "the connection closed during the run");
      }
    } finally {
      steps.dispose();
      recorder.userConnected(-1);
      // With a launcher, each user has a server process of its own: ask it to exit now.
      await client.disconnect(options.target.launcher === undefined ? {} : { exitServerAfter: 0 });
    }
    if (!signal.aborted) await pause(RETRY_PAUSE_MS, signal);
  }
}

function recordFailure(options: UserOptions, error: unknown): void {
  const kind = error instanceof StepFailure ? error.kind : `step.${reasonOf(error)}`;
  options.recorder.error(kind, describeError(error));
}

/**
 * Connects a user, recording `launch` (the launcher's reply), `connect` (until the socket is
 * open, the launch included) and `initial_state` (until the state is loaded, all included).
 * Failures are {@link StepFailure}s named after the phase that failed.
 */
export async function connectUser(
  target: LoadTarget,
  scenario: Scenario,
  signal: AbortSignal,
  record: Recorder,
): Promise<TrameClient> {
  const started = performance.now();
  let config: TrameConnectionConfig = { sessionURL: target.url };
  if (target.launcher !== undefined) {
    try {
      config = await launch(
        { ...target.launchBody, sessionManagerURL: target.launcher },
        { retryDelays: [], signal },
      );
    } catch (error) {
      if (signal.aborted) throw new Stopped();
      throw new StepFailure("launch", reasonOf(error), describeError(error), { cause: error });
    }
    record("launch", performance.now() - started);
  }
  let opened = false;
  let Base: WebSocketConstructor;
  try {
    Base = await (baseWebSocket ??= webSocketClass().then((found) =>
      found ?? (globalThis as { WebSocket: WebSocketConstructor }).WebSocket
    ));
  } catch (error) {
    throw new StepFailure("connect", "no-websocket", describeError(error), { cause: error });
  }
  const client = new TrameClient(config, {
    secret: target.secret,
    session: {
      helloTimeout: scenario.timeout,
      callTimeout: scenario.timeout,
      signal,
      WebSocket: timedWebSocket(Base, () => {
        opened = true;
        record("connect", performance.now() - started);
      }),
    },
  });
  // Failures with no caller (a last lifecycle call to a server already gone) are not the run's.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    if (signal.aborted) throw new Stopped();
    const phase = opened ? "initial_state" : "connect";
    const reason = !opened && reasonOf(error) === "closed" ? "refused" : reasonOf(error);
    throw new StepFailure(phase, reason, describeError(error), { cause: error });
  }
  record("initial_state", performance.now() - started);
  return client;
}

// The runtime's WebSocket (or `ws` on Node 20 and 21), resolved once per thread.
let baseWebSocket: Promise<WebSocketConstructor> | undefined;

// A WebSocket class telling when the socket opened (the handshake comes after). On Bun it offers
// no permessage-deflate, as the session does with Bun's own class (a subclass is not it).
function timedWebSocket(Base: WebSocketConstructor, onOpen: () => void): WebSocketConstructor {
  const options = "Bun" in globalThis ? { perMessageDeflate: false } : undefined;
  return class TimedWebSocket extends Base {
    constructor(url: string, protocols?: string | string[]) {
      super(url, (options ?? protocols) as string[] | undefined);
      this.addEventListener("open", onOpen, { once: true });
    }
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let cancel = () => {};
    const done = () => {
      clearTimeout(timer);
      cancel();
      resolve();
    };
    const timer = setTimeout(done, ms);
    cancel = onAbort(signal, done);
  });
}
