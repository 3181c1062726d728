// Opening and closing the command's connections, each step with a time limit.
import { connecting } from "./failures.ts";
import { deadline, settleWithin } from "./deadline.ts";
import type { CliOutput } from "./output.ts";
import type { WebSocketConstructor, WslinkSessionOptions } from "../session/options.ts";
import { WslinkSession } from "../session/session.ts";
import { TrameClient } from "../trame/client.ts";

/** Where and how a command connects. */
export interface ConnectionSettings {
  readonly url: string;
  readonly secret?: string;
  /** Limit of connecting (handshake, initial state) and of every call, in ms (at least 1). */
  readonly timeout: number;
}

/** How long a command that succeeded waits for its goodbye (`client_exited`, the close). */
const GOODBYE_MS = 1_000;
/** How long a command that failed waits for its close frame to go out. */
const CLOSE_MS = 100;

/**
 * The WebSocket to use: the runtime's own, or on Node 20 and 21 (which have none) the optional
 * `ws` package's, which follows the same interface.
 */
export async function webSocketClass(): Promise<WebSocketConstructor | undefined> {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function") return undefined;
  try {
    // A literal specifier, so that bundlers and `deno publish` see the optional dependency.
    const ws = await import("ws") as unknown as {
      WebSocket?: WebSocketConstructor;
      default?: { WebSocket?: WebSocketConstructor };
    };
    const found = ws.WebSocket ?? ws.default?.WebSocket;
    if (found !== undefined) return found;
  } catch {
    // Reported below.
  }
  throw new Error(
    'this runtime has no WebSocket and the optional "ws" package is missing: npm install ws',
  );
}

async function sessionOptions(settings: ConnectionSettings): Promise<WslinkSessionOptions> {
  return {
    secret: settings.secret,
    helloTimeout: settings.timeout,
    callTimeout: settings.timeout,
    WebSocket: await webSocketClass(),
  };
}

/** Connects a raw wslink session, in at most `settings.timeout` ms. */
export async function openSession(settings: ConnectionSettings): Promise<WslinkSession> {
  const options = await sessionOptions(settings);
  const connected = connecting(settings.url, WslinkSession.connect(settings.url, options));
  try {
    return await deadline(connected, settings.timeout, connectingTo(settings));
  } catch (error) {
    // Too late: a session that connects after all is closed at once.
    void connected.then((late) => late.close(), () => {});
    throw error;
  }
}

function connectingTo(settings: ConnectionSettings): string {
  return `connecting to ${settings.url}`;
}

/**
 * Connects a trame client (hello, state, lifecycle), in at most `settings.timeout` ms. What the client reports as an `error`
 * event becomes one line on standard error, except failures of its goodbye, which no longer
 * matter to the command.
 */
export async function openClient(
  settings: ConnectionSettings,
  output: CliOutput,
  options: { reconnect?: boolean } = {},
): Promise<TrameClient> {
  const client = new TrameClient(settings.url, {
    secret: settings.secret,
    session: await sessionOptions(settings),
    reconnect: options.reconnect ?? false,
  });
  client.on("error", ({ error, context }) => {
    if (context === "disconnect") return;
    const message = error instanceof Error ? error.message : String(error);
    output.error(`trame-wire: warning: ${context}: ${message}\n`);
  });
  try {
    await deadline(
      connecting(settings.url, client.connect()),
      settings.timeout,
      connectingTo(settings),
    );
  } catch (error) {
    // Stops the attempt; a session it opens after all is closed by the client itself.
    void client.disconnect();
    throw error;
  }
  return client;
}

/**
 * Ends the client's connection within a bounded time. After a success it says goodbye
 * (`client_exited`) and waits up to a second; after a failure the server may be busy with the
 * very call that failed, so the session is just closed. What is still open when the time is up
 * is dropped when the command exits.
 */
export async function releaseClient(client: TrameClient, succeeded: boolean): Promise<void> {
  if (!succeeded && client.status === "connected") {
    await settleWithin(client.session.close(), CLOSE_MS);
    return;
  }
  await settleWithin(client.disconnect(), GOODBYE_MS);
}

/** Closes a raw session within a bounded time (see {@link releaseClient}). */
export async function releaseSession(session: WslinkSession, succeeded: boolean): Promise<void> {
  await settleWithin(session.close(), succeeded ? GOODBYE_MS : CLOSE_MS);
}

/**
 * Runs `body` with a connected client and releases it afterwards, gracefully when `body`
 * succeeded.
 */
export function withClient<R>(
  settings: ConnectionSettings,
  output: CliOutput,
  body: (client: TrameClient) => Promise<R>,
): Promise<R> {
  return holding(openClient(settings, output), releaseClient, body);
}

/** Runs `body` with a connected raw session and releases it afterwards. */
export function withSession<R>(
  settings: ConnectionSettings,
  body: (session: WslinkSession) => Promise<R>,
): Promise<R> {
  return holding(openSession(settings), releaseSession, body);
}

async function holding<T, R>(
  opening: Promise<T>,
  release: (connection: T, succeeded: boolean) => Promise<void>,
  body: (connection: T) => Promise<R>,
): Promise<R> {
  const connection = await opening;
  let succeeded = false;
  try {
    const result = await body(connection);
    succeeded = true;
    return result;
  } finally {
    await release(connection, succeeded);
  }
}
