// A reply whose result is a msgpack `bin` can travel as a stream: everything before the bin's
// bytes (the envelope and the bin header, a few dozen bytes) is in the first frame, the bytes
// follow. The server writes that prefix and then the bytes as it reads them; the client reads the
// prefix incrementally and hands the bytes over as they arrive. Both ends use this module.
import { PROTOCOL_VERSION } from "./envelope.ts";

/** The largest size a msgpack `bin` (and a wslink message) can have: 4 GiB - 1. */
export const MAX_BIN_SIZE = 0xffff_ffff;

/** Bytes of a message's start read at most before deciding whether it is a streamable reply. */
export const MAX_STREAM_PREFIX = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The bytes of `{"wslink": "1.0", "id": id, "result": <bin of size bytes>}` up to the bin's first
 * byte, packed as both reference servers pack replies (that key order, the smallest formats).
 */
export function streamPrefix(id: string, size: number): Uint8Array {
  if (!Number.isInteger(size) || size < 0 || size > MAX_BIN_SIZE) {
    throw new RangeError(`a msgpack bin holds 0 to ${MAX_BIN_SIZE} bytes, got ${size}`);
  }
  const parts: number[] = [0x83];
  const pushString = (text: string) => {
    const bytes = encoder.encode(text);
    const length = bytes.byteLength;
    if (length < 32) parts.push(0xa0 + length);
    else if (length < 0x100) parts.push(0xd9, length);
    else if (length < 0x10000) parts.push(0xda, length >> 8, length & 0xff);
    else parts.push(0xdb, ...uint32(length));
    for (const byte of bytes) parts.push(byte);
  };
  pushString("wslink");
  pushString(PROTOCOL_VERSION);
  pushString("id");
  pushString(id);
  pushString("result");
  if (size < 0x100) parts.push(0xc4, size);
  else if (size < 0x10000) parts.push(0xc5, size >> 8, size & 0xff);
  else parts.push(0xc6, ...uint32(size));
  return new Uint8Array(parts);
}

function uint32(value: number): number[] {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** What the start of a message says about it. */
export type StreamPrefix =
  /** The bytes end before the answer: read more (up to {@link MAX_STREAM_PREFIX}). */
  | { readonly kind: "more" }
  /** Not a reply whose last entry is a bin result: a message for the buffered path. */
  | { readonly kind: "other" }
  /** A reply to `id` whose result is a bin of `size` bytes starting at byte `dataOffset`. */
  | {
    readonly kind: "bin";
    readonly id: string;
    readonly dataOffset: number;
    readonly size: number;
  };

const MORE: StreamPrefix = { kind: "more" };
const OTHER: StreamPrefix = { kind: "other" };

/**
 * Reads the first bytes of a message (`bytes`, from its offset 0). A `bin` answer means the
 * message is a map whose entries are `wslink` and `id` (strings, in any order) and, last,
 * `result`, a bin; anything else in any other shape is `other`.
 */
export function readStreamPrefix(bytes: Uint8Array): StreamPrefix {
  const length = bytes.byteLength;
  let position = 0;
  // A big-endian unsigned integer of `size` bytes at `position`, or -1 past the end.
  const readUint = (size: number): number => {
    if (position + size > length) return -1;
    let value = 0;
    for (let index = 0; index < size; index++) value = value * 256 + bytes[position + index];
    position += size;
    return value;
  };
  // The byte length of the string whose tag is at `position`; -1 past the end, -2 not a string.
  const stringLength = (): number => {
    if (position >= length) return -1;
    const tag = bytes[position++];
    if (tag >= 0xa0 && tag <= 0xbf) return tag - 0xa0;
    if (tag === 0xd9) return readUint(1);
    if (tag === 0xda) return readUint(2);
    if (tag === 0xdb) return readUint(4);
    return -2;
  };
  if (length === 0) return MORE;
  const mapTag = bytes[position++];
  let entries: number;
  if (mapTag >= 0x80 && mapTag <= 0x8f) entries = mapTag - 0x80;
  else if (mapTag === 0xde) entries = readUint(2);
  else if (mapTag === 0xdf) entries = readUint(4);
  else return OTHER;
  if (entries < 0) return MORE;
  let id: string | undefined;
  for (let entry = 0; entry < entries; entry++) {
    const keyLength = stringLength();
    if (keyLength === -1) return MORE;
    if (keyLength < 0 || keyLength > 6) return OTHER;
    if (position + keyLength > length) return MORE;
    const key = decoder.decode(bytes.subarray(position, position + keyLength));
    position += keyLength;
    if (key === "wslink" || key === "id") {
      const valueLength = stringLength();
      if (valueLength === -1) return MORE;
      if (valueLength < 0 || valueLength > MAX_STREAM_PREFIX) return OTHER;
      if (position + valueLength > length) return MORE;
      if (key === "id") id = decoder.decode(bytes.subarray(position, position + valueLength));
      position += valueLength;
      continue;
    }
    // The result must be the last entry, a bin, and come after the id.
    if (key !== "result" || entry !== entries - 1 || id === undefined) return OTHER;
    if (position >= length) return MORE;
    const tag = bytes[position++];
    const sizeBytes = tag === 0xc4 ? 1 : tag === 0xc5 ? 2 : tag === 0xc6 ? 4 : 0;
    if (sizeBytes === 0) return OTHER;
    const size = readUint(sizeBytes);
    if (size < 0) return MORE;
    return { kind: "bin", id, dataOffset: position, size };
  }
  return OTHER;
}
