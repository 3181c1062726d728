// The session's use of the standard WebSocket: opening one in binary mode with its events wired,
// and closing one whatever state it is in.

// WebSocket readyState values (read from the instance, so any implementation works).
const CONNECTING = 0;
const OPEN = 1;
// WebSocket close reasons are limited to 123 bytes of UTF-8.
const MAX_CLOSE_REASON_BYTES = 123;

/** What a session hears from its socket. */
export interface SocketHandlers {
  /** A frame arrived (an `ArrayBuffer`, or whatever the implementation delivers). */
  message(data: unknown): void;
  /** The socket closed: 1006 when it gave no code, the last error's text when no reason. */
  close(code: number, reason: string): void;
}

// Bun's WebSocket takes options as its second argument, among them whether to offer the
// permessage-deflate extension (offered unless `perMessageDeflate` is false).
type BunWebSocketConstructor = new (
  url: string,
  options: { perMessageDeflate: boolean },
) => WebSocket;

/**
 * Opens a WebSocket to `url` that delivers binary frames as `ArrayBuffer`s to `handlers`. On
 * Bun's own WebSocket the permessage-deflate extension is offered only with `compression`; every
 * other class (Deno's never offers it, Node's always does, a browser's decides by itself, and so
 * does a class passed in the `WebSocket` option) is constructed with the URL alone.
 */
export function openWebSocket(
  WebSocketClass: new (url: string) => WebSocket,
  url: string,
  handlers: SocketHandlers,
  compression: boolean,
): WebSocket {
  const runtime = globalThis as { Bun?: unknown; WebSocket?: unknown };
  const socket = runtime.Bun !== undefined && WebSocketClass === runtime.WebSocket
    ? new (WebSocketClass as unknown as BunWebSocketConstructor)(url, {
      perMessageDeflate: compression,
    })
    : new WebSocketClass(url);
  let lastError = "";
  socket.binaryType = "arraybuffer";
  socket.addEventListener("message", (event) => handlers.message(event.data));
  socket.addEventListener("error", (event) => {
    lastError = String((event as ErrorEvent).message ?? "") || "WebSocket error";
  });
  socket.addEventListener("close", (event) => {
    handlers.close(event.code || 1006, event.reason || lastError);
  });
  return socket;
}

/** Closes `socket` unless it is closing or closed, with `reason` cut to what a close allows. */
export function closeWebSocket(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState !== CONNECTING && socket.readyState !== OPEN) return;
  try {
    socket.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
  } catch {
    // Some implementations refuse to close a socket still connecting; its close event ends it.
  }
}

/** `text` cut to at most `maxBytes` of UTF-8, never in the middle of a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  return new TextDecoder().decode(bytes.subarray(0, maxBytes)).replace(/\uFFFD$/, "");
}
