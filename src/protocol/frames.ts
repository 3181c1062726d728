/**
 * The frame path both ends share: an envelope is encoded, cut into frames and sent; frames that
 * arrive go through an un-chunker back into messages.
 * @module
 */
import { generateChunks } from "../codec/chunker.ts";
import { createUnChunker, type UnChunker, type UnChunkerOptions } from "../codec/unchunker.ts";
import { unrefTimer } from "../util/runtime.ts";
import { createMessageCodec, type MessageCodec, type MessageCodecOptions } from "./msgpack.ts";

// Messages up to this size never make the encoder keep a large buffer.
const SMALL_MESSAGE_BYTES = 1024 * 1024;
// How long the encoder keeps a large buffer after the last large message.
const ENCODER_RELEASE_MS = 2_000;

/**
 * Encodes envelopes for one sender (a session, a server). The buffer retention policy: the
 * msgpack encoder reuses its buffer, so after a large message it holds a large one; keeping it
 * spares the next large message the first touch of fresh memory (page faults cost more than the
 * copy), so it is kept while large messages keep coming and let go 2 s after the last one (by
 * a timer that does not keep the process alive). Not re-entrant.
 */
export class FrameEncoder {
  readonly #options: MessageCodecOptions;
  #codec: MessageCodec;
  #releaseTimer: ReturnType<typeof setTimeout> | undefined;
  #disposed = false;

  constructor(options: MessageCodecOptions = {}) {
    this.#options = options;
    this.#codec = createMessageCodec(options);
  }

  /**
   * Encodes `envelope`. The result is a view of the encoder's buffer, which the next call
   * overwrites: chunk it or copy it first. Throws what msgpack throws for what it cannot pack.
   */
  encode(envelope: unknown): Uint8Array {
    const bytes = this.#codec.encode(envelope);
    if (bytes.byteLength > SMALL_MESSAGE_BYTES && !this.#disposed) this.#armRelease();
    return bytes;
  }

  /** Encodes `envelope` and cuts it into frames of at most `maxFrameSize` bytes (0: one frame). */
  frames(envelope: unknown, maxFrameSize: number): Uint8Array[] {
    return [...generateChunks(this.encode(envelope), maxFrameSize)];
  }

  /** Lets the buffer go and clears the timer; the encoder still works, keeping nothing large. */
  dispose(): void {
    this.#disposed = true;
    this.#release();
  }

  #armRelease(): void {
    clearTimeout(this.#releaseTimer);
    this.#releaseTimer = unrefTimer(setTimeout(() => this.#release(), ENCODER_RELEASE_MS));
  }

  #release(): void {
    clearTimeout(this.#releaseTimer);
    this.#releaseTimer = undefined;
    this.#codec = createMessageCodec(this.#options);
  }
}

/**
 * An un-chunker with the fastest engine that loads: WebAssembly, else TypeScript. `"auto"`
 * falls back only when WebAssembly fails to instantiate; where the engine cannot even be loaded
 * (a bundle without it, a host refusing dynamic import), this falls back too. A limit out of
 * range is the caller's mistake and rejects with its `RangeError`.
 */
export async function createFrameUnChunker(
  options: Omit<UnChunkerOptions, "engine">,
): Promise<UnChunker> {
  try {
    return await createUnChunker({ ...options, engine: "auto" });
  } catch (error) {
    if (error instanceof RangeError) throw error;
    return await createUnChunker({ ...options, engine: "js" });
  }
}

/**
 * The bytes of a received binary frame (an `ArrayBuffer` or a view, as WebSocket implementations
 * deliver them), or `undefined` for anything else: a text frame, an unexpected type.
 */
export function binaryFrame(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return undefined;
}

// Frames at least this large are freed as soon as their bytes were copied.
const RELEASED_FRAME_BYTES = 64 * 1024;

/**
 * Frees a received frame's `ArrayBuffer` once the un-chunker copied its bytes into a message in
 * several frames (`message` is what the un-chunker returned for it), rather than at the next
 * garbage collection: it lowers the peak memory of large messages, and an idle server might not
 * collect for a long time. `data` is the frame as received: an `ArrayBuffer`, or a view, which
 * is freed only when it covers its whole buffer (so the buffer holds nothing else). A frame that
 * is itself the message (or a view of it) is kept.
 */
export function releaseCopiedFrame(data: unknown, message: Uint8Array | undefined): void {
  const buffer = data instanceof ArrayBuffer
    ? data
    : ArrayBuffer.isView(data) && data.byteOffset === 0 &&
        data.byteLength === data.buffer.byteLength
    ? data.buffer
    : undefined;
  if (
    buffer instanceof ArrayBuffer && buffer.byteLength >= RELEASED_FRAME_BYTES &&
    (message === undefined || message.buffer !== buffer)
  ) {
    // Detaching (where `transfer` exists) frees it now; nothing else uses it.
    try {
      (buffer as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
    } catch {
      // A buffer the runtime does not let go of is left to the garbage collector.
    }
  }
}
