// Results and publishes that are a file or a stream of bytes go out as a msgpack bin read as it is
// sent: the envelope and the bin header first, then frames filled from the source, each one sent
// once the socket has room for it. A 3 GiB file costs the server a few frames of memory.
import { randomMessageId } from "../codec/chunker.ts";
import { encodeHeader, HEADER_LENGTH } from "../codec/header.ts";
import { DEFAULT_MAX_MSG_SIZE } from "../protocol/defaults.ts";
import { MAX_BIN_SIZE, streamPrefix } from "../protocol/_bin_stream.ts";
import { open } from "node:fs/promises";

/**
 * Bytes a handler may return (or publish) to have them streamed: a `Blob` (`Bun.file()`, Node's
 * `fs.openAsBlob()`, any Blob; {@link openFile} on every runtime), or `{ size, stream }`, a
 * stream of `size` bytes (it must yield at least that many; what follows is not read). They
 * arrive as a msgpack `bin`, as a `Uint8Array` would, but are read as they are sent.
 */
export type StreamedBytes = Blob | { readonly size: number; readonly stream: ReadableStream };

/** Something to stream: its size, and its bytes when first asked for. */
export interface StreamSource {
  readonly size: number;
  open(): ReadableStream<Uint8Array>;
  /** Lets go of the bytes when they will not be sent (a stream is cancelled). */
  discard(): void;
}

/** The streamed source `value` is, or `undefined` when it is anything else. */
export function streamSourceOf(value: unknown): StreamSource | undefined {
  if (value instanceof Blob) {
    return { size: value.size, open: () => value.stream(), discard: () => {} };
  }
  if (typeof value !== "object" || value === null || !("stream" in value)) return undefined;
  const { size, stream } = value as { size?: unknown; stream?: unknown };
  if (!(stream instanceof ReadableStream) || typeof size !== "number") return undefined;
  return {
    size,
    open: () => stream,
    discard: () => void stream.cancel().catch(() => {}),
  };
}

/** Where the frames of a streamed message go: one client's connection. */
export interface StreamTarget {
  readonly isClosed: boolean;
  /** Bytes handed to the socket and not written out yet. */
  readonly bufferedAmount: number;
  /** Sends frames; false when the connection is closing or closed. */
  sendFrames(frames: readonly Uint8Array[]): boolean;
}

/** A source that broke its promise (its size) or failed to read. */
export class StreamSourceError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StreamSourceError";
  }
}

// How often a sender waiting for room looks at `bufferedAmount` again: the sockets have no
// portable "drained" event.
const ROOM_POLL_MS = 2;
// A frame is sent once its target holds at most this many bytes not written out yet (and half its
// send budget, which leaves room for the other messages sent meanwhile): enough to keep the socket
// busy while the next frame is read.
const QUEUED_BYTES_BEFORE_NEXT = 8 * 1024 * 1024;

/** The limits a streamed message is sent under. */
export interface StreamedSendLimits {
  /** Frames are at most this many bytes (0: the default frame size). */
  readonly maxFrameSize: number;
  /** Bytes a target may hold queued when a message is sent to it (over it, it is closed). */
  readonly sendBudget: number;
}

/**
 * Sends `{"wslink": "1.0", id, "result": <source's bytes as a bin>}` to every target, in frames
 * of at most `maxFrameSize` bytes (0: the default frame size, since a whole message cannot be
 * read ahead). Each frame waits until every open target has room for it (a queue under half its
 * send budget), so the slowest target sets the pace. Resolves when every byte was sent or every target closed; rejects with a
 * {@link StreamSourceError} when the source fails or ends before its size (the message is then
 * incomplete: the caller tells the clients). The source is released either way.
 */
export async function sendStreamed(
  targets: readonly StreamTarget[],
  id: string,
  source: StreamSource,
  limits: StreamedSendLimits,
): Promise<void> {
  const size = source.size;
  const prefix = Number.isInteger(size) && size >= 0 && size <= MAX_BIN_SIZE
    ? streamPrefix(id, size)
    : undefined;
  if (prefix === undefined || prefix.byteLength + size > MAX_BIN_SIZE) {
    source.discard();
    throw new StreamSourceError(
      `a streamed size must be an integer that fits a message (4 GiB - 1), got ${size}`,
    );
  }
  const frameSize = limits.maxFrameSize === 0 ? DEFAULT_MAX_MSG_SIZE : limits.maxFrameSize;
  const queuedBeforeNext = Math.min(QUEUED_BYTES_BEFORE_NEXT, Math.floor(limits.sendBudget / 2));
  const message = new FramedMessage(targets, prefix.byteLength + size, frameSize, queuedBeforeNext);
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let byobReader: ReadableStreamBYOBReader | undefined;
  try {
    const stream = source.open();
    // A byte stream (a Blob's, a file's) reads straight into the frame: no copy, no garbage.
    try {
      byobReader = stream.getReader({ mode: "byob" });
    } catch {
      reader = stream.getReader();
    }
  } catch (error) {
    throw new StreamSourceError(`cannot read the bytes to send: ${describe(error)}`, {
      cause: error,
    });
  }
  try {
    await message.write(prefix);
    while (!message.complete && message.open) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = byobReader !== undefined
          ? await byobReader.read(message.room())
          : await reader!.read();
      } catch (error) {
        throw new StreamSourceError(`reading the bytes to send failed: ${describe(error)}`, {
          cause: error,
        });
      }
      if (chunk.done) {
        throw new StreamSourceError(
          `the stream ended after ${message.written - prefix.byteLength} of ${size} bytes`,
        );
      }
      if (!(chunk.value instanceof Uint8Array)) {
        throw new StreamSourceError("a stream to send must yield Uint8Array chunks");
      }
      if (byobReader !== undefined) await message.filled(chunk.value);
      else await message.write(chunk.value);
    }
  } finally {
    // Closes the file (or whatever the source holds) when the stream stopped early.
    (byobReader ?? reader)?.cancel().catch(() => {});
  }
}

interface SentFrame {
  readonly frame: Uint8Array;
  /** The bytes of this message sent up to the end of this frame, WebSocket headers included. */
  readonly end: number;
}

// One message going out frame by frame to its targets. A frame is reused once every target has
// written it out: the bytes a target still holds are the last ones sent to it, so a frame is out
// when a target holds no more than was sent after it. (A socket that holds on to the frames it
// sends, as Node's `ws` does, counts their WebSocket headers in `bufferedAmount`; those that
// count only payloads copy what they are given, so their frames are free at once anyway.)
class FramedMessage {
  readonly #chunkId = randomMessageId();
  readonly #total: number;
  readonly #contentPerFrame: number;
  readonly #queuedBeforeNext: number;
  readonly #poolSize: number;
  #targets: readonly StreamTarget[];
  #sentFrames: SentFrame[] = [];
  #sent = 0;
  // The frame being filled (its length kept apart: a BYOB read detaches it for a moment), its
  // offset in the message, and how much of its content is filled.
  #frame: Uint8Array;
  #frameLength = 0;
  #offset = 0;
  #filled = 0;

  constructor(
    targets: readonly StreamTarget[],
    total: number,
    frameSize: number,
    queuedBeforeNext: number,
  ) {
    this.#queuedBeforeNext = queuedBeforeNext;
    this.#poolSize = Math.ceil(queuedBeforeNext / frameSize) + 2;
    this.#targets = targets.filter((target) => !target.isClosed);
    this.#total = total;
    this.#contentPerFrame = Math.max(frameSize - HEADER_LENGTH, 1);
    this.#frame = this.#nextFrame();
  }

  /** Whether a target is still open. */
  get open(): boolean {
    return this.#targets.length > 0;
  }

  /** Whether every byte was sent. */
  get complete(): boolean {
    return this.#offset === this.#total;
  }

  /** Bytes of the message written into frames so far. */
  get written(): number {
    return this.#offset + this.#filled;
  }

  /** The unfilled part of the current frame, for a BYOB read. */
  room(): Uint8Array {
    return this.#frame.subarray(HEADER_LENGTH + this.#filled);
  }

  /** A BYOB read filled `view` (the frame's memory, transferred): counts it, sends when full. */
  async filled(view: Uint8Array): Promise<void> {
    this.#frame = new Uint8Array(view.buffer as ArrayBuffer, 0, this.#frameLength);
    this.#filled += view.byteLength;
    if (this.#filled === this.#frameLength - HEADER_LENGTH) await this.#flush();
  }

  /** Copies `bytes` into frames, sending each one as it fills; what is past the end is left. */
  async write(bytes: Uint8Array): Promise<void> {
    let taken = 0;
    while (taken < bytes.byteLength && this.open && !this.complete) {
      const room = this.room();
      const part = Math.min(room.byteLength, bytes.byteLength - taken);
      room.set(bytes.subarray(taken, taken + part));
      taken += part;
      this.#filled += part;
      if (this.#filled === this.#frameLength - HEADER_LENGTH) await this.#flush();
    }
  }

  async #flush(): Promise<void> {
    const frame = this.#frame;
    for (const target of this.#targets) {
      while (!target.isClosed && target.bufferedAmount > this.#queuedBeforeNext) {
        await delay(ROOM_POLL_MS);
      }
    }
    // Those that closed, or are closing (they dropped the frame), are done with.
    this.#targets = this.#targets.filter((target) =>
      !target.isClosed && target.sendFrames([frame])
    );
    this.#sent += webSocketHeaderLength(frame.byteLength) + frame.byteLength;
    this.#sentFrames.push({ frame, end: this.#sent });
    this.#offset += this.#filled;
    this.#filled = 0;
    if (!this.complete) this.#frame = this.#nextFrame();
  }

  // A frame for the next bytes: the oldest one sent when every target has written it out and it
  // has the right size, else a new one.
  #nextFrame(): Uint8Array {
    const length = HEADER_LENGTH + Math.min(this.#contentPerFrame, this.#total - this.#offset);
    const oldest = this.#sentFrames[0];
    let frame: Uint8Array;
    if (
      oldest !== undefined && oldest.frame.byteLength === length &&
      this.#targets.every((target) => target.bufferedAmount <= this.#sent - oldest.end)
    ) {
      this.#sentFrames.shift();
      frame = oldest.frame;
    } else {
      frame = new Uint8Array(length);
      // The frames kept for reuse cover what a target may hold queued, and two more; older ones,
      // never written out, are left to the target that holds them.
      if (this.#sentFrames.length > this.#poolSize) this.#sentFrames.shift();
    }
    encodeHeader(this.#chunkId, this.#offset, this.#total, frame);
    this.#frameLength = length;
    return frame;
  }
}

// The header of an unmasked WebSocket frame of `length` payload bytes (RFC 6455, 5.2).
function webSocketHeaderLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Bytes a default reader of a file stream gets per read (a BYOB reader reads as much as it asks).
const FILE_READ_BYTES = 1024 * 1024;

/**
 * A file to return from a trigger or method, or to publish, so that it is streamed from disk as
 * it is sent: `{ size, stream }` over the opened file, a byte stream that reads straight into the
 * frames being sent (no copy, no buffer of its own), on every runtime. The file is open from now
 * until the stream is read to its end or cancelled (the server does one or the other with
 * whatever a handler returns). Rejects as the file system does (`ENOENT`, …), and with a
 * `TypeError` for something that is not a file.
 *
 * @example
 * ```ts
 * import { openFile, serve } from "@trame-wire/client/server";
 *
 * await using server = await serve({ port: 0 });
 * server.trigger("download", () => openFile("./mesh.vtp"));
 * ```
 */
export async function openFile(
  path: string | URL,
): Promise<{ readonly size: number; readonly stream: ReadableStream<Uint8Array> }> {
  const handle = await open(path, "r");
  let size: number;
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new TypeError(`not a file: ${String(path)}`);
    size = stats.size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  let position = 0;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  const stream = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: FILE_READ_BYTES,
    async pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view!;
      const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      try {
        const { bytesRead } = await handle.read(target, 0, target.byteLength, position);
        if (bytesRead === 0) {
          await close();
          controller.close();
          request.respond(0);
          return;
        }
        position += bytesRead;
        request.respond(bytesRead);
      } catch (error) {
        await close().catch(() => {});
        controller.error(error);
      }
    },
    cancel: close,
  });
  return { size, stream };
}
