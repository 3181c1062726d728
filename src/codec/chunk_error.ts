/**
 * Why the un-chunker refused a frame.
 *
 * - `short-frame`: fewer than 12 bytes, so no header.
 * - `empty-chunk`: a chunk with no content, or a message declaring 0 bytes (no conforming
 *   sender makes either).
 * - `out-of-bounds`: the chunk's content runs past the message's declared total.
 * - `total-mismatch`: the declared total differs from the one an earlier chunk declared.
 * - `overlap`: the chunk repeats or overlaps bytes already received for that message.
 * - `message-too-large`: the declared total exceeds `maxMessageSize`.
 * - `too-many-messages`: starting the message would exceed `maxPendingMessages`.
 * - `pending-bytes`: keeping the message would exceed `maxPendingBytes`.
 * - `dropped`: a further chunk of a message that was already refused and dropped.
 */
export type ChunkErrorReason =
  | "short-frame"
  | "empty-chunk"
  | "out-of-bounds"
  | "total-mismatch"
  | "overlap"
  | "message-too-large"
  | "too-many-messages"
  | "pending-bytes"
  | "dropped";

/** Every reason, in the order of their numeric codes in the WebAssembly engine (1-based). */
export const CHUNK_ERROR_REASONS: readonly ChunkErrorReason[] = [
  "short-frame",
  "empty-chunk",
  "out-of-bounds",
  "total-mismatch",
  "overlap",
  "message-too-large",
  "too-many-messages",
  "pending-bytes",
  "dropped",
];

/**
 * A frame the un-chunker refused. Only the message it belongs to is dropped; the un-chunker
 * stays usable for the next frame.
 */
export class ChunkError extends Error {
  /** Machine-readable cause. */
  readonly reason: ChunkErrorReason;
  /** The message id from the frame header, or `undefined` when the frame had no header. */
  readonly messageId: number | undefined;

  /** Makes the error for a frame of `messageId` refused for `reason`, explained by `detail`. */
  constructor(reason: ChunkErrorReason, messageId: number | undefined, detail: string) {
    super(
      messageId === undefined
        ? `chunk refused (${reason}): ${detail}`
        : `chunk of message ${messageId} refused (${reason}): ${detail}`,
    );
    this.name = "ChunkError";
    this.reason = reason;
    this.messageId = messageId;
  }
}
