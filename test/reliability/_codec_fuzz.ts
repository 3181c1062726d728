// Adversarial frame streams for the un-chunker, and a differential driver that pushes each frame
// into both engines and compares what they do. Shared by codec_fuzz_test.ts (a small run) and
// bench/fuzz_codec.ts (the long run).
import {
  CHUNK_ERROR_REASONS,
  ChunkError,
  type ChunkErrorReason,
  createUnChunker,
  type UnChunker,
  type UnChunkerOptions,
} from "../../mod.ts";

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same stream everywhere. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Limits small enough that the budgets are hit often, large enough for thousands of ids. */
export const FUZZ_LIMITS = {
  maxMessageSize: 65_536,
  maxPendingBytes: 1 << 20,
  maxPendingMessages: 4_096,
} as const satisfies UnChunkerOptions;

function frameOf(id: number, offset: number, total: number, content: number, fill: number) {
  const frame = new Uint8Array(12 + content);
  const view = new DataView(frame.buffer);
  view.setUint32(0, id >>> 0, true);
  view.setUint32(4, offset >>> 0, true);
  view.setUint32(8, total >>> 0, true);
  for (let index = 12; index < frame.length; index++) frame[index] = (fill + index * 7) & 0xff;
  return frame;
}

interface Open {
  readonly id: number;
  readonly total: number;
  offset: number;
}

/**
 * An endless stream of frames: genuine messages chunked in order and interleaved over up to
 * `maxOpen` ids at once, mixed with short frames, lying totals, offsets past the end, duplicates,
 * overlaps, 0-byte content, huge declared totals and random garbage.
 */
export function* adversarialFrames(seed: number, maxOpen = 3_000): Generator<Uint8Array> {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const open: Open[] = [];
  const recent: Uint8Array[] = [];
  let nextId = 1 + int(1000);
  const remember = (frame: Uint8Array) => {
    if (recent.length < 64) recent.push(frame);
    else recent[int(64)] = frame;
    return frame;
  };
  while (true) {
    const roll = random();
    if (roll < 0.5 || open.length === 0) {
      // Continue (or start) a genuine message, in order.
      let message: Open;
      if (open.length < maxOpen && (open.length === 0 || random() < 0.3)) {
        message = { id: nextId++ >>> 0, total: 1 + int(random() < 0.9 ? 200 : 4000), offset: 0 };
        open.push(message);
      } else {
        message = open[int(open.length)];
      }
      const content = Math.min(message.total - message.offset, 1 + int(64));
      const frame = frameOf(message.id, message.offset, message.total, content, message.id);
      message.offset += content;
      if (message.offset >= message.total) open.splice(open.indexOf(message), 1);
      yield remember(frame);
      continue;
    }
    const target = open.length > 0 ? open[int(open.length)] : undefined;
    const id = target !== undefined && random() < 0.7 ? target.id : int(5000);
    const total = target?.total ?? 1 + int(300);
    switch (int(10)) {
      case 0: // short frame
        yield new Uint8Array(int(12)).fill(int(256));
        break;
      case 1: // lying total
        yield frameOf(id, 0, total + 1 + int(100), 1 + int(10), 3);
        break;
      case 2: // offset past the end
        yield frameOf(id, random() < 0.5 ? total + int(10) : 0xffff_ffff - int(4), total, 1, 5);
        break;
      case 3: // duplicate of a recent frame
        if (recent.length > 0) yield recent[int(recent.length)];
        break;
      case 4: // overlap with what was sent of a message
        yield frameOf(id, int(Math.max(1, target?.offset ?? 1)), total, 1 + int(8), 9);
        break;
      case 5: // 0-byte content, or 0-byte total
        yield frameOf(id, int(total), random() < 0.5 ? total : 0, 0, 0);
        break;
      case 6: // huge declared total (up to 4 GiB - 1)
        yield frameOf(int(1 << 30), 0, 0xffff_ffff - int(1 << 20), 1 + int(16), 11);
        break;
      case 7: // now and then, a mid-size total that strains maxPendingBytes / maxMessageSize
        if (random() < 0.2) yield frameOf(nextId++ >>> 0, 0, 30_000 + int(70_000), 1 + int(16), 13);
        else yield frameOf(id, 0, total, total, 13); // or a whole message in one frame
        break;
      default: { // garbage header, garbage content
        const frame = new Uint8Array(12 + int(40));
        for (let index = 0; index < frame.length; index++) frame[index] = int(256);
        yield frame;
      }
    }
  }
}

/** What one push did. */
export type Outcome =
  | { readonly kind: "pending" }
  | { readonly kind: "message"; readonly bytes: Uint8Array }
  | { readonly kind: "refused"; readonly reason: ChunkErrorReason; readonly messageId?: number };

/** Counts and extremes over a run. */
export interface FuzzStats {
  frames: number;
  messages: number;
  pending: number;
  refused: Record<string, number>;
  maxPendingBytes: number;
  maxPendingMessages: number;
  releases: number;
}

function pushOne(unchunker: UnChunker, frame: Uint8Array): Outcome {
  try {
    const bytes = unchunker.push(frame);
    return bytes === undefined ? { kind: "pending" } : { kind: "message", bytes };
  } catch (error) {
    if (!(error instanceof ChunkError)) {
      throw new Error(`${unchunker.engine} threw something else than a ChunkError: ${error}`);
    }
    if (!CHUNK_ERROR_REASONS.includes(error.reason)) {
      throw new Error(`${unchunker.engine} threw a ChunkError with an unknown reason`);
    }
    return { kind: "refused", reason: error.reason, messageId: error.messageId };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let index = 0; index < a.byteLength; index++) if (a[index] !== b[index]) return false;
  return true;
}

/**
 * Pushes `frames` frames of the seeded stream into a js and a wasm un-chunker; throws at the first
 * difference between them, any exception that is not a ChunkError, or pendingBytes over budget.
 */
export async function differentialRun(
  seed: number,
  frames: number,
  options: { releaseEvery?: number; maxOpen?: number; onProgress?: (done: number) => void } = {},
): Promise<FuzzStats> {
  const js = await createUnChunker({ ...FUZZ_LIMITS, engine: "js" });
  const wasm = await createUnChunker({ ...FUZZ_LIMITS, engine: "wasm" });
  const stats: FuzzStats = {
    frames: 0,
    messages: 0,
    pending: 0,
    refused: {},
    maxPendingBytes: 0,
    maxPendingMessages: 0,
    releases: 0,
  };
  const releaseEvery = options.releaseEvery ?? 0;
  const stream = adversarialFrames(seed, options.maxOpen);
  for (let step = 0; step < frames; step++) {
    const frame = stream.next().value as Uint8Array;
    const a = pushOne(js, frame);
    const b = pushOne(wasm, frame);
    const where = () => `seed ${seed}, frame ${step}`;
    if (a.kind !== b.kind) throw new Error(`${where()}: js ${a.kind}, wasm ${b.kind}`);
    if (a.kind === "refused" && b.kind === "refused") {
      if (a.reason !== b.reason || a.messageId !== b.messageId) {
        throw new Error(
          `${where()}: js refused (${a.reason}, ${a.messageId}), wasm (${b.reason}, ${b.messageId})`,
        );
      }
      stats.refused[a.reason] = (stats.refused[a.reason] ?? 0) + 1;
    } else if (a.kind === "message" && b.kind === "message") {
      if (!sameBytes(a.bytes, b.bytes)) throw new Error(`${where()}: the messages differ`);
      stats.messages++;
    } else stats.pending++;
    if (js.pendingBytes !== wasm.pendingBytes || js.pendingMessages !== wasm.pendingMessages) {
      throw new Error(
        `${where()}: pending js ${js.pendingBytes}/${js.pendingMessages}, ` +
          `wasm ${wasm.pendingBytes}/${wasm.pendingMessages}`,
      );
    }
    if (js.pendingBytes > FUZZ_LIMITS.maxPendingBytes) {
      throw new Error(`${where()}: pendingBytes ${js.pendingBytes} over the budget`);
    }
    if (js.pendingMessages > FUZZ_LIMITS.maxPendingMessages) {
      throw new Error(`${where()}: pendingMessages ${js.pendingMessages} over the budget`);
    }
    stats.maxPendingBytes = Math.max(stats.maxPendingBytes, js.pendingBytes);
    stats.maxPendingMessages = Math.max(stats.maxPendingMessages, js.pendingMessages);
    stats.frames++;
    if (releaseEvery > 0 && (step + 1) % releaseEvery === 0) {
      js.release();
      wasm.release();
      stats.releases++;
      if (js.pendingBytes !== 0 || wasm.pendingBytes !== 0) {
        throw new Error(`${where()}: release() left pending bytes`);
      }
    }
    if (options.onProgress !== undefined && (step + 1) % 100_000 === 0) {
      options.onProgress(step + 1);
    }
  }
  js.release();
  wasm.release();
  return stats;
}
