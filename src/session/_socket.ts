// The session's use of the standard WebSocket: opening one in binary mode with its events wired,
// saying why one failed to open, closing one whatever state it is in, and dropping one whose
// peer never completes the close.
import { traceUndiciWebSocket, type UndiciTrace } from "./_undici.ts";

// WebSocket readyState values (read from the instance, so any implementation works).
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
// WebSocket close reasons are limited to 123 bytes of UTF-8.
const MAX_CLOSE_REASON_BYTES = 123;

/** Why a socket closed before it ever opened, as far as the runtime says. */
export interface OpenFailure {
  /** One line for people: what happened, then the runtime's own words. */
  readonly reason: string;
  /** The HTTP status the server answered instead of switching protocols (101). */
  readonly status?: number;
  /** The system's error code, where the runtime gives it (`ECONNREFUSED`, `ENOTFOUND`). */
  readonly errorCode?: string;
}

/** What a session hears from its socket. */
export interface SocketHandlers {
  /** A frame arrived (an `ArrayBuffer`, or whatever the implementation delivers). */
  message(data: unknown): void;
  /**
   * The socket closed: 1006 when it gave no code, the last error's text when no reason.
   * `failure` is set when it closed without ever opening.
   */
  close(code: number, reason: string, failure: OpenFailure | undefined): void;
}

// Bun's WebSocket takes options as its second argument, among them whether to offer the
// permessage-deflate extension (offered unless `perMessageDeflate` is false).
type BunWebSocketConstructor = new (
  url: string,
  options: { perMessageDeflate: boolean },
) => WebSocket;

/** A WebSocket opened for a session, and the means to end it however its peer behaves. */
export class SocketLink {
  readonly socket: WebSocket;
  readonly #trace: UndiciTrace | undefined;

  /**
   * Opens a WebSocket to `url` that delivers binary frames as `ArrayBuffer`s to `handlers`. On
   * Bun's own WebSocket the permessage-deflate extension is offered only with `compression`;
   * every other class (Deno's never offers it, Node's always does, a browser's decides by itself,
   * and so does a class passed in the `WebSocket` option) is constructed with the URL alone.
   */
  constructor(
    WebSocketClass: new (url: string) => WebSocket,
    url: string,
    handlers: SocketHandlers,
    compression: boolean,
  ) {
    const { socket, trace } = traceUndiciWebSocket(() =>
      newWebSocket(WebSocketClass, url, compression)
    );
    this.socket = socket;
    this.#trace = trace;
    let opened = false;
    let lastError = "";
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", () => {
      opened = true;
      trace?.settle();
    });
    socket.addEventListener("message", (event) => handlers.message(event.data));
    socket.addEventListener("error", (event) => {
      lastError = errorEventText(event) || "WebSocket error";
    });
    socket.addEventListener("close", (event) => {
      trace?.settle();
      const reason = event.reason || lastError;
      const failure = opened ? undefined : openFailure(lastError, trace);
      handlers.close(event.code || 1006, failure?.reason ?? reason, failure);
    });
  }

  /** Whether the socket is closed for good (its close event came). */
  get closed(): boolean {
    return this.socket.readyState === CLOSED;
  }

  /** Closes the socket unless it is closing or closed, with `reason` cut to what a close allows. */
  close(code: number, reason: string): void {
    const socket = this.socket;
    if (socket.readyState !== CONNECTING && socket.readyState !== OPEN) return;
    try {
      socket.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
    } catch {
      // Some implementations refuse to close a socket still connecting; its close event ends it.
    }
  }

  /**
   * Drops the connection without waiting for the peer to answer the close: `terminate()` where
   * the socket has one (Bun, the `ws` package), the TCP socket under Node's WebSocket, Deno's
   * resource through its internal API. Returns false where none of these exists (browsers,
   * other implementations): the socket then lives until the peer answers or the network drops.
   */
  drop(): boolean {
    if (this.closed) return true;
    try {
      const terminate = (this.socket as { terminate?: unknown }).terminate;
      if (typeof terminate === "function") {
        terminate.call(this.socket);
        return true;
      }
      const transport = this.#trace?.socket;
      if (transport !== undefined) {
        transport.destroy();
        return true;
      }
      return closeDenoResource(this.socket);
    } catch {
      return false;
    }
  }
}

// The socket, made with the options this runtime's own class takes.
function newWebSocket(
  WebSocketClass: new (url: string) => WebSocket,
  url: string,
  compression: boolean,
): WebSocket {
  const runtime = globalThis as { Bun?: unknown; WebSocket?: unknown };
  return runtime.Bun !== undefined && WebSocketClass === runtime.WebSocket
    ? new (WebSocketClass as unknown as BunWebSocketConstructor)(url, {
      perMessageDeflate: compression,
    })
    : new WebSocketClass(url);
}

/** `text` cut to at most `maxBytes` of UTF-8, never in the middle of a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  return new TextDecoder().decode(bytes.subarray(0, maxBytes)).replace(/\uFFFD$/, "");
}

// The error event's text: its `message` (Deno, Bun, browsers say nothing), else its error's.
function errorEventText(event: Event): string {
  const { message, error } = event as Partial<ErrorEvent>;
  if (typeof message === "string" && message !== "") return message;
  const text = error instanceof Error ? error.message : "";
  return typeof text === "string" ? text : "";
}

// Deno says `Invalid status code: 404`, Bun `Expected 101 status code: 404`.
const STATUS_IN_TEXT = /status code:? (\d{3})\b/i;

/** Why a socket that never opened closed: an HTTP status, a system error, or the runtime's text. */
function openFailure(runtimeText: string, trace: UndiciTrace | undefined): OpenFailure {
  const status = trace?.status?.code ?? Number(STATUS_IN_TEXT.exec(runtimeText)?.[1] ?? NaN);
  if (Number.isInteger(status)) {
    const named = trace?.status?.text ? `${status} ${trace.status.text}` : `${status}`;
    return { reason: `the server answered HTTP ${named}, not a WebSocket upgrade`, status };
  }
  const words = trace?.error?.message || runtimeText || "no reason given";
  const errorCode = trace?.error?.code;
  if (errorCode === undefined) return { reason: words };
  return {
    reason: errorCode === "ECONNREFUSED" ? `connection refused (${words})` : words,
    errorCode,
  };
}

interface DenoInternals {
  Deno?: { internal?: symbol; [key: symbol]: { core?: { tryClose?(rid: number): void } } };
}

// Deno's WebSocket keeps its connection as a resource whose id is held under a symbol; closing
// the resource ends the connection at once (its close event follows). Internal API: skipped
// when it is not there.
function closeDenoResource(socket: WebSocket): boolean {
  const deno = (globalThis as DenoInternals).Deno;
  const core = deno?.internal === undefined ? undefined : deno[deno.internal]?.core;
  if (typeof core?.tryClose !== "function") return false;
  const ridKey = Object.getOwnPropertySymbols(socket).find((key) => key.description === "[[rid]]");
  const rid = ridKey && (socket as unknown as Record<symbol, unknown>)[ridKey];
  if (typeof rid !== "number") return false;
  core.tryClose(rid);
  return true;
}
