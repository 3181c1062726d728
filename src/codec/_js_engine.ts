// The TypeScript engine: the reference behaviour that the WebAssembly engine mirrors exactly.
import type { ChunkErrorReason } from "./chunk_error.ts";
import { HEADER_LENGTH, readUint32LE } from "./header.ts";
import {
  chunkRefusal,
  DROPPED_ID_MEMORY,
  frameBytes,
  freeBuffer,
  notifyProgress,
  type ProgressCallback,
  RANGE_COST_BYTES,
  type RefusalFacts,
  type UnChunker,
  type UnChunkerLimits,
} from "./_engine.ts";
import { ReceivedRanges } from "./_received_ranges.ts";

// What a refusal says besides the header's fields, which push() fills in.
type RefusalExtras = Omit<RefusalFacts, "frameLength" | "offset" | "totalSize" | "limits">;

interface PendingMessage {
  readonly totalSize: number;
  readonly buffer: Uint8Array;
  receivedBytes: number;
  readonly ranges: ReceivedRanges;
}

class JsUnChunker implements UnChunker {
  readonly engine = "js" as const;
  readonly limits: UnChunkerLimits;
  #onProgress: ProgressCallback | undefined;
  #pending = new Map<number, PendingMessage>();
  #pendingBytes = 0;
  #droppedIds = new Uint32Array(DROPPED_ID_MEMORY);
  #droppedCount = 0;
  // The header of the frame being pushed, for the words of a refusal.
  #frameHeader = { frameLength: 0, offset: 0, totalSize: 0 };

  constructor(limits: UnChunkerLimits, onProgress: ProgressCallback | undefined) {
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
      throw chunkRefusal("short-frame", undefined, {
        frameLength,
        offset: 0,
        totalSize: 0,
        limits: this.limits,
      });
    }
    const id = readUint32LE(bytes, 0);
    const offset = readUint32LE(bytes, 4);
    const totalSize = readUint32LE(bytes, 8);
    const contentLength = frameLength - HEADER_LENGTH;
    const frameHeader = this.#frameHeader;
    frameHeader.frameLength = frameLength;
    frameHeader.offset = offset;
    frameHeader.totalSize = totalSize;

    if (this.#droppedCount > 0 && this.#wasDropped(id)) {
      throw chunkRefusal("dropped", id, { ...frameHeader, limits: this.limits });
    }
    const pending = this.#pending.get(id);
    if (contentLength === 0 || totalSize === 0) this.#refuse(id, "empty-chunk");
    if (offset + contentLength > totalSize) this.#refuse(id, "out-of-bounds");

    if (pending === undefined) {
      if (totalSize > this.limits.maxMessageSize) this.#refuse(id, "message-too-large");
      // The whole message in one frame: hand out a view of it, no copy.
      if (contentLength === totalSize) return bytes.subarray(HEADER_LENGTH);
      if (this.#pending.size + 1 > this.limits.maxPendingMessages) {
        this.#refuse(id, "too-many-messages", { pendingMessages: this.#pending.size });
      }
      const cost = totalSize + RANGE_COST_BYTES;
      if (this.#pendingBytes + cost > this.limits.maxPendingBytes) {
        this.#refuse(id, "pending-bytes", { pendingBytes: this.#pendingBytes });
      }
      const buffer = new Uint8Array(totalSize);
      buffer.set(bytes.subarray(HEADER_LENGTH), offset);
      this.#pending.set(id, {
        totalSize,
        buffer,
        receivedBytes: contentLength,
        ranges: new ReceivedRanges(offset, offset + contentLength),
      });
      this.#pendingBytes += cost;
      notifyProgress(this.#onProgress, id, contentLength, totalSize);
      return undefined;
    }

    if (totalSize !== pending.totalSize) {
      this.#refuse(id, "total-mismatch", { earlierTotal: pending.totalSize });
    }
    this.#addRange(id, pending.ranges, offset, offset + contentLength);
    pending.buffer.set(bytes.subarray(HEADER_LENGTH), offset);
    pending.receivedBytes += contentLength;
    notifyProgress(this.#onProgress, id, pending.receivedBytes, totalSize);
    if (pending.receivedBytes !== totalSize) return undefined;
    this.#forget(id, pending);
    return pending.buffer;
  }

  release(): void {
    for (const pending of this.#pending.values()) freeBuffer(pending.buffer);
    this.#pending.clear();
    this.#pendingBytes = 0;
  }

  // Records [start, end) as received, or refuses the chunk when it overlaps what is there or a
  // further range does not fit in maxPendingBytes.
  #addRange(id: number, ranges: ReceivedRanges, start: number, end: number): void {
    const mayAddRange = this.#pendingBytes + RANGE_COST_BYTES <= this.limits.maxPendingBytes;
    switch (ranges.add(start, end, mayAddRange)) {
      case "added":
        this.#pendingBytes += RANGE_COST_BYTES;
        break;
      case "merged":
        this.#pendingBytes -= RANGE_COST_BYTES;
        break;
      case "overlap":
        this.#refuse(id, "overlap", {
          receivedStart: ranges.overlapStart,
          receivedEnd: ranges.overlapEnd,
        });
        break;
      case "no-room":
        this.#refuse(id, "pending-bytes", { forRange: true });
        break;
    }
  }

  // Drops the message the refused chunk belongs to, remembers its id, and throws.
  #refuse(id: number, reason: ChunkErrorReason, extras: RefusalExtras = {}): never {
    const pending = this.#pending.get(id);
    if (pending !== undefined) {
      this.#forget(id, pending);
      freeBuffer(pending.buffer);
    }
    this.#droppedIds[this.#droppedCount % DROPPED_ID_MEMORY] = id;
    this.#droppedCount++;
    throw chunkRefusal(reason, id, { ...this.#frameHeader, limits: this.limits, ...extras });
  }

  #forget(id: number, pending: PendingMessage): void {
    this.#pending.delete(id);
    this.#pendingBytes -= pending.totalSize + RANGE_COST_BYTES * pending.ranges.count;
  }

  #wasDropped(id: number): boolean {
    const remembered = Math.min(this.#droppedCount, DROPPED_ID_MEMORY);
    for (let index = 0; index < remembered; index++) {
      if (this.#droppedIds[index] === id) return true;
    }
    return false;
  }
}

/** Creates the TypeScript engine. */
export function createJsUnChunker(
  limits: UnChunkerLimits,
  onProgress: ProgressCallback | undefined,
): UnChunker {
  return new JsUnChunker(limits, onProgress);
}
