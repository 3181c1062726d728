// The WebAssembly engine: assembly/index.ts parses headers and keeps the books (pending messages,
// received ranges, limits); this file keeps the message buffers and does the copying, so no view
// of WebAssembly memory ever reaches the caller.
import { CHUNK_ERROR_REASONS, type ChunkError } from "./chunk_error.ts";
import { HEADER_LENGTH } from "./header.ts";
import {
  chunkRefusal,
  frameBytes,
  freeBuffer,
  notifyProgress,
  type ProgressCallback,
  type UnChunker,
  type UnChunkerLimits,
} from "./_engine.ts";
import { WASM_MODULE_BASE64 } from "./_wasm_bytes.ts";

// push() status codes and output layout: keep in step with assembly/index.ts.
const COMPLETE_SINGLE = 0;
const STARTED = 1;
const COMPLETED = 3;
const OUTPUT_START = 16;
const OUTPUT_BYTES = 32;
const OUT_ID = 0;
const OUT_OFFSET = 4;
const OUT_TOTAL = 8;
const OUT_RECEIVED = 12;
const OUT_SLOT = 16;
const OUT_FREED_SLOT = 20;
const OUT_DETAIL_A = 24;
const OUT_DETAIL_B = 28;

interface EngineExports {
  readonly memory: WebAssembly.Memory;
  ioPointer(): number;
  init(maxMessageSize: number, maxPendingBytes: number, maxPendingMessages: number): void;
  push(frameLength: number): number;
  pendingMessages(): number;
  pendingBytes(): number;
  release(): void;
}

// What the module's abort import needs; after an abort its bookkeeping cannot be trusted.
interface FailureHolder {
  memory: WebAssembly.Memory | undefined;
  failure: Error | undefined;
}

let compiledModule: Promise<WebAssembly.Module> | undefined;

// Compiled on first use and shared by every un-chunker; a failed compile is retried next time.
function compileModule(): Promise<WebAssembly.Module> {
  if (compiledModule === undefined) {
    const binary = atob(WASM_MODULE_BASE64);
    const bytes = new Uint8Array(binary.length);
    for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
    compiledModule = WebAssembly.compile(bytes).catch((error: unknown) => {
      compiledModule = undefined;
      throw error;
    });
  }
  return compiledModule;
}

// AssemblyScript strings are UTF-16 with their byte length in the 4 bytes before them.
function readAssemblyScriptString(memory: WebAssembly.Memory, pointer: number): string {
  if (pointer === 0) return "";
  const byteLength = new DataView(memory.buffer).getUint32(pointer - 4, true);
  const units = new Uint16Array(memory.buffer, pointer, byteLength >>> 1);
  return String.fromCharCode(...units);
}

class WasmUnChunker implements UnChunker {
  readonly engine = "wasm" as const;
  readonly limits: UnChunkerLimits;
  #onProgress: ProgressCallback | undefined;
  #exports: EngineExports;
  // The hot export, held directly: instance.exports is a frozen namespace-like object.
  #pushHeader: EngineExports["push"];
  #failure: FailureHolder;
  #ioPointer: number;
  // Views of the io area; memory growth detaches them (length 0), and they are then re-made.
  #header: Uint8Array;
  #output: DataView;
  // Buffers of incomplete messages, indexed by the slot the module assigns.
  #buffers: (Uint8Array | undefined)[] = [];

  constructor(
    limits: UnChunkerLimits,
    onProgress: ProgressCallback | undefined,
    exports: EngineExports,
    failure: FailureHolder,
  ) {
    this.limits = limits;
    this.#onProgress = onProgress;
    this.#exports = exports;
    this.#pushHeader = exports.push;
    this.#failure = failure;
    this.#ioPointer = exports.ioPointer();
    exports.init(limits.maxMessageSize, limits.maxPendingBytes, limits.maxPendingMessages);
    this.#header = new Uint8Array(exports.memory.buffer, this.#ioPointer, HEADER_LENGTH);
    this.#output = new DataView(
      exports.memory.buffer,
      this.#ioPointer + OUTPUT_START,
      OUTPUT_BYTES,
    );
  }

  get pendingMessages(): number {
    return this.#exports.pendingMessages();
  }

  get pendingBytes(): number {
    return this.#exports.pendingBytes();
  }

  /** Bytes of WebAssembly memory in use; lets tests see that memory growth happened. */
  get memoryByteLength(): number {
    return this.#exports.memory.buffer.byteLength;
  }

  push(frame: Uint8Array | ArrayBuffer): Uint8Array | undefined {
    const bytes = frameBytes(frame);
    const frameLength = bytes.byteLength;
    if (this.#failure.failure !== undefined) throw this.#failure.failure;
    if (frameLength >= HEADER_LENGTH) {
      if (this.#header.byteLength === 0) this.#refreshViews();
      const header = this.#header;
      for (let index = 0; index < HEADER_LENGTH; index++) header[index] = bytes[index];
    }
    const status = this.#pushHeader(frameLength);
    // The whole message in one frame: a view of the frame, no copy.
    if (status === COMPLETE_SINGLE) return bytes.subarray(HEADER_LENGTH);
    return this.#copyChunk(status, bytes);
  }

  release(): void {
    this.#exports.release();
    for (const buffer of this.#buffers) if (buffer !== undefined) freeBuffer(buffer);
    this.#buffers = [];
  }

  #copyChunk(status: number, bytes: Uint8Array): Uint8Array | undefined {
    if (this.#header.byteLength === 0) this.#refreshViews();
    const output = this.#output;
    if (status < 0) throw this.#refusal(-status, bytes.byteLength);
    const slot = output.getInt32(OUT_SLOT, true);
    const id = output.getUint32(OUT_ID, true);
    const totalSize = output.getUint32(OUT_TOTAL, true);
    const receivedBytes = output.getUint32(OUT_RECEIVED, true);
    let buffer: Uint8Array;
    if (status === STARTED) {
      buffer = new Uint8Array(totalSize);
      this.#buffers[slot] = buffer;
    } else {
      buffer = this.#buffers[slot]!;
    }
    buffer.set(bytes.subarray(HEADER_LENGTH), output.getUint32(OUT_OFFSET, true));
    // Free the slot before the callback, which may push a frame that reuses it.
    if (status === COMPLETED) this.#buffers[slot] = undefined;
    notifyProgress(this.#onProgress, id, receivedBytes, totalSize);
    return status === COMPLETED ? buffer : undefined;
  }

  // Reads the refusal's facts from the output words; chunkRefusal() words it as the TypeScript
  // engine does.
  #refusal(code: number, frameLength: number): ChunkError {
    const reason = CHUNK_ERROR_REASONS[code - 1];
    if (reason === undefined) {
      throw new Error(`the WebAssembly un-chunker returned an unknown status ${-code}`);
    }
    const output = this.#output;
    const limits = this.limits;
    if (reason === "short-frame") {
      return chunkRefusal(reason, undefined, { frameLength, offset: 0, totalSize: 0, limits });
    }
    const freedSlot = output.getInt32(OUT_FREED_SLOT, true);
    if (freedSlot >= 0) {
      const dropped = this.#buffers[freedSlot];
      if (dropped !== undefined) freeBuffer(dropped);
      this.#buffers[freedSlot] = undefined;
    }
    // The detail words mean what the reason makes them mean (see refuse() in assembly/index.ts).
    const detailA = output.getUint32(OUT_DETAIL_A, true);
    return chunkRefusal(reason, output.getUint32(OUT_ID, true), {
      frameLength,
      offset: output.getUint32(OUT_OFFSET, true),
      totalSize: output.getUint32(OUT_TOTAL, true),
      limits,
      pendingMessages: this.pendingMessages,
      pendingBytes: this.pendingBytes,
      forRange: detailA !== 0,
      earlierTotal: detailA,
      receivedStart: detailA,
      receivedEnd: output.getUint32(OUT_DETAIL_B, true),
    });
  }

  #refreshViews(): void {
    const buffer = this.#exports.memory.buffer;
    this.#header = new Uint8Array(buffer, this.#ioPointer, HEADER_LENGTH);
    this.#output = new DataView(buffer, this.#ioPointer + OUTPUT_START, OUTPUT_BYTES);
  }
}

/** Test hook: the WebAssembly memory size of a WASM un-chunker, or `undefined` for another. */
export function wasmMemoryByteLength(unchunker: UnChunker): number | undefined {
  return unchunker instanceof WasmUnChunker ? unchunker.memoryByteLength : undefined;
}

/**
 * Creates the WebAssembly engine: compiles the module on the first call (shared afterwards) and
 * instantiates one instance per un-chunker. Rejects where WebAssembly is unavailable.
 */
export async function createWasmUnChunker(
  limits: UnChunkerLimits,
  onProgress: ProgressCallback | undefined,
): Promise<UnChunker> {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.compile !== "function") {
    throw new Error(
      'WebAssembly is not available in this runtime; use createUnChunker({ engine: "js" }) or "auto"',
    );
  }
  const module = await compileModule();
  const failure: FailureHolder = { memory: undefined, failure: undefined };
  const imports = {
    env: {
      abort(message: number, file: number, line: number, column: number): never {
        const memory = failure.memory;
        const text = memory === undefined
          ? "(no memory)"
          : `${readAssemblyScriptString(memory, message)} at ${
            readAssemblyScriptString(memory, file)
          }:${line}:${column}`;
        failure.failure = new Error(
          `the WebAssembly un-chunker aborted (${text}); create a new un-chunker`,
        );
        throw failure.failure;
      },
    },
  };
  const instance = await WebAssembly.instantiate(module, imports);
  const exports = instance.exports as unknown as EngineExports;
  failure.memory = exports.memory;
  return new WasmUnChunker(limits, onProgress, exports, failure);
}
