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
    /**
     * Largest encoder buffer kept from one message to the next; a larger one is dropped after
     * its message. Default 1 MiB. Keeping a large one spares each large message the first touch
     * of a fresh buffer (page faults cost more than the copy itself) at the price of its memory.
     */
    retainedEncoderBytes: number;
  }>
>;

/** Encodes and decodes wslink envelopes. One instance per connection; not re-entrant. */
export interface MessageCodec {
  /**
   * Encodes `value`. The result is a view of a buffer that the next `encode` call overwrites:
   * consume it (chunk it, copy it) before encoding again.
   */
  encode(value: unknown): Uint8Array;
  /** Decodes one whole message. `bin` values come back as views of `bytes`. */
  decode(bytes: Uint8Array): unknown;
}

// Encoder buffers up to this size are reused from message to message; larger ones are dropped.
const RETAINED_ENCODER_BYTES = 1024 * 1024;

/** Creates a {@link MessageCodec}. */
export function createMessageCodec(options: MessageCodecOptions = {}): MessageCodec {
  const useBigInt64 = options.useBigInt64 ?? false;
  const retainedEncoderBytes = options.retainedEncoderBytes ?? RETAINED_ENCODER_BYTES;
  const newEncoder = () => new Encoder({ useBigInt64, ignoreUndefined: false });
  let encoder = newEncoder();
  let lastEncodedSize = 0;
  const decoder = new Decoder({ useBigInt64 });
  return {
    encode: (value) => {
      // The encoder keeps its largest buffer: after a large message, let that buffer go.
      if (lastEncodedSize > retainedEncoderBytes) encoder = newEncoder();
      const encoded = encoder.encodeSharedRef(normalizeBinaries(value));
      lastEncodedSize = encoded.byteLength;
      return encoded;
    },
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
