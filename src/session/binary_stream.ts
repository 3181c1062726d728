/**
 * {@link BinaryStream}: a binary result handed over as its bytes arrive.
 * @module
 */

/** @internal What the session does with a {@link BinaryStream}: feeds it, ends it, fails it. */
export interface BinaryStreamFeed {
  /**
   * Adds `chunk`, a view of a received frame that nothing else uses: handed over as it is to a
   * default reader, copied into a BYOB reader's buffer and then freed at once.
   */
  push(chunk: Uint8Array): void;
  /** No more chunks: the stream ends once the reader has taken them all. */
  close(): void;
  /** Errors the stream now; chunks not taken yet are dropped. */
  error(reason: unknown): void;
  /** Bytes pushed and not taken by the reader yet. */
  readonly queuedBytes: number;
}

/**
 * The bytes of a binary result (a msgpack `bin`), as `WslinkSession.callStream()` and
 * `TrameClient.triggerStream()` resolve them: a `ReadableStream<Uint8Array>` (a byte stream)
 * with the total `size` known from the first frame, which delivers the bytes as their frames
 * arrive.
 *
 * Two ways to read it, the same bytes either way:
 * - a default reader (`for await`, `getReader()`, `pipeTo()`, `new Response(stream)`) gets each
 *   frame's bytes as a view of the frame, never copied; the frame is freed when the reader drops
 *   the view and the garbage collector runs, so on runtimes that collect late (Deno) memory
 *   grows by some hundreds of MiB during a large transfer;
 * - a BYOB reader (`getReader({ mode: "byob" })`, reading into a buffer of the caller's) gets the
 *   bytes copied into that buffer, and each frame is freed as soon as it is copied: memory stays
 *   at a few frames whatever the size.
 *
 * `cancel()` drops the rest of the result as it arrives, without keeping it. The WebSocket API
 * cannot slow the server down, so bytes a slow reader has not taken yet wait in the stream; they
 * count against the session's `maxPendingBytes`, and past it the stream errors with a
 * `ChunkError` (`pending-bytes`).
 *
 * @example
 * ```ts
 * import type { BinaryStream } from "@trame-wire/client";
 *
 * // Reads a stream into one buffer of 1 MiB, over and over: constant memory.
 * async function checksum(stream: BinaryStream): Promise<number> {
 *   const reader = stream.getReader({ mode: "byob" });
 *   let buffer = new ArrayBuffer(1 << 20);
 *   let sum = 0;
 *   for (;;) {
 *     const { done, value } = await reader.read(new Uint8Array(buffer));
 *     if (done) return sum;
 *     for (const byte of value) sum = (sum + byte) % 65521;
 *     buffer = value.buffer;
 *   }
 * }
 * ```
 */
export interface BinaryStream extends ReadableStream<Uint8Array> {
  /** The result's size in bytes: what the stream delivers in all when it ends normally. */
  readonly size: number;
}

// The streams this module made, so that the session tells them from anything else.
const made = new WeakSet<object>();

/**
 * @internal Makes a stream of `size` bytes; `feed` gets what fills it, `onCancel` hears that the
 * reader cancelled (so that the rest is dropped as it arrives).
 */
export function createBinaryStream(
  size: number,
  feed: (feed: BinaryStreamFeed) => void,
  onCancel: () => void,
): BinaryStream {
  const queue = new ChunkQueue(onCancel);
  const stream = Object.assign(new ReadableStream(queue.source()), { size });
  made.add(stream);
  feed(queue);
  return stream;
}

/** @internal A stream of bytes that are all here already: one chunk (none when empty), the end. */
export function binaryStreamOf(bytes: Uint8Array): BinaryStream {
  return createBinaryStream(bytes.byteLength, (feed) => {
    // A copy, so that handing it over (which detaches its buffer) leaves the caller's intact.
    if (bytes.byteLength > 0) feed.push(bytes.slice());
    feed.close();
  }, () => {});
}

/** @internal Whether `value` is a stream this module made. */
export function isBinaryStream(value: unknown): value is BinaryStream {
  return typeof value === "object" && value !== null && made.has(value);
}

// The chunks pushed and not taken yet, served to the stream as reads come.
class ChunkQueue implements BinaryStreamFeed {
  readonly #onCancel: () => void;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #queuedBytes = 0;
  #closed = false;
  #failed = false;
  #controller: ReadableByteStreamController | undefined;
  #wake: (() => void) | undefined;

  constructor(onCancel: () => void) {
    this.#onCancel = onCancel;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  source(): UnderlyingByteSource {
    return {
      type: "bytes",
      start: (controller) => {
        this.#controller = controller;
      },
      pull: (controller) => this.#serve(controller),
      cancel: () => {
        this.#closed = true;
        this.#drop();
        this.#onCancel();
      },
    };
  }

  push(chunk: Uint8Array): void {
    if (this.#closed || this.#failed) return;
    this.#chunks.push(chunk);
    this.#queuedBytes += chunk.byteLength;
    this.#wakeUp();
  }

  close(): void {
    this.#closed = true;
    this.#wakeUp();
  }

  error(reason: unknown): void {
    if (this.#failed || (this.#closed && this.#head === this.#chunks.length)) return;
    this.#failed = true;
    this.#drop();
    this.#controller?.error(reason);
    this.#wakeUp();
  }

  // Answers one read: a BYOB read gets bytes copied into its buffer, a default read the next
  // chunk itself. Waits for a chunk when none is here.
  async #serve(controller: ReadableByteStreamController): Promise<void> {
    while (this.#head === this.#chunks.length && !this.#closed && !this.#failed) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#failed) return;
    if (this.#head === this.#chunks.length) {
      controller.close();
      controller.byobRequest?.respond(0);
      return;
    }
    const chunk = this.#chunks[this.#head];
    const request = controller.byobRequest;
    if (request?.view == null) {
      this.#shift();
      controller.enqueue(chunk);
      return;
    }
    const target = request.view;
    const length = Math.min(target.byteLength, chunk.byteLength);
    new Uint8Array(target.buffer, target.byteOffset, length).set(chunk.subarray(0, length));
    if (length === chunk.byteLength) {
      this.#shift();
      free(chunk);
    } else {
      this.#chunks[this.#head] = chunk.subarray(length);
      this.#queuedBytes -= length;
    }
    request.respond(length);
  }

  #shift(): void {
    const chunk = this.#chunks[this.#head];
    this.#chunks[this.#head++] = EMPTY;
    this.#queuedBytes -= chunk.byteLength;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    }
  }

  #drop(): void {
    for (let index = this.#head; index < this.#chunks.length; index++) free(this.#chunks[index]);
    this.#chunks = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

const EMPTY = new Uint8Array(0);

// Frees a chunk's frame now rather than at the next garbage collection (where `transfer`
// exists): the session hands over each frame once, and this was its only use.
function free(chunk: Uint8Array): void {
  const buffer = chunk.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  if (buffer.byteLength > 0 && !buffer.resizable) buffer.transfer?.(0);
}
