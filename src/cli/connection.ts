// Opening and closing the command's connections, each step with a time limit.
import { connecting } from "./failures.ts";
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

/**
 * How long a command waits for the server to confirm the close before dropping the connection:
 * a server that is there confirms at once; one busy with the very call that timed out never does.
 */
const CLOSE_MS = 250;

async function sessionOptions(settings: ConnectionSettings): Promise<WslinkSessionOptions> {
  return {
    secret: settings.secret,
    helloTimeout: settings.timeout,
    // Every call the command makes without a limit of its own (state updates) has this one.
    callTimeout: settings.timeout,
    closeTimeout: CLOSE_MS,
    WebSocket: await webSocketClass(),
  };
}

/** Connects a raw wslink session, in at most `settings.timeout` ms (the hello's time limit). */
export async function openSession(settings: ConnectionSettings): Promise<WslinkSession> {
  return await connecting(
    settings.url,
    WslinkSession.connect(settings.url, await sessionOptions(settings)),
  );
}

/**
 * Connects a trame client (hello, state, lifecycle), in at most `settings.timeout` ms. What the
 * client reports as an `error` event becomes one line on standard error.
 */
export async function openClient(
  settings: ConnectionSettings,
  output: CliOutput,
  options: { reconnect?: boolean } = {},
): Promise<TrameClient> {
  const client = new TrameClient(settings.url, {
    secret: settings.secret,
    connectTimeout: settings.timeout,
    session: await sessionOptions(settings),
    reconnect: options.reconnect ?? false,
  });
  client.on("error", ({ error, context }) => {
    const message = error instanceof Error ? error.message : String(error);
    output.error(`trame-wire: warning: ${context}: ${message}\n`);
  });
  await connecting(settings.url, client.connect());
  return client;
}

/** Ends the client's connection: its goodbye, then the close (bounded by {@link CLOSE_MS}). */
export function releaseClient(client: TrameClient): Promise<void> {
  return client.disconnect();
}

/** Closes a raw session (bounded by {@link CLOSE_MS}). */
export function releaseSession(session: WslinkSession): Promise<void> {
  return session.close();
}

/** Runs `body` with a connected client and releases it afterwards. */
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
  release: (connection: T) => Promise<void>,
  body: (connection: T) => Promise<R>,
): Promise<R> {
  const connection = await opening;
  try {
    return await body(connection);
  } finally {
    await release(connection);
  }
}
