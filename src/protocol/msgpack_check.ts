// A pre-scan that makes "never allocates what a header claims" true for every length inside a
// msgpack message, not only the chunk header: @msgpack/msgpack's Decoder runs `new Array(n)` for
// an array header declaring n elements before reading any of them, so 20 nested `dd 02 00 00 00`
// headers in a 160-byte message exhaust the heap (issue 13, item 1).

/**
 * The deepest value accepted by default: 100, the depth @msgpack/msgpack's `Encoder` writes at
 * most by default (its `DEFAULT_MAX_DEPTH`; the root value is at depth 1), and so the deepest
 * message this project sends.
 */
export const MSGPACK_MAX_DEPTH = 100;

/**
 * Why {@link checkMsgpackLengths} refused a message.
 *
 * - `empty`: no bytes at all.
 * - `truncated`: the input ends inside a value, or before the elements arrays and maps declared.
 * - `declared-length`: an array's or map's element count, or a str's, bin's or ext's byte length,
 *   is more than the bytes left could hold (each element takes at least one byte, each map entry
 *   two, on top of the elements the enclosing arrays and maps still owe).
 * - `too-deep`: an array or map holds values deeper than the depth limit.
 * - `unknown-type`: the byte 0xc1, which msgpack never uses.
 * - `trailing-bytes`: bytes follow the end of the message's one value.
 */
export type MsgpackCheckReason =
  | "empty"
  | "truncated"
  | "declared-length"
  | "too-deep"
  | "unknown-type"
  | "trailing-bytes";

/** A message that {@link checkMsgpackLengths} refused, with where and why. */
export class MsgpackCheckError extends Error {
  /** Machine-readable cause. */
  readonly reason: MsgpackCheckReason;
  /** Offset of the value's type byte at fault (for `trailing-bytes`: of the first extra byte). */
  readonly offset: number;

  /** Makes the error for `reason` at `offset`, explained by `detail`. */
  constructor(reason: MsgpackCheckReason, offset: number, detail: string) {
    super(`malformed msgpack (${reason}) at byte ${offset}: ${detail}`);
    this.name = "MsgpackCheckError";
    this.reason = reason;
    this.offset = offset;
  }
}

// Elements still owed by each open array or map, innermost last. Reused from call to call (the
// check is synchronous and calls nothing that could re-enter it); grown for a larger maxDepth.
let owedPerLevel = new Float64Array(MSGPACK_MAX_DEPTH);

/**
 * Checks, without decoding and without allocating anything a header declares, that `bytes` is
 * exactly one msgpack value whose every declared length fits in the bytes it has.
 *
 * Contract: when this returns, `bytes` holds one complete msgpack value and nothing after it; no
 * value is nested deeper than `maxDepth` (the root is at depth 1); and every array, map, str, bin
 * and ext fits in the bytes after its header, with at least one byte for each element that
 * arrays and maps still owe at that point. So decoding it with @msgpack/msgpack allocates in
 * proportion to `bytes.byteLength`, never to a declared count. Every message @msgpack/msgpack's
 * `Encoder` writes (at its default depth limit) passes. It checks structure only: what the
 * decoder refuses for meaning (a map key that is not a string or number, `__proto__` as a key, a
 * malformed timestamp) passes here and still fails in the decoder.
 *
 * Cost: one pass over the headers; the contents of str, bin and ext are skipped, not read.
 *
 * @param bytes One whole message (after reassembly of its chunks).
 * @param maxDepth Deepest value accepted, from 1; default {@link MSGPACK_MAX_DEPTH}.
 * @throws {MsgpackCheckError} when the message is malformed, with the offset and the reason.
 * @throws {RangeError} when `maxDepth` is not a positive integer.
 *
 * @example
 * ```ts
 * import { checkMsgpackLengths } from "./msgpack_check.ts";
 * checkMsgpackLengths(new Uint8Array([0x92, 0x01, 0xa1, 0x78])); // [1, "x"]: passes
 * try {
 *   checkMsgpackLengths(new Uint8Array([0xdd, 0x02, 0x00, 0x00, 0x00, 0xc0]));
 * } catch (error) {
 *   // malformed msgpack (declared-length) at byte 0: an array 32 declares 33554432 elements
 *   // with 1 byte left
 *   console.log((error as Error).message);
 * }
 * ```
 */
export function checkMsgpackLengths(bytes: Uint8Array, maxDepth = MSGPACK_MAX_DEPTH): void {
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) {
    throw new RangeError(`maxDepth must be a positive integer, got ${maxDepth}`);
  }
  if (owedPerLevel.length < maxDepth) owedPerLevel = new Float64Array(maxDepth);
  const owedByLevel = owedPerLevel;
  const end = bytes.byteLength;
  if (end === 0) throw new MsgpackCheckError("empty", 0, "no bytes at all");
  let position = 0;
  // Open arrays and maps, and the elements they owe together. Each owed element needs at least
  // one byte, and every header is checked against that, so a value never starts past the end.
  let levels = 0;
  let owed = 0;
  while (true) {
    if (levels > 0) {
      owedByLevel[levels - 1]--;
      owed--;
    }
    const start = position;
    const type = bytes[start];
    // The value's header (type byte, length field, an ext's type), the content bytes after it,
    // and the elements (values) it holds.
    measureValue(bytes, start, end);
    const { header, content, elements } = measured;
    const left = end - start - header;
    if (content + elements + owed > left) throw shortfall(bytes, start, left, owed);
    position = start + header + content;
    if (elements > 0) {
      // This value is at depth levels + 1, its elements one deeper.
      if (levels + 2 > maxDepth) throw tooDeep(type, start, levels + 1, maxDepth);
      owedByLevel[levels++] = elements;
      owed += elements;
      continue;
    }
    // A value is complete: so is every array or map it was the last element of.
    while (levels > 0 && owedByLevel[levels - 1] === 0) levels--;
    if (levels === 0) break;
  }
  if (position !== end) {
    throw new MsgpackCheckError(
      "trailing-bytes",
      position,
      `found ${amount(end - position, BYTES)} after the end of the value`,
    );
  }
}

// What measureValue found: reused, so the walk allocates nothing per value.
const measured = { header: 1, content: 0, elements: 0 };

/**
 * Reads the header of the value at `start` into `measured`: the header's length (type byte,
 * length field, an ext's type), the content bytes after it, and the elements (values) it holds.
 */
function measureValue(bytes: Uint8Array, start: number, end: number): void {
  const type = bytes[start];
  let header = 1;
  let content = 0;
  let elements = 0;
  if (type < 0x80 || type >= 0xe0) {
    // a positive or negative fixint
  } else if (type < 0x90) {
    elements = 2 * (type - 0x80);
  } else if (type < 0xa0) {
    elements = type - 0x90;
  } else if (type < 0xc0) {
    content = type - 0xa0;
  } else {
    const layout = LAYOUTS[type - 0xc0];
    if (layout === 0) throw new MsgpackCheckError("unknown-type", start, "0xc1 is not used");
    header = (layout >>> 8) & 0xf;
    content = layout & 0xff;
    if (start + header > end) {
      throw new MsgpackCheckError("truncated", start, `the input ends inside ${name(type)}`);
    }
    const lengthField = layout >>> 12;
    if (lengthField !== 0) {
      const count = readLength(bytes, start + 1, lengthField);
      if (type >= 0xde) elements = 2 * count;
      else if (type >= 0xdc) elements = count;
      else content = count;
    }
  }
  measured.header = header;
  measured.content = content;
  measured.elements = elements;
}

function tooDeep(type: number, start: number, depth: number, maxDepth: number): MsgpackCheckError {
  return new MsgpackCheckError(
    "too-deep",
    start,
    `${name(type)} at depth ${depth} holds values deeper than the limit of ${maxDepth}`,
  );
}

/**
 * The id of a message that may not decode: the value of the first `id` key of the top-level map
 * when it is a str, read without decoding anything else and without allocating anything a header
 * declares. `undefined` when the message is not a map, or its bytes stop making sense (a value
 * runs past the end, 0xc1) before such a key, or that key's value is not a str. Lets either end
 * answer or settle the call a message belongs to when the message itself cannot be decoded.
 *
 * Cost: at most one step per byte, whatever the headers declare.
 */
export function envelopeIdOf(bytes: Uint8Array): string | undefined {
  const end = bytes.byteLength;
  if (end === 0) return undefined;
  const type = bytes[0];
  let entries: number;
  let position: number;
  if (type >= 0x80 && type < 0x90) [entries, position] = [type - 0x80, 1];
  else if (type === 0xde && end >= 3) [entries, position] = [readLength(bytes, 1, 2), 3];
  else if (type === 0xdf && end >= 5) [entries, position] = [readLength(bytes, 1, 4), 5];
  else return undefined;
  for (; entries > 0; entries--) {
    const keyStart = position;
    position = skipValue(bytes, position);
    if (position < 0) return undefined;
    if (!isIdKey(bytes, keyStart, position)) {
      position = skipValue(bytes, position);
      if (position < 0) return undefined;
      continue;
    }
    const valueEnd = skipValue(bytes, position);
    const header = valueEnd < 0 ? 0 : strHeaderLength(bytes[position]);
    if (header === 0) return undefined;
    return new TextDecoder().decode(bytes.subarray(position + header, valueEnd));
  }
  return undefined;
}

// Whether the key at bytes[start, end) is the str "id".
function isIdKey(bytes: Uint8Array, start: number, end: number): boolean {
  const at = start + strHeaderLength(bytes[start]);
  return at > start && end - at === 2 && bytes[at] === 0x69 && bytes[at + 1] === 0x64;
}

// The header length of a str (fixstr, str 8, 16, 32) starting with `type`; 0 for other types.
function strHeaderLength(type: number): number {
  if (type >= 0xa0 && type < 0xc0) return 1;
  if (type >= 0xd9 && type <= 0xdb) return (LAYOUTS[type - 0xc0] >>> 8) & 0xf;
  return 0;
}

// The end of the value that starts at `position`, or -1 when it runs past the end of `bytes` or
// holds 0xc1. Each step consumes at least one byte, so it ends within the bytes there are.
function skipValue(bytes: Uint8Array, position: number): number {
  const end = bytes.byteLength;
  let owed = 1;
  while (owed > 0) {
    if (position >= end) return -1;
    owed--;
    const type = bytes[position];
    let header = 1;
    let content = 0;
    if (type < 0x80 || type >= 0xe0) {
      // a positive or negative fixint
    } else if (type < 0x90) owed += 2 * (type - 0x80);
    else if (type < 0xa0) owed += type - 0x90;
    else if (type < 0xc0) content = type - 0xa0;
    else {
      const layout = LAYOUTS[type - 0xc0];
      if (layout === 0) return -1;
      header = (layout >>> 8) & 0xf;
      content = layout & 0xff;
      if (position + header > end) return -1;
      const lengthField = layout >>> 12;
      if (lengthField !== 0) {
        const count = readLength(bytes, position + 1, lengthField);
        if (type >= 0xde) owed += 2 * count;
        else if (type >= 0xdc) owed += count;
        else content = count;
      }
    }
    position += header + content;
  }
  return position <= end ? position : -1;
}

// The error for the value at `start`, which does not fit in the `left` bytes after its header
// with one byte for each of the `owed` elements enclosing values still owe.
function shortfall(
  bytes: Uint8Array,
  start: number,
  left: number,
  owed: number,
): MsgpackCheckError {
  const type = bytes[start];
  let count = 0;
  let counts = BYTES;
  if (type >= 0x80 && type < 0xc0) {
    count = type & (type < 0xa0 ? 0x0f : 0x1f);
    counts = type < 0x90 ? ENTRIES : type < 0xa0 ? ELEMENTS : BYTES;
  } else if (type >= 0xc0 && type < 0xe0 && LAYOUTS[type - 0xc0] >>> 12 !== 0) {
    count = readLength(bytes, start + 1, LAYOUTS[type - 0xc0] >>> 12);
    counts = type >= 0xde ? ENTRIES : type >= 0xdc ? ELEMENTS : BYTES;
  }
  // A header that declares a count is the one found impossible; otherwise the input is short.
  if (count > 0) {
    const enclosing = owed > 0 ? `, and enclosing values still owe ${amount(owed, ELEMENTS)}` : "";
    return new MsgpackCheckError(
      "declared-length",
      start,
      `${name(type)} declares ${amount(count, counts)} with ${
        amount(left, BYTES)
      } left${enclosing}`,
    );
  }
  const fixed = type >= 0xc0 && type < 0xe0 ? LAYOUTS[type - 0xc0] & 0xff : 0;
  return new MsgpackCheckError(
    "truncated",
    start,
    fixed > left
      ? `the input ends inside ${name(type)}`
      : `the input ends before the ${amount(owed, ELEMENTS)} enclosing values still owe`,
  );
}

// What a declared count counts.
const BYTES = "bytes";
const ELEMENTS = "elements";
const ENTRIES = "entries";

// For type bytes 0xc0..0xdf: (length field bytes << 12) | (header bytes << 8) | fixed content
// bytes; 0 for the unused 0xc1. A header counts the type byte, the length field (the byte length
// of a str, bin or ext, the count of an array or map), and an ext's type byte.
const LAYOUTS = new Uint16Array([
  0x100, // c0 nil
  0, // c1 never used
  0x100, // c2 false
  0x100, // c3 true
  0x1200, // c4 bin 8
  0x2300, // c5 bin 16
  0x4500, // c6 bin 32
  0x1300, // c7 ext 8
  0x2400, // c8 ext 16
  0x4600, // c9 ext 32
  0x104, // ca float 32
  0x108, // cb float 64
  0x101, // cc uint 8
  0x102, // cd uint 16
  0x104, // ce uint 32
  0x108, // cf uint 64
  0x101, // d0 int 8
  0x102, // d1 int 16
  0x104, // d2 int 32
  0x108, // d3 int 64
  0x201, // d4 fixext 1
  0x202, // d5 fixext 2
  0x204, // d6 fixext 4
  0x208, // d7 fixext 8
  0x210, // d8 fixext 16
  0x1200, // d9 str 8
  0x2300, // da str 16
  0x4500, // db str 32
  0x2300, // dc array 16
  0x4500, // dd array 32
  0x2300, // de map 16
  0x4500, // df map 32
]);

// A big-endian unsigned length of 1, 2 or 4 bytes.
function readLength(bytes: Uint8Array, at: number, size: number): number {
  if (size === 1) return bytes[at];
  if (size === 2) return (bytes[at] << 8) | bytes[at + 1];
  return bytes[at] * 0x100_0000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
}

// "1 byte", "2 bytes".
function amount(count: number, unit: string): string {
  return `${count} ${count === 1 ? unit.slice(0, -1) : unit}`;
}

// The msgpack format a type byte starts, for error messages.
function name(type: number): string {
  if (type < 0x80 || type >= 0xe0) return "a fixint";
  if (type < 0x90) return "a fixmap";
  if (type < 0xa0) return "a fixarray";
  if (type < 0xc0) return "a fixstr";
  return FORMAT_NAMES[type - 0xc0];
}

const FORMAT_NAMES = [
  "nil",
  "0xc1",
  "false",
  "true",
  "a bin 8",
  "a bin 16",
  "a bin 32",
  "an ext 8",
  "an ext 16",
  "an ext 32",
  "a float 32",
  "a float 64",
  "a uint 8",
  "a uint 16",
  "a uint 32",
  "a uint 64",
  "an int 8",
  "an int 16",
  "an int 32",
  "an int 64",
  "a fixext 1",
  "a fixext 2",
  "a fixext 4",
  "a fixext 8",
  "a fixext 16",
  "a str 8",
  "a str 16",
  "a str 32",
  "an array 16",
  "an array 32",
  "a map 16",
  "a map 32",
];
