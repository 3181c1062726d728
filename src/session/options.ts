/**
 * Options of {@link WslinkSession.connect}, and the one place where their defaults are applied.
 * @module
 */
import { DEFAULT_UNCHUNKER_LIMITS } from "../codec/unchunker.ts";
import { HEADER_LENGTH } from "../codec/header.ts";
import { readEnvironmentVariable } from "./_env.ts";
// deno-lint-ignore no-unused-vars -- referenced by the doc comments
import type { WslinkSession } from "./session.ts";

/** A constructor compatible with the standard `WebSocket` (the global one, `ws`, a test fake). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

/** Options of {@link WslinkSession.connect}; every field is optional. */
export type WslinkSessionOptions = Readonly<
  Partial<{
    /** The secret sent in the hello. Default `"wslink-secret"`, the reference server's default. */
    secret: string;
    /**
     * Milliseconds from `connect()` (socket opening included) to the hello reply; past it,
     * `connect()` rejects with code -32099 and the socket is closed. Default 10,000.
     */
    helloTimeout: number;
    /**
     * Default timeout of every call in milliseconds; 0 means none. Default 0: a server method may
     * legitimately run for minutes. A call's own `timeout` overrides it.
     */
    callTimeout: number;
    /**
     * Largest frame this client sends, header included, in bytes; 0 means no cap of its own.
     * The frames sent are at most the smallest of this, the server's `maxMsgSize` and the
     * `WSLINK_MAX_MSG_SIZE` environment variable (when set). At least 13. Default 0.
     */
    maxFrameSize: number;
    /**
     * Bytes the socket may hold unsent (`bufferedAmount`) before a large message waits for it to
     * drain, so a 1 GiB upload never buffers 1 GiB. Default 4 MiB.
     */
    sendHighWaterMark: number;
    /** Largest incoming message accepted, in bytes. Default 1 GiB. */
    maxMessageSize: number;
    /** Budget for all incomplete incoming messages together, in bytes. Default 2 GiB. */
    maxPendingBytes: number;
    /** How many incoming messages may be incomplete at once. Default 1024. */
    maxPendingMessages: number;
    /** Decode 64-bit integers as `bigint`, so values above 2^53 stay exact. Default `false`. */
    useBigInt64: boolean;
    /** The WebSocket implementation. Default: the runtime's global `WebSocket`. */
    WebSocket: WebSocketConstructor;
    /** Aborts connecting (not the session once connected): `connect()` rejects with -32099. */
    signal: AbortSignal;
  }>
>;

/** The options after defaults, validation and the environment are applied. */
export interface ResolvedSessionOptions {
  readonly secret: string;
  readonly helloTimeout: number;
  readonly callTimeout: number;
  /** The client-side frame cap before the server's limit is known (option and env); 0: none. */
  readonly maxFrameSize: number;
  readonly sendHighWaterMark: number;
  readonly maxMessageSize: number;
  readonly maxPendingBytes: number;
  readonly maxPendingMessages: number;
  readonly useBigInt64: boolean;
  readonly WebSocket: WebSocketConstructor;
  readonly signal: AbortSignal | undefined;
}

/** The secret of the reference server when none is configured. */
export const DEFAULT_SECRET = "wslink-secret";

/** The smallest frame limit that still carries content: a header and one byte. */
export const MIN_FRAME_SIZE = HEADER_LENGTH + 1;

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
    maxFrameSize: smallestLimit(
      checkFrameSize("maxFrameSize", options.maxFrameSize ?? 0),
      environmentFrameSize(),
    ),
    sendHighWaterMark: options.sendHighWaterMark ?? 4 * 1024 * 1024,
    maxMessageSize: options.maxMessageSize ?? DEFAULT_UNCHUNKER_LIMITS.maxMessageSize,
    maxPendingBytes: options.maxPendingBytes ?? DEFAULT_UNCHUNKER_LIMITS.maxPendingBytes,
    maxPendingMessages: options.maxPendingMessages ?? DEFAULT_UNCHUNKER_LIMITS.maxPendingMessages,
    useBigInt64: options.useBigInt64 ?? false,
    WebSocket: WebSocketClass,
    signal: options.signal,
  };
  if (typeof resolved.secret !== "string") throw new TypeError("secret must be a string");
  checkDuration("helloTimeout", resolved.helloTimeout);
  checkDuration("callTimeout", resolved.callTimeout);
  if (!Number.isSafeInteger(resolved.sendHighWaterMark) || resolved.sendHighWaterMark < 1) {
    throw new RangeError(
      `sendHighWaterMark must be a positive integer, got ${resolved.sendHighWaterMark}`,
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
