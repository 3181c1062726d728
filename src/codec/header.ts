/**
 * The 12-byte chunk header that starts every wslink frame: message id, offset of this chunk's
 * content inside the whole message, and the message's total size, each a little-endian uint32.
 * @module
 */

/** Length in bytes of the header at the start of every wslink frame. */
export const HEADER_LENGTH = 12;

/** The three fields of a chunk header. */
export interface ChunkHeader {
  /** Random per message; the same in every chunk of that message. */
  readonly id: number;
  /** Where this chunk's content starts inside the whole message. */
  readonly offset: number;
  /** Size of the whole message in bytes. */
  readonly totalSize: number;
}

const UINT32_LIMIT = 0x1_0000_0000;

function assertUint32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= UINT32_LIMIT) {
    throw new RangeError(`${name} must be an integer from 0 to 2^32-1, got ${value}`);
  }
}

/**
 * Encodes a chunk header into a new 12-byte array, or into `target` at `targetOffset`.
 *
 * @example
 * ```ts
 * import { decodeHeader, encodeHeader } from "@trame-wire/client";
 * const header = encodeHeader(7, 0, 99);
 * console.assert(decodeHeader(header).totalSize === 99);
 * ```
 */
export function encodeHeader(
  id: number,
  offset: number,
  totalSize: number,
  target: Uint8Array = new Uint8Array(HEADER_LENGTH),
  targetOffset = 0,
): Uint8Array {
  assertUint32("id", id);
  assertUint32("offset", offset);
  assertUint32("totalSize", totalSize);
  const view = new DataView(target.buffer, target.byteOffset + targetOffset, HEADER_LENGTH);
  view.setUint32(0, id, true);
  view.setUint32(4, offset, true);
  view.setUint32(8, totalSize, true);
  return target;
}

/**
 * @internal The little-endian uint32 at byte `at` of `bytes`, as the header's fields are stored
 * (no bounds check: the caller knows the header is there).
 */
export function readUint32LE(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/**
 * Reads the header at the start of `frame`. Works on any view: its `byteOffset` is respected.
 * Throws a `RangeError` when the frame is shorter than {@link HEADER_LENGTH}.
 */
export function decodeHeader(frame: Uint8Array | ArrayBuffer): ChunkHeader {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.byteLength < HEADER_LENGTH) {
    throw new RangeError(
      `a chunk header needs ${HEADER_LENGTH} bytes, the frame has ${bytes.byteLength}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LENGTH);
  return {
    id: view.getUint32(0, true),
    offset: view.getUint32(4, true),
    totalSize: view.getUint32(8, true),
  };
}
