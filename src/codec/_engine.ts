// What both un-chunker engines share: the interface they implement, the limits they enforce, the
// bookkeeping constants, and the one place a refusal is put into words. The engines import this
// module and unchunker.ts imports the engines, never the other way round.
import { ChunkError, type ChunkErrorReason } from "./chunk_error.ts";
import { HEADER_LENGTH } from "./header.ts";

/** Which implementation reassembles chunks. */
export type UnChunkerEngine = "wasm" | "js";

/** The limits an un-chunker enforces, after defaults are applied. */
export interface UnChunkerLimits {
  /** Largest total size a message may declare, in bytes. */
  readonly maxMessageSize: number;
  /** Bytes all incomplete messages may hold together. */
  readonly maxPendingBytes: number;
  /** Incomplete messages held at once. */
  readonly maxPendingMessages: number;
}

/** Called after each accepted chunk of a message that spans several frames. */
export type ProgressCallback = (
  messageId: number,
  receivedBytes: number,
  totalBytes: number,
) => void;

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

/** Bookkeeping charged to `maxPendingBytes` for each disjoint range of received bytes. */
export const RANGE_COST_BYTES = 16;

/** How many refused message ids are remembered, so their later chunks allocate nothing. */
export const DROPPED_ID_MEMORY = 64;

/** A `Uint8Array` over any frame, without copying. */
export function frameBytes(frame: Uint8Array | ArrayBuffer): Uint8Array {
  if (frame instanceof Uint8Array) return frame;
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame);
  throw new TypeError("a frame must be a Uint8Array or an ArrayBuffer");
}

/**
 * Frees the memory of an incomplete message's buffer now rather than at the next garbage
 * collection (detaching it, where `ArrayBuffer.prototype.transfer` exists): an un-chunker that is
 * released or drops a message holds the only reference, and a server that is idle afterwards
 * might not collect garbage for a long time.
 */
export function freeBuffer(buffer: Uint8Array): void {
  (buffer.buffer as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
}

/** Runs a progress callback so that a throwing callback cannot corrupt the un-chunker. */
export function notifyProgress(
  onProgress: ProgressCallback | undefined,
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

/** What a refusal's message says besides the frame's header; each reason reads its own fields. */
export interface RefusalFacts {
  /** The frame's length, header included. */
  readonly frameLength: number;
  /** The chunk's offset and the message's declared total, from the header. */
  readonly offset: number;
  readonly totalSize: number;
  readonly limits: UnChunkerLimits;
  /** `too-many-messages`: incomplete messages held. */
  readonly pendingMessages?: number;
  /** `pending-bytes` of a new message: bytes in use. */
  readonly pendingBytes?: number;
  /** `pending-bytes`: true when a started message's further range is what does not fit. */
  readonly forRange?: boolean;
  /** `total-mismatch`: the total an earlier chunk declared. */
  readonly earlierTotal?: number;
  /** `overlap`: the range already received that the chunk runs into. */
  readonly receivedStart?: number;
  readonly receivedEnd?: number;
}

/** The error for a refused frame, worded the same whichever engine refused it. */
export function chunkRefusal(
  reason: ChunkErrorReason,
  messageId: number | undefined,
  facts: RefusalFacts,
): ChunkError {
  const { offset, totalSize, limits } = facts;
  const contentLength = facts.frameLength - HEADER_LENGTH;
  const bytes = `bytes ${offset}..${offset + contentLength}`;
  let detail: string;
  switch (reason) {
    case "short-frame":
      return new ChunkError(
        reason,
        undefined,
        `a frame needs at least ${HEADER_LENGTH} bytes, got ${facts.frameLength}`,
      );
    case "dropped":
      detail = "an earlier chunk of this message was refused";
      break;
    case "empty-chunk":
      detail = `content ${contentLength} bytes, total ${totalSize} bytes`;
      break;
    case "out-of-bounds":
      detail = `${bytes} past the total of ${totalSize}`;
      break;
    case "message-too-large":
      detail = `declares ${totalSize} bytes, the limit is ${limits.maxMessageSize}`;
      break;
    case "too-many-messages":
      detail = `${facts.pendingMessages} messages are already incomplete`;
      break;
    case "pending-bytes":
      detail = facts.forRange
        ? `another disjoint range would exceed ${limits.maxPendingBytes} bytes`
        : `needs ${
          totalSize + RANGE_COST_BYTES
        } bytes, ${facts.pendingBytes} of ${limits.maxPendingBytes} in use`;
      break;
    case "total-mismatch":
      detail = `declares ${totalSize} bytes, an earlier chunk declared ${facts.earlierTotal}`;
      break;
    case "overlap":
      detail =
        `${bytes} overlap bytes ${facts.receivedStart}..${facts.receivedEnd} already received`;
      break;
  }
  return new ChunkError(reason, messageId, detail);
}
