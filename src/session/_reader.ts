// The receiving side of a session, up to the decoded message: frames in, through the un-chunker
// and the msgpack decoder (its fast path for replies), messages out. Frames it drops it reports;
// a message that does not decode goes back to the session with its id, where it can be read.
import { ChunkError } from "../codec/chunk_error.ts";
import { readUint32LE } from "../codec/header.ts";
import type { UnChunker } from "../codec/unchunker.ts";
import { typeName } from "../protocol/envelope.ts";
import { binaryFrame, releaseCopiedFrame } from "../protocol/frames.ts";
import { createMessageCodec } from "../protocol/msgpack.ts";
import { envelopeIdOf } from "../protocol/msgpack_check.ts";
import { createReplyDecoder } from "../protocol/_reply_decoder.ts";
import { clientError } from "./errors.ts";
import type { SessionErrorKind } from "./events.ts";

/** Hears of a frame or message that was dropped, and why. */
export type DropReporter = (kind: SessionErrorKind, error: unknown) => void;

/** Hears what the un-chunker did with each frame of a message in several frames. */
export type BufferedTracker = (
  chunkId: number,
  outcome: "incomplete" | "complete" | "refused",
) => void;

/** What {@link MessageReader.decode} made of a whole message. */
export type DecodedMessage =
  | { readonly message: unknown }
  | {
    /** Why the message does not decode, in words. */
    readonly problem: string;
    /** `{ cause }` (the decoder's error), and `id` when there is one. */
    readonly detail: Readonly<Record<string, unknown>>;
    /** The message's top-level `id`, when it could be read all the same. */
    readonly id: string | undefined;
  };

/** Turns received frames into decoded messages. */
export class MessageReader {
  readonly #unchunker: UnChunker;
  readonly #decode: (bytes: Uint8Array) => unknown;
  readonly #report: DropReporter;
  readonly #track: BufferedTracker;

  constructor(
    unchunker: UnChunker,
    codecOptions: { readonly useBigInt64: boolean; readonly maxDepth: number },
    report: DropReporter,
    track: BufferedTracker,
  ) {
    this.#unchunker = unchunker;
    this.#decode = createReplyDecoder(createMessageCodec(codecOptions));
    this.#report = report;
    this.#track = track;
  }

  /** What the un-chunker holds: bytes against its budget, and incomplete messages. */
  get pending(): { readonly bytes: number; readonly messages: number } {
    return { bytes: this.#unchunker.pendingBytes, messages: this.#unchunker.pendingMessages };
  }

  /** The bytes of one received frame; `undefined` (reported) when it is not a binary frame. */
  frameOf(data: unknown): Uint8Array | undefined {
    const frame = binaryFrame(data);
    if (frame === undefined) {
      const [kind, problem] = typeof data === "string"
        ? ["text-frame" as const, "a text frame was dropped: wslink frames are binary"]
        : [
          "frame-refused" as const,
          `a frame of an unexpected type was dropped: ${typeName(data)}`,
        ];
      this.#report(kind, clientError("protocol", problem));
    }
    return frame;
  }

  /**
   * Takes one frame (`data` is what the socket delivered, freed early when it was copied);
   * returns the message it completes, if any.
   */
  readFrame(frame: Uint8Array, data: unknown): Uint8Array | undefined {
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.#unchunker.push(frame);
    } catch (error) {
      if (error instanceof ChunkError && error.messageId !== undefined) {
        this.#track(error.messageId, "refused");
      }
      this.#report("frame-refused", error);
      return undefined;
    }
    // A message in several frames: its chunk id is tracked until it completes.
    if (bytes === undefined) this.#track(readUint32LE(frame, 0), "incomplete");
    else if (bytes.buffer !== frame.buffer) this.#track(readUint32LE(frame, 0), "complete");
    releaseCopiedFrame(data, bytes);
    return bytes;
  }

  /** Decodes a whole message; a message that is not msgpack, or not a sound one, is a failure. */
  decode(bytes: Uint8Array): DecodedMessage {
    try {
      return { message: this.#decode(bytes) };
    } catch (cause) {
      const id = envelopeIdOf(bytes);
      const reason = cause instanceof Error ? cause.message : String(cause);
      return {
        problem: `a message of ${bytes.byteLength} bytes cannot be decoded: ${reason}`,
        detail: id === undefined ? { cause } : { cause, id },
        id,
      };
    }
  }

  /** Frees the un-chunker's memory; no frame is read after this. */
  release(): void {
    this.#unchunker.release();
  }
}
