// msgpack as wslink uses it: binaries of every kind travel as `bin`, decoded `bin` values are
// views (`subarray`) of the message buffer they came from, and integers are packed as integers
// up to 64 bits, as the reference Python server packs them. Every message decoded is first
// pre-scanned (msgpack_check.ts), so no length it declares is allocated before it is known to fit.
import { Decoder, Encoder } from "@msgpack/msgpack";
import { MAX_MESSAGE_DEPTH } from "./defaults.ts";
import { checkMsgpackLengths, MSGPACK_MAX_DEPTH } from "./msgpack_check.ts";

/** Options shared by everything that encodes or decodes wslink messages. */
export type MessageCodecOptions = Readonly<
  Partial<{
    /**
     * Decode 64-bit integers (msgpack int64/uint64) as `bigint`, so values above 2^53 stay
     * exact. Off by default: they decode as `number`. Encoding is the same either way: a
     * `bigint` packs as int64/uint64.
     */
    useBigInt64: boolean;
    /**
     * The deepest value a decoded message may hold, the message itself at depth 1. Default
     * {@link MAX_MESSAGE_DEPTH} (512).
     */
    maxDepth: number;
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
  /**
   * Decodes one whole message. `bin` values come back as views of `bytes`. Throws a
   * `MsgpackCheckError` when a length or the depth is impossible (before allocating anything),
   * else what the decoder throws.
   */
  decode(bytes: Uint8Array): unknown;
  /** Throws the `MsgpackCheckError` that {@link MessageCodec.decode} would for `bytes`, if any. */
  check(bytes: Uint8Array): void;
  /**
   * Decodes a value without the check: only for bytes inside a message that passed
   * {@link MessageCodec.check} whole and that hold exactly one value.
   */
  decodeChecked(bytes: Uint8Array): unknown;
}

/** Creates a {@link MessageCodec}. */
export function createMessageCodec(options: MessageCodecOptions = {}): MessageCodec {
  const useBigInt64 = options.useBigInt64 ?? false;
  const maxDepth = options.maxDepth ?? MAX_MESSAGE_DEPTH;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) {
    throw new RangeError(`maxDepth must be a positive integer, got ${maxDepth}`);
  }
  const encoderOptions = { ignoreUndefined: false, maxDepth: MSGPACK_MAX_DEPTH };
  const encoder = new Encoder({ ...encoderOptions, useBigInt64: false });
  // The encoder packs `bigint` only with useBigInt64, but then packs every `number` beyond 32
  // bits as a float: a message holding a bigint is packed by this one, its numbers widened.
  let bigIntEncoder: Encoder | undefined;
  const decoder = new Decoder({ useBigInt64 });
  const check = (bytes: Uint8Array) => checkMsgpackLengths(bytes, maxDepth);
  const decodeChecked = (bytes: Uint8Array) => {
    try {
      return decoder.decode(bytes);
    } finally {
      // The decoder keeps the last bytes it read until the next message: a large one would
      // stay alive (its buffer whole) while the next one is received. One byte replaces it.
      if (bytes.byteLength >= LARGE_MESSAGE_BYTES) decoder.decode(MSGPACK_NIL);
    }
  };
  return {
    encode: (value) => {
      sawBigInt = false;
      const normalized = normalize(value, false);
      if (!sawBigInt) return encoder.encodeSharedRef(normalized);
      bigIntEncoder ??= new Encoder({ ...encoderOptions, useBigInt64: true });
      return bigIntEncoder.encodeSharedRef(normalize(normalized, true));
    },
    decode: (bytes) => {
      check(bytes);
      return decodeChecked(bytes);
    },
    check,
    decodeChecked,
  };
}

// Messages from this size on are let go of by the decoder as soon as they are decoded.
const LARGE_MESSAGE_BYTES = 64 * 1024;
const MSGPACK_NIL = new Uint8Array([0xc0]);

// Whether the last normalize() met a bigint (set during the walk: nothing else runs meanwhile).
let sawBigInt = false;

/**
 * Returns `value` ready for the encoder: every `ArrayBuffer` replaced by a `Uint8Array` over it,
 * so that it packs as msgpack `bin` (the encoder packs typed arrays and `DataView`s as `bin`
 * already, but would pack a bare `ArrayBuffer` as an empty map); with `widen`, every integer
 * beyond 32 bits as a `bigint`. Notes a bigint in `sawBigInt`, after checking it fits in 64 bits.
 * Containers are copied only where something changed.
 */
function normalize(value: unknown, widen: boolean): unknown {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "bigint") {
      sawBigInt = true;
      return int64(value);
    }
    return widen && typeof value === "number" ? widenInteger(value) : value;
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item = value[index];
      const normalized = normalize(item, widen);
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
    const normalized = normalize(item, widen);
    if (normalized !== item) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = normalized;
    }
  }
  return copy ?? value;
}

// An integer beyond 32 bits as a `bigint`, which the encoder packs as int64/uint64 as it would
// pack the number without useBigInt64.
function widenInteger(value: number): number | bigint {
  return (value > 0xffff_ffff || value < -0x8000_0000) && Number.isSafeInteger(value)
    ? BigInt(value)
    : value;
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

// A `bigint` the encoder can pack (as uint64 when not negative, else int64). DataView would wrap
// anything wider silently, so that is refused here, as msgpack-python refuses it.
function int64(value: bigint): bigint {
  if (value < INT64_MIN || value > UINT64_MAX) {
    throw new RangeError(`${value} does not fit in a 64-bit msgpack integer`);
  }
  return value;
}

/**
 * The bytes `value` takes once packed (exact for what a decoder produces, within a few bytes for
 * dates and extension values). Walks `value` as the encoder would and throws a
 * {@link NestingTooDeepError} as soon as it nests deeper than `maxDepth` levels, `value` itself
 * being level 1, so a deep or cyclic value costs at most `maxDepth` levels of recursion.
 */
export function packedSize(value: unknown, maxDepth: number): number {
  return sizeAt(value, 1, maxDepth);
}

/** A value nests deeper than a limit allows. */
export class NestingTooDeepError extends RangeError {
  /** The limit, in levels. */
  readonly maxDepth: number;

  /** Makes the error for the limit `maxDepth`. */
  constructor(maxDepth: number) {
    super(`nested deeper than ${maxDepth} levels`);
    this.name = "NestingTooDeepError";
    this.maxDepth = maxDepth;
  }
}

function sizeAt(value: unknown, depth: number, maxDepth: number): number {
  if (depth > maxDepth) throw new NestingTooDeepError(maxDepth);
  switch (typeof value) {
    case "number":
      return numberSize(value);
    case "bigint":
      return 9;
    case "string":
      return stringSize(value);
    case "object":
      break;
    default: // undefined (nil), booleans; what cannot be packed at all counts 1 too
      return 1;
  }
  if (value === null) return 1;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return lengthHeaderSize(value.byteLength) + value.byteLength;
  }
  if (value instanceof Date) return 15; // a timestamp extension, 6 to 15 bytes
  if (Array.isArray(value)) {
    let size = containerHeaderSize(value.length);
    for (const item of value) size += sizeAt(item, depth + 1, maxDepth);
    return size;
  }
  const keys = Object.keys(value);
  let size = containerHeaderSize(keys.length);
  for (const key of keys) {
    size += stringSize(key) + sizeAt((value as Record<string, unknown>)[key], depth + 1, maxDepth);
  }
  return size;
}

function numberSize(value: number): number {
  if (!Number.isSafeInteger(value)) return 9;
  if (value >= 0) {
    return value < 0x80
      ? 1
      : value < 0x100
      ? 2
      : value < 0x1_0000
      ? 3
      : value <= 0xffff_ffff
      ? 5
      : 9;
  }
  return value >= -0x20
    ? 1
    : value >= -0x80
    ? 2
    : value >= -0x8000
    ? 3
    : value >= -0x8000_0000
    ? 5
    : 9;
}

// str: a fixstr header below 32 bytes, else str8/16/32.
function stringSize(text: string): number {
  const length = utf8Length(text);
  return (length < 32 ? 1 : lengthHeaderSize(length)) + length;
}

// The 8-, 16- or 32-bit length header of str and bin (type byte included).
function lengthHeaderSize(length: number): number {
  return length < 0x100 ? 2 : length < 0x1_0000 ? 3 : 5;
}

// fixarray/fixmap below 16 entries, else array16/map16 or array32/map32.
function containerHeaderSize(count: number): number {
  return count < 16 ? 1 : count < 0x1_0000 ? 3 : 5;
}

// UTF-8 bytes of `text`, as the encoder counts them (a lone surrogate takes 3).
function utf8Length(text: string): number {
  let length = text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    if (code < 0x800) length += 1;
    else if (code >= 0xd800 && code <= 0xdbff && (text.charCodeAt(index + 1) & 0xfc00) === 0xdc00) {
      length += 2; // a pair: two UTF-16 units, four bytes
      index++;
    } else length += 2;
  }
  return length;
}
