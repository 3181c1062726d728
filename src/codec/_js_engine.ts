// The TypeScript engine: the reference behaviour that the WebAssembly engine mirrors exactly.
import { ChunkError, type ChunkErrorReason } from "./chunk_error.ts";
import { HEADER_LENGTH } from "./header.ts";
import {
  frameBytes,
  notifyProgress,
  RANGE_COST_BYTES,
  type UnChunker,
  type UnChunkerLimits,
  type UnChunkerOptions,
} from "./unchunker.ts";

/** How many refused message ids are remembered, so their later chunks allocate nothing. */
export const DROPPED_ID_MEMORY = 64;

interface PendingMessage {
  readonly totalSize: number;
  readonly buffer: Uint8Array;
  receivedBytes: number;
  // Disjoint, sorted, never adjacent ranges [starts[i], ends[i]) of bytes received so far.
  readonly starts: number[];
  readonly ends: number[];
}

class JsUnChunker implements UnChunker {
  readonly engine = "js" as const;
  readonly limits: UnChunkerLimits;
  #onProgress: UnChunkerOptions["onProgress"];
  #pending = new Map<number, PendingMessage>();
  #pendingBytes = 0;
  #droppedIds = new Uint32Array(DROPPED_ID_MEMORY);
  #droppedCount = 0;

  constructor(limits: UnChunkerLimits, onProgress: UnChunkerOptions["onProgress"]) {
    this.limits = limits;
    this.#onProgress = onProgress;
  }

  get pendingMessages(): number {
    return this.#pending.size;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  push(frame: Uint8Array | ArrayBuffer): Uint8Array | undefined {
    const bytes = frameBytes(frame);
    const frameLength = bytes.byteLength;
    if (frameLength < HEADER_LENGTH) {
      throw new ChunkError(
        "short-frame",
        undefined,
        `a frame needs at least ${HEADER_LENGTH} bytes, got ${frameLength}`,
      );
    }
    const id = readUint32(bytes, 0);
    const offset = readUint32(bytes, 4);
    const totalSize = readUint32(bytes, 8);
    const contentLength = frameLength - HEADER_LENGTH;

    if (this.#droppedCount > 0 && this.#wasDropped(id)) {
      throw new ChunkError("dropped", id, "an earlier chunk of this message was refused");
    }
    const pending = this.#pending.get(id);
    if (contentLength === 0 || totalSize === 0) {
      this.#refuse("empty-chunk", id, `content ${contentLength} bytes, total ${totalSize} bytes`);
    }
    if (offset + contentLength > totalSize) {
      this.#refuse(
        "out-of-bounds",
        id,
        `bytes ${offset}..${offset + contentLength} past the total of ${totalSize}`,
      );
    }

    if (pending === undefined) {
      if (totalSize > this.limits.maxMessageSize) {
        this.#refuse(
          "message-too-large",
          id,
          `declares ${totalSize} bytes, the limit is ${this.limits.maxMessageSize}`,
        );
      }
      // The whole message in one frame: hand out a view of it, no copy.
      if (contentLength === totalSize) return bytes.subarray(HEADER_LENGTH);
      if (this.#pending.size + 1 > this.limits.maxPendingMessages) {
        this.#refuse(
          "too-many-messages",
          id,
          `${this.#pending.size} messages are already incomplete`,
        );
      }
      const cost = totalSize + RANGE_COST_BYTES;
      if (this.#pendingBytes + cost > this.limits.maxPendingBytes) {
        this.#refuse(
          "pending-bytes",
          id,
          `needs ${cost} bytes, ${this.#pendingBytes} of ${this.limits.maxPendingBytes} in use`,
        );
      }
      const buffer = new Uint8Array(totalSize);
      buffer.set(bytes.subarray(HEADER_LENGTH), offset);
      this.#pending.set(id, {
        totalSize,
        buffer,
        receivedBytes: contentLength,
        starts: [offset],
        ends: [offset + contentLength],
      });
      this.#pendingBytes += cost;
      notifyProgress(this.#onProgress, id, contentLength, totalSize);
      return undefined;
    }

    if (totalSize !== pending.totalSize) {
      this.#refuse(
        "total-mismatch",
        id,
        `declares ${totalSize} bytes, an earlier chunk declared ${pending.totalSize}`,
      );
    }
    this.#addRange(id, pending, offset, offset + contentLength);
    pending.buffer.set(bytes.subarray(HEADER_LENGTH), offset);
    pending.receivedBytes += contentLength;
    notifyProgress(this.#onProgress, id, pending.receivedBytes, totalSize);
    if (pending.receivedBytes !== totalSize) return undefined;
    this.#forget(id, pending);
    return pending.buffer;
  }

  release(): void {
    this.#pending.clear();
    this.#pendingBytes = 0;
  }

  // Records [start, end) as received, or refuses the chunk when it overlaps what is there.
  #addRange(id: number, pending: PendingMessage, start: number, end: number): void {
    const { starts, ends } = pending;
    // Fast path: chunks in order extend the last range.
    const last = ends.length - 1;
    if (ends[last] === start) {
      ends[last] = end;
      return;
    }
    // Index of the first range starting at or after `end`: the ranges before it may touch us.
    let low = 0;
    let high = starts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (starts[middle] < end) low = middle + 1;
      else high = middle;
    }
    const next = low;
    const previous = low - 1;
    if (previous >= 0 && ends[previous] > start) {
      this.#refuse(
        "overlap",
        id,
        `bytes ${start}..${end} overlap bytes ${starts[previous]}..${
          ends[previous]
        } already received`,
      );
    }
    const joinsPrevious = previous >= 0 && ends[previous] === start;
    const joinsNext = next < starts.length && starts[next] === end;
    if (joinsPrevious && joinsNext) {
      ends[previous] = ends[next];
      starts.splice(next, 1);
      ends.splice(next, 1);
      this.#pendingBytes -= RANGE_COST_BYTES;
    } else if (joinsPrevious) {
      ends[previous] = end;
    } else if (joinsNext) {
      starts[next] = start;
    } else {
      if (this.#pendingBytes + RANGE_COST_BYTES > this.limits.maxPendingBytes) {
        this.#refuse(
          "pending-bytes",
          id,
          `another disjoint range would exceed ${this.limits.maxPendingBytes} bytes`,
        );
      }
      starts.splice(next, 0, start);
      ends.splice(next, 0, end);
      this.#pendingBytes += RANGE_COST_BYTES;
    }
  }

  // Drops the message the refused chunk belongs to, remembers its id, and throws.
  #refuse(reason: ChunkErrorReason, id: number, detail: string): never {
    const pending = this.#pending.get(id);
    if (pending !== undefined) this.#forget(id, pending);
    this.#droppedIds[this.#droppedCount % DROPPED_ID_MEMORY] = id;
    this.#droppedCount++;
    throw new ChunkError(reason, id, detail);
  }

  #forget(id: number, pending: PendingMessage): void {
    this.#pending.delete(id);
    this.#pendingBytes -= pending.totalSize + RANGE_COST_BYTES * pending.starts.length;
  }

  #wasDropped(id: number): boolean {
    const remembered = Math.min(this.#droppedCount, DROPPED_ID_MEMORY);
    for (let index = 0; index < remembered; index++) {
      if (this.#droppedIds[index] === id) return true;
    }
    return false;
  }
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/** Creates the TypeScript engine. */
export function createJsUnChunker(
  limits: UnChunkerLimits,
  onProgress: UnChunkerOptions["onProgress"],
): UnChunker {
  return new JsUnChunker(limits, onProgress);
}
