// Results and publishes that are a file or a stream of bytes go out as a msgpack bin read as it is
// sent: the envelope and the bin header first, then frames filled from the source, each one sent
// once the socket has room for it. A 3 GiB file costs the server a few frames of memory.
import { randomMessageId } from "../codec/chunker.ts";
import { encodeHeader, HEADER_LENGTH } from "../codec/header.ts";
import { DEFAULT_MAX_MSG_SIZE } from "../protocol/defaults.ts";
import { MAX_BIN_SIZE, streamPrefix } from "../protocol/_bin_stream.ts";
import { currentRuntime } from "../util/runtime.ts";

/**
 * Bytes a handler may return (or publish) to have them streamed: a `Blob` (`Bun.file()`, Node's
 * `fs.openAsBlob()`, any Blob; {@link openFile} on every runtime), or `{ size, stream }`, a
 * stream that yields exactly `size` bytes. They arrive as a msgpack `bin`, as a `Uint8Array`
 * would, but are read as they are sent.
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
  sendFrames(frames: readonly Uint8Array[]): void;
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
// Frames a target may have queued before the next one waits: two keep the socket busy while
// the next is read.
const FRAMES_IN_FLIGHT = 2;

/**
 * Sends `{"wslink": "1.0", id, "result": <source's bytes as a bin>}` to every target, in frames
 * of at most `maxFrameSize` bytes (0: the default frame size, since a whole message cannot be
 * read ahead). Each frame waits until every open target has room for it, so the slowest target
 * sets the pace. Resolves when every byte was sent or every target closed; rejects with a
 * {@link StreamSourceError} when the source fails or does not yield exactly its size (the
 * message is then incomplete: the caller tells the clients). The source is released either way.
 */
export async function sendStreamed(
  targets: readonly StreamTarget[],
  id: string,
  source: StreamSource,
  maxFrameSize: number,
): Promise<void> {
  const size = source.size;
  const prefix = Number.isInteger(size) && size >= 0 && size <= MAX_BIN_SIZE
    ? streamPrefix(id, size)
    : undefined;
  const total = (prefix?.byteLength ?? 0) + size;
  if (prefix === undefined || total > MAX_BIN_SIZE) {
    source.discard();
    throw new StreamSourceError(
      `a streamed size must be an integer that fits a message (4 GiB - 1), got ${size}`,
    );
  }
  const frameSize = maxFrameSize === 0 ? DEFAULT_MAX_MSG_SIZE : maxFrameSize;
  const contentPerFrame = Math.max(frameSize - HEADER_LENGTH, 1);
  const highWater = FRAMES_IN_FLIGHT * (contentPerFrame + HEADER_LENGTH);
  const chunkId = randomMessageId();
  let open = targets.filter((target) => !target.isClosed);
  // The frame being filled: its offset in the message, and how much of its content is filled.
  let offset = 0;
  let frame = newFrame(chunkId, 0, total, contentPerFrame);
  let filled = 0;
  const flush = async () => {
    for (const target of open) {
      while (!target.isClosed && target.bufferedAmount + frame.byteLength > highWater) {
        await delay(ROOM_POLL_MS);
      }
    }
    open = open.filter((target) => !target.isClosed);
    for (const target of open) target.sendFrames([frame]);
    offset += filled;
    filled = 0;
    if (offset < total) frame = newFrame(chunkId, offset, total, contentPerFrame);
  };
  // Copies `bytes` into frames, sending each one as it fills.
  const write = async (bytes: Uint8Array) => {
    let taken = 0;
    while (taken < bytes.byteLength && open.length > 0) {
      if (offset + filled === total) {
        throw new StreamSourceError(`the stream yields more than its size of ${size}`);
      }
      const part = Math.min(frame.byteLength - HEADER_LENGTH - filled, bytes.byteLength - taken);
      frame.set(bytes.subarray(taken, taken + part), HEADER_LENGTH + filled);
      filled += part;
      taken += part;
      if (filled === frame.byteLength - HEADER_LENGTH) await flush();
    }
  };
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = source.open().getReader();
  } catch (error) {
    throw new StreamSourceError(`cannot read the bytes to send: ${describe(error)}`, {
      cause: error,
    });
  }
  try {
    await write(prefix);
    while (offset < total && open.length > 0) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new StreamSourceError(`reading the bytes to send failed: ${describe(error)}`, {
          cause: error,
        });
      }
      if (chunk.done) {
        const sent = offset + filled - prefix.byteLength;
        throw new StreamSourceError(`the stream ended after ${sent} of ${size} bytes`);
      }
      if (!(chunk.value instanceof Uint8Array)) {
        throw new StreamSourceError("a stream to send must yield Uint8Array chunks");
      }
      await write(chunk.value);
    }
  } finally {
    // Closes the file (or whatever the source holds) when the stream stopped early.
    reader.cancel().catch(() => {});
  }
}

function newFrame(chunkId: number, offset: number, total: number, content: number): Uint8Array {
  const frame = new Uint8Array(HEADER_LENGTH + Math.min(content, total - offset));
  encodeHeader(chunkId, offset, total, frame);
  return frame;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface FileGlobals {
  Bun?: { file(path: string | URL): Blob };
  Deno?: {
    open(path: string | URL): Promise<{ readonly readable: ReadableStream<Uint8Array> }>;
  };
}

/**
 * A file to return from a trigger or method, or to publish, so that it is streamed from disk as
 * it is sent: `Bun.file()` on Bun, `fs.openAsBlob()` on Node, and on Deno (which has no file
 * Blob) `{ size, stream }` over the opened file. Rejects as the file system does (`ENOENT`, …).
 *
 * @example
 * ```ts
 * import { openFile, serve } from "@trame-wire/client/server";
 *
 * await using server = await serve({ port: 0 });
 * server.trigger("download", () => openFile("./mesh.vtp"));
 * ```
 */
export async function openFile(path: string | URL): Promise<StreamedBytes> {
  const { stat, openAsBlob } = await import("node:fs").then((fs) => ({
    stat: fs.promises.stat,
    openAsBlob: fs.openAsBlob,
  }));
  const { size, isFile } = await stat(path).then((stats) => ({
    size: stats.size,
    isFile: stats.isFile(),
  }));
  if (!isFile) throw new TypeError(`not a file: ${String(path)}`);
  const runtime = currentRuntime();
  const globals = globalThis as FileGlobals;
  if (runtime === "bun") return globals.Bun!.file(path);
  if (runtime === "deno") return { size, stream: (await globals.Deno!.open(path)).readable };
  return await openAsBlob(path);
}
