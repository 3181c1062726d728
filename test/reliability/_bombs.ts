// The msgpack bombs of issue 13 (item 1), as message bytes (before chunking): a few bytes whose
// length headers, decoded naively, allocate gigabytes. Shared by the server and session tests and
// by bench/attack.ts.
import { encode } from "@msgpack/msgpack";

const concat = (...parts: Uint8Array[]) => {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
};

/** `count` array 32 headers of 2^25 elements each, nested, then nil. */
export function nestedArray32(count = 20): Uint8Array {
  const header = [0xdd, 0x02, 0x00, 0x00, 0x00];
  return new Uint8Array([...Array.from({ length: count }, () => header).flat(), 0xc0]);
}

/** Four array 32 headers of 0x07ffffff elements each (Bun peaked at 5 GB on these). */
export const FOUR_HUGE_ARRAYS: Uint8Array = new Uint8Array(
  Array.from({ length: 4 }, () => [0xdd, 0x07, 0xff, 0xff, 0xff]).flat(),
);

/**
 * A map whose entries are `fields` (encoded as they are) followed by `lastKey` with `rawValue`,
 * bytes that are not necessarily msgpack: an envelope whose last field is broken.
 */
export function envelopeEndingWith(
  fields: Record<string, unknown>,
  lastKey: string,
  rawValue: Uint8Array,
): Uint8Array {
  const entries = Object.entries(fields);
  const parts = entries.flatMap(([key, value]) => [encode(key), encode(value)]);
  return concat(new Uint8Array([0x80 + entries.length + 1]), ...parts, encode(lastKey), rawValue);
}

/**
 * The pre-authentication attack: a hello (~150 bytes, a ~160-byte frame) whose `args`
 * nest 20 array 32 headers.
 */
export function helloBomb(): Uint8Array {
  return envelopeEndingWith(
    { wslink: "1.0", id: "system:c0:0", method: "wslink.hello" },
    "args",
    nestedArray32(20),
  );
}
