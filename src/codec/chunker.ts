import { encodeHeader, HEADER_LENGTH } from "./header.ts";

/** Options for {@link generateChunks}. */
export interface GenerateChunksOptions {
  /** The message id written in every chunk header; a random uint32 when omitted. */
  readonly id?: number;
}

// Random ids are drawn from the generator this many at a time: one `getRandomValues` call per
// message was a fifth of the client's CPU time in a round-trip benchmark on Node.
const RANDOM_POOL_SIZE = 256;
const randomPool = new Uint32Array(RANDOM_POOL_SIZE);
let randomPoolNext = RANDOM_POOL_SIZE;

/** A random uint32 from the platform's cryptographic generator, as the reference sender uses. */
export function randomMessageId(): number {
  if (randomPoolNext === RANDOM_POOL_SIZE) {
    crypto.getRandomValues(randomPool);
    randomPoolNext = 0;
  }
  return randomPool[randomPoolNext++];
}

/**
 * Splits one encoded message into wslink frames of at most `maxSize` bytes, header included.
 *
 * Each frame carries `max(maxSize - 12, 1)` content bytes (the last one fewer); `maxSize` 0 means
 * a single frame whatever the size; an empty message yields no frames, exactly as the reference
 * Python and JavaScript senders do. Each frame is a fresh `Uint8Array` the caller may keep.
 *
 * @example
 * ```ts
 * import { generateChunks } from "@trame-wire/client";
 * const frames = [...generateChunks(new Uint8Array(100), 50)];
 * console.assert(frames.length === 3 && frames[0].byteLength === 50);
 * ```
 */
export function* generateChunks(
  message: Uint8Array,
  maxSize: number,
  options: GenerateChunksOptions = {},
): Generator<Uint8Array, void, undefined> {
  if (!Number.isInteger(maxSize) || maxSize < 0) {
    throw new RangeError(`maxSize must be a non-negative integer, got ${maxSize}`);
  }
  const totalSize = message.byteLength;
  if (totalSize >= 0x1_0000_0000) {
    throw new RangeError(`a wslink message is at most 2^32-1 bytes, got ${totalSize}`);
  }
  const id = options.id ?? randomMessageId();
  const contentPerFrame = maxSize === 0 ? totalSize : Math.max(maxSize - HEADER_LENGTH, 1);
  for (let offset = 0; offset < totalSize; offset += contentPerFrame) {
    const contentLength = Math.min(contentPerFrame, totalSize - offset);
    const frame = new Uint8Array(HEADER_LENGTH + contentLength);
    encodeHeader(id, offset, totalSize, frame);
    frame.set(message.subarray(offset, offset + contentLength), HEADER_LENGTH);
    yield frame;
  }
}
