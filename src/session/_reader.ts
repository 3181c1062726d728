// The receiving side of a session, up to the decoded message: frames in, through the un-chunker
// and the msgpack decoder (its fast path for replies), messages out. What it drops it reports.
import type { UnChunker } from "../codec/unchunker.ts";
import { typeName } from "../protocol/envelope.ts";
import { binaryFrame, releaseCopiedFrame } from "../protocol/frames.ts";
import { createMessageCodec } from "../protocol/msgpack.ts";
import { createReplyDecoder } from "../protocol/_reply_decoder.ts";
import { clientError } from "./errors.ts";
import type { SessionErrorKind } from "./events.ts";

/** Hears of a frame or message that was dropped, and why. */
export type DropReporter = (kind: SessionErrorKind, error: unknown) => void;

/** Turns received frames into decoded messages. */
export class MessageReader {
  readonly #unchunker: UnChunker;
  readonly #decode: (bytes: Uint8Array) => unknown;
  readonly #report: DropReporter;

  constructor(unchunker: UnChunker, useBigInt64: boolean, report: DropReporter) {
    this.#unchunker = unchunker;
    this.#decode = createReplyDecoder(createMessageCodec({ useBigInt64 }));
    this.#report = report;
  }

  /** Takes one received frame; returns the message it completes, if any. */
  readFrame(data: unknown): Uint8Array | undefined {
    const frame = binaryFrame(data);
    if (frame === undefined) {
      const [kind, problem] = typeof data === "string"
        ? ["text-frame" as const, "a text frame was dropped: wslink frames are binary"]
        : [
          "frame-refused" as const,
          `a frame of an unexpected type was dropped: ${typeName(data)}`,
        ];
      this.#report(kind, clientError("protocol", problem));
      return undefined;
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.#unchunker.push(frame);
    } catch (error) {
      this.#report("frame-refused", error);
      return undefined;
    }
    releaseCopiedFrame(data, bytes);
    return bytes;
  }

  /** Decodes a whole message; `{ message }`, or `undefined` when it is not msgpack (reported). */
  decode(bytes: Uint8Array): { readonly message: unknown } | undefined {
    try {
      return { message: this.#decode(bytes) };
    } catch (error) {
      this.#report("undecodable", error);
      return undefined;
    }
  }

  /** Frees the un-chunker's memory; no frame is read after this. */
  release(): void {
    this.#unchunker.release();
  }
}
