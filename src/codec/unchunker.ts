// The public face of the un-chunker: options, defaults, and the factory that picks an engine.
import { createJsUnChunker } from "./_js_engine.ts";
import type { UnChunker, UnChunkerEngine, UnChunkerLimits } from "./_engine.ts";

export type { UnChunker, UnChunkerEngine, UnChunkerLimits } from "./_engine.ts";

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

/** Default {@link UnChunkerLimits}. */
export const DEFAULT_UNCHUNKER_LIMITS: UnChunkerLimits = Object.freeze({
  maxMessageSize: 2 ** 30,
  maxPendingBytes: 2 ** 31,
  maxPendingMessages: 1024,
});

// Validates the options' limits and applies defaults.
function resolveLimits(options: UnChunkerOptions): UnChunkerLimits {
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
