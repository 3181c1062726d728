// The options of a session after defaults, validation and the environment, and the checks of
// what the server and the caller hand a session (the hello reply, the URL).
import { DEFAULT_UNCHUNKER_LIMITS, type UnChunkerLimits } from "../codec/unchunker.ts";
import { DEFAULT_SECRET, MAX_MESSAGE_DEPTH, MIN_FRAME_SIZE } from "../protocol/defaults.ts";
import { MAX_BIN_SIZE } from "../protocol/_bin_stream.ts";
import { readEnvironmentVariable } from "../util/runtime.ts";
import type { WebSocketConstructor, WslinkSessionOptions } from "./options.ts";

/** How long `close()` waits for the server's confirmation by default, in milliseconds. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 1_000;

/** The options after defaults, validation and the environment are applied. */
export interface ResolvedSessionOptions {
  readonly secret: string;
  readonly helloTimeout: number;
  readonly callTimeout: number;
  readonly closeTimeout: number;
  /** The client-side frame cap before the server's limit is known (option and env); 0: none. */
  readonly maxFrameSize: number;
  readonly sendHighWaterMark: number;
  readonly maxMessageSize: number;
  readonly maxStreamSize: number;
  readonly maxPendingBytes: number;
  readonly maxPendingMessages: number;
  readonly maxMessageDepth: number;
  readonly useBigInt64: boolean;
  readonly WebSocket: WebSocketConstructor;
  readonly compression: boolean;
  readonly signal: AbortSignal | undefined;
}

/** Applies defaults, reads `WSLINK_MAX_MSG_SIZE` and validates everything. */
export function resolveSessionOptions(options: WslinkSessionOptions): ResolvedSessionOptions {
  const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor })
    .WebSocket;
  if (WebSocketClass === undefined) {
    throw new TypeError("this runtime has no global WebSocket: pass one in the WebSocket option");
  }
  const resolved: ResolvedSessionOptions = {
    secret: options.secret ?? DEFAULT_SECRET,
    helloTimeout: options.helloTimeout ?? 10_000,
    callTimeout: options.callTimeout ?? 0,
    closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS,
    maxFrameSize: smallestLimit(
      checkFrameSize("maxFrameSize", options.maxFrameSize ?? 0),
      environmentFrameSize(),
    ),
    sendHighWaterMark: options.sendHighWaterMark ?? 4 * 1024 * 1024,
    maxMessageSize: options.maxMessageSize ?? DEFAULT_UNCHUNKER_LIMITS.maxMessageSize,
    maxStreamSize: options.maxStreamSize ?? MAX_BIN_SIZE,
    maxPendingBytes: options.maxPendingBytes ?? DEFAULT_UNCHUNKER_LIMITS.maxPendingBytes,
    maxPendingMessages: options.maxPendingMessages ?? DEFAULT_UNCHUNKER_LIMITS.maxPendingMessages,
    maxMessageDepth: options.maxMessageDepth ?? MAX_MESSAGE_DEPTH,
    useBigInt64: options.useBigInt64 ?? false,
    WebSocket: WebSocketClass,
    compression: options.compression ?? false,
    signal: options.signal,
  };
  if (typeof resolved.secret !== "string") throw new TypeError("secret must be a string");
  if (typeof resolved.compression !== "boolean") {
    throw new TypeError("compression must be a boolean");
  }
  checkDuration("helloTimeout", resolved.helloTimeout);
  checkDuration("callTimeout", resolved.callTimeout);
  checkDuration("closeTimeout", resolved.closeTimeout);
  if (!Number.isSafeInteger(resolved.sendHighWaterMark) || resolved.sendHighWaterMark < 1) {
    throw new RangeError(
      `sendHighWaterMark must be a positive integer, got ${resolved.sendHighWaterMark}`,
    );
  }
  const { maxStreamSize } = resolved;
  if (!Number.isInteger(maxStreamSize) || maxStreamSize < 1 || maxStreamSize > MAX_BIN_SIZE) {
    throw new RangeError(
      `maxStreamSize must be an integer from 1 to ${MAX_BIN_SIZE}, got ${maxStreamSize}`,
    );
  }
  if (!Number.isSafeInteger(resolved.maxMessageDepth) || resolved.maxMessageDepth < 1) {
    throw new RangeError(
      `maxMessageDepth must be a positive integer, got ${resolved.maxMessageDepth}`,
    );
  }
  return Object.freeze(resolved);
}

/** The smallest of the limits that are set (non-zero); 0 when none is. */
export function smallestLimit(...limits: number[]): number {
  const set = limits.filter((limit) => limit > 0);
  return set.length === 0 ? 0 : Math.min(...set);
}

/** Validates a duration in milliseconds (0 allowed: no timeout). */
export function checkDuration(name: string, value: number): void {
  if (typeof value !== "number" || !(value >= 0) || value > 2 ** 31 - 1) {
    throw new RangeError(`${name} must be a number of milliseconds from 0 to 2^31-1, got ${value}`);
  }
}

function checkFrameSize(name: string, value: number): number {
  if (!Number.isInteger(value) || (value !== 0 && value < MIN_FRAME_SIZE)) {
    throw new RangeError(
      `${name} must be 0 (no cap) or an integer of at least ${MIN_FRAME_SIZE}, got ${value}`,
    );
  }
  return value;
}

function environmentFrameSize(): number {
  const text = readEnvironmentVariable("WSLINK_MAX_MSG_SIZE");
  if (text === undefined || text.trim() === "") return 0;
  if (!/^\s*\d+\s*$/.test(text)) {
    throw new RangeError(`WSLINK_MAX_MSG_SIZE must be a whole number of bytes, got "${text}"`);
  }
  return checkFrameSize("WSLINK_MAX_MSG_SIZE", Number(text));
}

/** The URL as text; `TypeError` unless it is a `ws:` or `wss:` URL. */
export function checkUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new TypeError(`not a URL: ${String(url)}`);
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new TypeError(`only ws: and wss: URLs are supported, got ${parsed.protocol}`);
  }
  return parsed.href;
}

/** The limits of incoming messages, as the un-chunker takes them. */
export function incomingLimits(options: ResolvedSessionOptions): UnChunkerLimits {
  return {
    maxMessageSize: options.maxMessageSize,
    maxPendingBytes: options.maxPendingBytes,
    maxPendingMessages: options.maxPendingMessages,
  };
}

/** Checks the arguments of a call; throws `TypeError` or `RangeError`. */
export function checkCallArguments(
  method: unknown,
  args: unknown,
  kwargs: unknown,
  timeout: number,
): void {
  if (typeof method !== "string") throw new TypeError("method must be a string");
  if (!Array.isArray(args)) throw new TypeError("args must be an array");
  if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) {
    throw new TypeError("kwargs must be an object");
  }
  checkDuration("timeout", timeout);
}

/** `code` when a session may close with it (1000, or 3000 to 4999), else `RangeError`. */
export function checkCloseCode(code: number): number {
  if (code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
    throw new RangeError(`close code must be 1000 or from 3000 to 4999, got ${code}`);
  }
  return code;
}
