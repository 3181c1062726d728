// deno-lint-ignore no-unused-vars -- referenced by the doc comments
import type { ChunkError } from "./chunk_error.ts";
import { createJsUnChunker } from "./_js_engine.ts";

/** Which implementation reassembles chunks. */
export type UnChunkerEngine = "wasm" | "js";

/** Options for {@link createUnChunker}; every field is optional. */
export type UnChunkerOptions = Readonly<
  Partial<{
    /**
     * `"wasm"` (default): the AssemblyScript engine; rejects where WebAssembly cannot run.
     * `"js"`: the TypeScript engine. `"auto"`: WebAssembly where it instantiates, else TypeScript.
     * Both behave identically, byte for byte and error for error.
     */
    engine: UnChunkerEngine | "auto";
    /** Largest declared total size accepted for one message. Default 1 GiB (2^30). */
    maxMessageSize: number;
    /**
     * Budget for all incomplete messages together: their buffers (the declared totals) plus 16
     * bytes of bookkeeping per disjoint range of bytes received. Default 2 GiB (2^31).
     */
    maxPendingBytes: number;
    /** How many incomplete messages may be held at once. Default 1024. */
    maxPendingMessages: number;
    /**
     * Called after each accepted chunk of a message that spans several frames, the last one
     * included (then `receivedBytes === totalBytes`). Never called for single-frame messages.
     * It should not throw: an exception is re-thrown from a microtask (like an event listener's,
     * it reaches the runtime's uncaught-exception handling), after the frame was processed.
     */
    onProgress: (messageId: number, receivedBytes: number, totalBytes: number) => void;
  }>
>;

/** The limits an un-chunker enforces, after defaults are applied. */
export interface UnChunkerLimits {
  /** Largest total size a message may declare, in bytes. */
  readonly maxMessageSize: number;
  /** Bytes all incomplete messages may hold together. */
  readonly maxPendingBytes: number;
  /** Incomplete messages held at once. */
  readonly maxPendingMessages: number;
}

/** Default {@link UnChunkerLimits}. */
export const DEFAULT_UNCHUNKER_LIMITS: UnChunkerLimits = Object.freeze({
  maxMessageSize: 2 ** 30,
  maxPendingBytes: 2 ** 31,
  maxPendingMessages: 1024,
});

/** Bookkeeping charged to `maxPendingBytes` for each disjoint range of received bytes. */
export const RANGE_COST_BYTES = 16;

/**
 * Reassembles wslink frames into whole messages (their msgpack bytes).
 *
 * Memory contract: a message that arrives in one frame is returned as a view of that frame's
 * bytes (no copy); a message in several frames is copied once, byte by byte, into a buffer of its
 * declared size, which is then handed over to the caller and never touched again.
 */
export interface UnChunker {
  /** The engine doing the work. */
  readonly engine: UnChunkerEngine;
  /** The limits in force. */
  readonly limits: UnChunkerLimits;
  /** How many messages are incomplete. */
  readonly pendingMessages: number;
  /** What the incomplete messages cost against `maxPendingBytes`. */
  readonly pendingBytes: number;
  /**
   * Takes one frame. Returns the whole message's bytes when this frame completes it, else
   * `undefined`. Throws a {@link ChunkError} for a frame it refuses; only that frame's message
   * is dropped.
   */
  push(frame: Uint8Array | ArrayBuffer): Uint8Array | undefined;
  /** Drops every incomplete message and frees its memory. */
  release(): void;
}

/** Validates the options' limits and applies defaults. */
export function resolveLimits(options: UnChunkerOptions): UnChunkerLimits {
  const limits = {
    maxMessageSize: options.maxMessageSize ?? DEFAULT_UNCHUNKER_LIMITS.maxMessageSize,
    maxPendingBytes: options.maxPendingBytes ?? DEFAULT_UNCHUNKER_LIMITS.maxPendingBytes,
    maxPendingMessages: options.maxPendingMessages ?? DEFAULT_UNCHUNKER_LIMITS.maxPendingMessages,
  };
  const check = (name: string, value: number, max: number) => {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
    }
  };
  check("maxMessageSize", limits.maxMessageSize, 0xffff_ffff);
  check("maxPendingBytes", limits.maxPendingBytes, Number.MAX_SAFE_INTEGER);
  check("maxPendingMessages", limits.maxPendingMessages, 0x7fff_ffff);
  return Object.freeze(limits);
}

/**
 * Creates an un-chunker. The WebAssembly module is compiled on the first call that needs it
 * (never when the package is imported) and shared by every un-chunker after that.
 *
 * @example
 * ```ts
 * import { createUnChunker, generateChunks } from "@trame-wire/client";
 * const unchunker = await createUnChunker({ engine: "auto" });
 * const message = new Uint8Array(1000).fill(7);
 * let whole: Uint8Array | undefined;
 * for (const frame of generateChunks(message, 256)) whole = unchunker.push(frame);
 * console.assert(whole?.byteLength === 1000);
 * ```
 */
export async function createUnChunker(options: UnChunkerOptions = {}): Promise<UnChunker> {
  const limits = resolveLimits(options);
  const engine = options.engine ?? "wasm";
  if (engine === "js") return createJsUnChunker(limits, options.onProgress);
  if (engine !== "wasm" && engine !== "auto") {
    throw new TypeError(`engine must be "wasm", "js" or "auto", got ${String(engine)}`);
  }
  try {
    const { createWasmUnChunker } = await import("./_wasm_engine.ts");
    return await createWasmUnChunker(limits, options.onProgress);
  } catch (error) {
    if (engine === "auto") return createJsUnChunker(limits, options.onProgress);
    throw error;
  }
}

/** A `Uint8Array` over any frame, without copying. */
export function frameBytes(frame: Uint8Array | ArrayBuffer): Uint8Array {
  if (frame instanceof Uint8Array) return frame;
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame);
  throw new TypeError("a frame must be a Uint8Array or an ArrayBuffer");
}

/** Runs a progress callback so that a throwing callback cannot corrupt the un-chunker. */
export function notifyProgress(
  onProgress: UnChunkerOptions["onProgress"],
  messageId: number,
  receivedBytes: number,
  totalBytes: number,
): void {
  if (onProgress === undefined) return;
  try {
    onProgress(messageId, receivedBytes, totalBytes);
  } catch (error) {
    // Surface it like an event listener's exception, after the frame is fully processed.
    queueMicrotask(() => {
      throw error;
    });
  }
}
