// A fast path for the envelope every reply and publish of a wslink server has:
//   {"wslink": "1.0", "id": <ASCII str>, "result": <value>}
// packed in that order (as the reference server and the embedded server pack it). The envelope
// bytes are matched directly and only `result` goes through the msgpack decoder; the id string
// is reused while it repeats (publish ids are `publish:{topic}:0`, the same on every publish of
// a topic). Anything else, and any bytes this path is not sure about, go to the full decoder, so
// the result is always exactly what the full decoder returns (or throws). The whole message is
// pre-scanned once, before either path (see MessageCodec.check).
import { PROTOCOL_VERSION, resultEnvelope } from "./envelope.ts";
import type { MessageCodec } from "./msgpack.ts";

const asciiBytes = (text: string) => text.split("").map((c) => c.charCodeAt(0));

// 0x83: a map of 3 entries; 0xa6 "wslink"; 0xa0 + length, the version; 0xa2 "id".
const PREFIX = [
  0x83,
  0xa6,
  ...asciiBytes("wslink"),
  0xa0 + PROTOCOL_VERSION.length,
  ...asciiBytes(PROTOCOL_VERSION),
  0xa2,
  ...asciiBytes("id"),
];
const PREFIX_LENGTH = PREFIX.length;
// 0xa6 "result".
const RESULT_KEY = [0xa6, ...asciiBytes("result")];
// Ids longer than this are decoded, not cached.
const MAX_CACHED_ID = 255;

/** Decodes whole wslink messages, taking the fast path where it applies. */
export function createReplyDecoder(codec: MessageCodec): (bytes: Uint8Array) => unknown {
  const lastIdBytes = new Uint8Array(MAX_CACHED_ID);
  let lastIdLength = -1;
  let lastId = "";

  // The id string at bytes[start, start + length), ASCII only; undefined when it is not ASCII.
  const idAt = (bytes: Uint8Array, start: number, length: number): string | undefined => {
    if (length === lastIdLength) {
      let index = 0;
      while (index < length && bytes[start + index] === lastIdBytes[index]) index++;
      if (index === length) return lastId;
    }
    let id = "";
    for (let index = 0; index < length; index++) {
      const byte = bytes[start + index];
      if (byte >= 0x80) return undefined;
      id += String.fromCharCode(byte);
    }
    lastIdBytes.set(bytes.subarray(start, start + length));
    lastIdLength = length;
    lastId = id;
    return id;
  };

  const fast = (bytes: Uint8Array): unknown => {
    const size = bytes.byteLength;
    if (size < PREFIX_LENGTH + 2 + RESULT_KEY.length + 1) return undefined;
    for (let index = 0; index < PREFIX_LENGTH; index++) {
      if (bytes[index] !== PREFIX[index]) return undefined;
    }
    let position = PREFIX_LENGTH;
    const tag = bytes[position++];
    let length: number;
    if (tag >= 0xa0 && tag <= 0xbf) length = tag - 0xa0;
    else if (tag === 0xd9) length = bytes[position++];
    else return undefined;
    if (position + length + RESULT_KEY.length >= size) return undefined;
    const id = idAt(bytes, position, length);
    if (id === undefined) return undefined;
    position += length;
    for (let index = 0; index < RESULT_KEY.length; index++) {
      if (bytes[position + index] !== RESULT_KEY[index]) return undefined;
    }
    position += RESULT_KEY.length;
    let result: unknown;
    try {
      // The rest is exactly the map's last value: the check passed it with the whole message.
      result = codec.decodeChecked(bytes.subarray(position));
    } catch {
      return undefined; // the full decoder reports it, with its own message
    }
    return resultEnvelope(id, result);
  };

  return (bytes) => {
    codec.check(bytes);
    return fast(bytes) ?? codec.decodeChecked(bytes);
  };
}
