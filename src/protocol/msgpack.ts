// msgpack as wslink uses it: binaries of every kind travel as `bin`, and decoded `bin` values
// are views (`subarray`) of the message buffer they came from.
import { Decoder, Encoder } from "@msgpack/msgpack";

/** Options shared by everything that encodes or decodes wslink messages. */
export type MessageCodecOptions = Readonly<
  Partial<{
    /**
     * Decode 64-bit integers (msgpack int64/uint64) as `bigint`, so values above 2^53 stay
     * exact. Off by default: they decode as `number`.
     */
    useBigInt64: boolean;
  }>
>;

/**
 * Encodes and decodes wslink envelopes. Not re-entrant. The encoder keeps its largest buffer:
 * whoever sends uses a `FrameEncoder` (frames.ts), which decides how long a large one is kept.
 */
export interface MessageCodec {
  /**
   * Encodes `value`. The result is a view of a buffer that the next `encode` call overwrites:
   * consume it (chunk it, copy it) before encoding again.
   */
  encode(value: unknown): Uint8Array;
  /** Decodes one whole message. `bin` values come back as views of `bytes`. */
  decode(bytes: Uint8Array): unknown;
}

/** Creates a {@link MessageCodec}. */
export function createMessageCodec(options: MessageCodecOptions = {}): MessageCodec {
  const useBigInt64 = options.useBigInt64 ?? false;
  const encoder = new Encoder({ useBigInt64, ignoreUndefined: false });
  const decoder = new Decoder({ useBigInt64 });
  return {
    encode: (value) => encoder.encodeSharedRef(normalizeBinaries(value)),
    decode: (bytes) => decoder.decode(bytes),
  };
}

/**
 * Returns `value` with every `ArrayBuffer` replaced by a `Uint8Array` over it, so that it packs
 * as msgpack `bin` (the encoder packs typed arrays and `DataView`s as `bin` already, but would
 * pack a bare `ArrayBuffer` as an empty map). Containers are copied only where something changed.
 */
export function normalizeBinaries(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item = value[index];
      const normalized = normalizeBinaries(item);
      if (normalized !== item) {
        copy ??= value.slice();
        copy[index] = normalized;
      }
    }
    return copy ?? value;
  }
  if (value instanceof Map || value instanceof Date) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    const normalized = normalizeBinaries(item);
    if (normalized !== item) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = normalized;
    }
  }
  return copy ?? value;
}
