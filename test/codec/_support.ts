// Helpers shared by the codec tests: the engines under test, the reference fixtures, refusals.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  ChunkError,
  type ChunkErrorReason,
  createUnChunker,
  type UnChunker,
  type UnChunkerEngine,
  type UnChunkerOptions,
} from "../../mod.ts";

/** Every engine the shared suite runs against. */
export const ENGINES: readonly UnChunkerEngine[] = ["js", "wasm"];

/** An un-chunker of `engine`, asserting that this engine is really the one in use. */
export async function unchunkerOf(
  engine: UnChunkerEngine,
  options: Omit<UnChunkerOptions, "engine"> = {},
): Promise<UnChunker> {
  const unchunker = await createUnChunker({ ...options, engine });
  assert.equal(unchunker.engine, engine);
  return unchunker;
}

/** Runs `push` and asserts it throws a ChunkError with this reason and message id. */
export function assertRefused(
  push: () => unknown,
  reason: ChunkErrorReason,
  messageId: number | undefined,
): ChunkError {
  let caught: unknown;
  try {
    push();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ChunkError, `expected a ChunkError (${reason}), got ${caught}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.messageId, messageId);
  return caught;
}

/** A message whose bytes differ from position to position, so misplaced bytes show. */
export function patternedMessage(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 31 + seed * 7 + 1) & 0xff;
  return bytes;
}

/** A frame with an arbitrary header and `contentLength` content bytes. */
export function rawFrame(
  id: number,
  offset: number,
  totalSize: number,
  contentLength: number,
  fill = 0xab,
): Uint8Array {
  const frame = new Uint8Array(12 + contentLength).fill(fill);
  const view = new DataView(frame.buffer);
  view.setUint32(0, id, true);
  view.setUint32(4, offset, true);
  view.setUint32(8, totalSize, true);
  return frame;
}

export function base64Bytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** Test-local Fisher-Yates shuffle driven by a seeded generator (mulberry32). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 0x1_0000_0000;
  };
  const result = [...items];
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other], result[index]];
  }
  return result;
}

export interface ChunkVector {
  readonly name: string;
  readonly max_size: number;
  readonly value: unknown;
  readonly frames_b64: readonly string[];
}

export interface RejectVector {
  readonly name: string;
  readonly max_message_size: number;
  readonly frames_b64: readonly string[];
  readonly error: string;
  readonly accepted_before: number;
}

export interface ChunkVectors {
  readonly header_length: number;
  readonly vectors: readonly ChunkVector[];
  readonly rejects: readonly RejectVector[];
}

/**
 * The reference fixtures. Integers beyond 2^53 lose precision in JSON.parse, so integer literals of
 * 16 or more digits (outside strings) are read as `{"$int": "<digits>"}` first.
 */
export function loadChunkVectors(): ChunkVectors {
  const text = readFileSync(new URL("../fixtures/chunk-vectors.json", import.meta.url), "utf8");
  const exact = text.replace(
    /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![.eE\d])/g,
    (token) => token.startsWith('"') ? token : `{"$int":"${token}"}`,
  );
  return JSON.parse(exact) as ChunkVectors;
}

/**
 * A fixture value in comparable form: `{"$bin"}` becomes a Uint8Array, `{"$int"}` a number when
 * it is a safe integer, else stays as the exact digits.
 */
export function expectedValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expectedValue);
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && typeof record.$bin === "string") return base64Bytes(record.$bin);
    if (keys.length === 1 && typeof record.$int === "string") return comparableInteger(record.$int);
    return Object.fromEntries(keys.map((key) => [key, expectedValue(record[key])]));
  }
  return value;
}

/** A value decoded with `useBigInt64: true`, in the form {@link expectedValue} gives. */
export function comparableValue(value: unknown): unknown {
  if (typeof value === "bigint") return comparableInteger(value.toString());
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(comparableValue);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [key, comparableValue(entry)]),
    );
  }
  return value;
}

function comparableInteger(digits: string): number | { $int: string } {
  const exact = BigInt(digits);
  const safe = exact <= BigInt(Number.MAX_SAFE_INTEGER) &&
    exact >= -BigInt(Number.MAX_SAFE_INTEGER);
  return safe ? Number(exact) : { $int: exact.toString() };
}

/** Concatenates frames' content at their header offsets: the message the frames carry. */
export function reassembleByHand(frames: readonly Uint8Array[]): Uint8Array {
  const view = new DataView(frames[0].buffer, frames[0].byteOffset, 12);
  const message = new Uint8Array(view.getUint32(8, true));
  for (const frame of frames) {
    const offset = new DataView(frame.buffer, frame.byteOffset, 12).getUint32(4, true);
    message.set(frame.subarray(12), offset);
  }
  return message;
}
