// The receiving side of `callStream`: frames of a reply whose result is a bin go to a
// BinaryStream as they arrive instead of into the un-chunker, which would buffer the whole message.
//
// A message is recognised by its first bytes (the envelope, then the bin header), which only
// matters while a stream call waits for its reply: the frames of messages not yet recognised are
// held (a "probe") until the start of their message is in, then either bound to the stream call
// or handed to the buffered path in the order they came. Once bound, a frame in order is enqueued
// as a view; one ahead of a gap is held until the gap fills. Everything held or enqueued and not
// yet read counts against the session's `maxPendingBytes`, with what the un-chunker holds.
import { ChunkError, type ChunkErrorReason } from "../codec/chunk_error.ts";
import { HEADER_LENGTH, readUint32LE } from "../codec/header.ts";
import { RANGE_COST_BYTES } from "../codec/_engine.ts";
import { MAX_STREAM_PREFIX, readStreamPrefix } from "../protocol/_bin_stream.ts";
import { describeValue, type ReplyOutcome } from "../protocol/envelope.ts";
import {
  type BinaryStream,
  type BinaryStreamFeed,
  binaryStreamOf,
  createBinaryStream,
  isBinaryStream,
} from "./binary_stream.ts";
import { abortedError, clientError, WslinkError } from "./errors.ts";
import type { SettleResult } from "./_pending.ts";

// How many ids of stream calls that gave up are remembered, so that their late replies are
// dropped as they arrive rather than buffered.
const ABANDONED_ID_MEMORY = 4_096;
// How many ids of messages the un-chunker refused are remembered: their later frames go straight
// to it (it remembers them too, and reports them).
const REFUSED_ID_MEMORY = 64;

/** What the router needs of its session. */
export interface StreamRouterOptions {
  /** Budget of everything held: incomplete buffered messages, held frames, unread stream bytes. */
  readonly maxPendingBytes: number;
  /** Messages that may be incomplete at once, buffered or held. */
  readonly maxPendingMessages: number;
  /** Largest result a stream call accepts. */
  readonly maxStreamSize: number;
  /** What the un-chunker holds now: bytes against the budget, and incomplete messages. */
  readonly buffered: () => { readonly bytes: number; readonly messages: number };
  /** Takes a frame down the buffered path (the un-chunker, then dispatch). */
  readonly readBuffered: (frame: Uint8Array) => void;
  /** Settles stream call `id` with its stream, or with the error to reject it with. */
  readonly settle: (id: string, value: BinaryStream | WslinkError) => SettleResult;
  /** A frame of a streamed message was accepted: `received` of `total` message bytes. */
  readonly progress: (chunkId: number, received: number, total: number) => void;
}

interface HeldFrame {
  readonly offset: number;
  readonly end: number;
  readonly frame: Uint8Array;
}

// Frames of one message, sorted by offset, never overlapping.
class HeldFrames {
  readonly list: HeldFrame[] = [];
  bytes = 0;

  /** Adds the frame; false when it overlaps one already held (nothing is added then). */
  add(offset: number, frame: Uint8Array): boolean {
    const end = offset + frame.byteLength - HEADER_LENGTH;
    const list = this.list;
    let index = list.length;
    while (index > 0 && list[index - 1].offset > offset) index--;
    if (index > 0 && list[index - 1].end > offset) return false;
    if (index < list.length && list[index].offset < end) return false;
    list.splice(index, 0, { offset, end, frame });
    this.bytes += cost(frame);
    return true;
  }

  /** Removes and returns the first frame when it starts at `offset`. */
  takeAt(offset: number): HeldFrame | undefined {
    if (this.list.length === 0 || this.list[0].offset !== offset) return undefined;
    const held = this.list.shift()!;
    this.bytes -= cost(held.frame);
    return held;
  }

  clear(): void {
    this.list.length = 0;
    this.bytes = 0;
  }
}

// What a held frame costs against the budget: its bytes and its bookkeeping.
const cost = (frame: Uint8Array) => frame.byteLength + RANGE_COST_BYTES;

interface Probe {
  readonly chunkId: number;
  readonly total: number;
  readonly held: HeldFrames;
}

/** What a stream call gave the router when it started. */
interface Expected {
  readonly signal: AbortSignal | undefined;
  /** Names the call in error messages. */
  readonly what: string;
}

interface BoundStream {
  readonly chunkId: number;
  readonly id: string;
  readonly total: number;
  /** Where the bin's bytes start in the message. */
  readonly dataOffset: number;
  readonly held: HeldFrames;
  readonly expected: Expected;
  /** Undefined once the stream ended, failed or was cancelled: frames are then counted only. */
  feed: BinaryStreamFeed | undefined;
  /** The message bytes up to here were enqueued. */
  next: number;
  /** Message bytes received, held ones included. */
  received: number;
  onAbort: (() => void) | undefined;
}

/** Routes the frames of streamed replies; one per session. */
export class StreamRouter {
  readonly #options: StreamRouterOptions;
  readonly #expected = new Map<string, Expected>();
  readonly #abandoned = new Set<string>();
  readonly #probes = new Map<number, Probe>();
  readonly #bound = new Map<number, BoundStream>();
  readonly #boundById = new Map<string, BoundStream>();
  // Ids of messages the un-chunker holds incomplete, and of the last ones it refused.
  readonly #inBuffered = new Set<number>();
  readonly #refused: number[] = [];
  #heldBytes = 0;

  constructor(options: StreamRouterOptions) {
    this.#options = options;
  }

  /**
   * Runs one stream call: `send` issues the request and tells its id before it is sent. Resolves
   * with the result's stream (or one made of a binary result that arrived whole).
   */
  call(
    send: (onId: (id: string) => void) => Promise<unknown>,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<BinaryStream> {
    let id: string | undefined;
    const expect = (requestId: string) => {
      id = requestId;
      this.expect(requestId, signal, what);
    };
    return send(expect).then(
      (value) => {
        this.settled(id!, false);
        return binaryResult(value, what);
      },
      (error: unknown) => {
        if (id !== undefined) this.settled(id, gaveUp(error));
        throw error;
      },
    );
  }

  /** A stream call waits for the reply to `id`; `signal` may abort its stream later. */
  expect(id: string, signal: AbortSignal | undefined, what: string): void {
    this.#expected.set(id, { signal, what });
  }

  /**
   * Stream call `id` is settled (resolved or rejected); `gaveUp` when it timed out or was
   * aborted, so that its late reply is dropped as it arrives.
   */
  settled(id: string, gaveUp: boolean): void {
    if (!this.#expected.delete(id)) return;
    if (gaveUp) {
      this.#abandoned.add(id);
      if (this.#abandoned.size > ABANDONED_ID_MEMORY) {
        this.#abandoned.delete(this.#abandoned.values().next().value!);
      }
    }
    // Nobody waits for the start of a reply any more: held messages go the buffered way.
    if (this.#expected.size === 0) {
      for (const probe of [...this.#probes.values()]) this.#release(probe);
    }
  }

  /** Takes `frame` when it belongs to a streamed message (or may); false: the buffered path. */
  route(frame: Uint8Array): boolean {
    if (frame.byteLength <= HEADER_LENGTH) return false;
    const chunkId = readUint32LE(frame, 0);
    const bound = this.#bound.get(chunkId);
    if (bound !== undefined) {
      this.#take(bound, frame);
      return true;
    }
    const probe = this.#probes.get(chunkId);
    if (probe !== undefined) {
      this.#hold(probe, frame);
      return true;
    }
    if (this.#expected.size === 0 && this.#abandoned.size === 0) return false;
    if (this.#inBuffered.has(chunkId) || this.#refused.includes(chunkId)) return false;
    const offset = readUint32LE(frame, 4);
    const total = readUint32LE(frame, 8);
    const contentLength = frame.byteLength - HEADER_LENGTH;
    // A whole message in one frame, or a bad frame: the buffered path takes or refuses it.
    if (contentLength >= total || offset + contentLength > total) return false;
    if (this.#expected.size === 0) return this.#dropIfAbandoned(chunkId, offset, total, frame);
    const { bytes, messages } = this.#options.buffered();
    if (messages + this.#probes.size + this.#bound.size >= this.#options.maxPendingMessages) {
      return false;
    }
    if (!this.#hasRoom(bytes, cost(frame))) return false;
    const started: Probe = { chunkId, total, held: new HeldFrames() };
    this.#probes.set(chunkId, started);
    this.#hold(started, frame);
    return true;
  }

  /** Records what the un-chunker did with a frame of message `chunkId`. */
  noteBuffered(chunkId: number, outcome: "incomplete" | "complete" | "refused"): void {
    if (outcome === "incomplete") {
      this.#inBuffered.add(chunkId);
      return;
    }
    this.#inBuffered.delete(chunkId);
    if (outcome === "refused") {
      this.#refused.push(chunkId);
      if (this.#refused.length > REFUSED_ID_MEMORY) this.#refused.shift();
    }
  }

  /**
   * A reply to `id` arrived after its stream was handed out: the server gave up midway (an error)
   * or broke the protocol. Fails the stream; false when no stream has that id.
   */
  failStream(id: string, outcome: ReplyOutcome): boolean {
    const stream = this.#boundById.get(id);
    if (stream === undefined) return false;
    const error = outcome.kind === "error"
      ? new WslinkError(outcome.error.code, outcome.error.message, outcome.error.data)
      : clientError("protocol", `a second reply to ${id} arrived while its result streamed`);
    this.#fail(stream, error);
    this.#forget(stream);
    return true;
  }

  /** The session ended: every stream errors with `error`, and nothing is held any more. */
  close(error: WslinkError): void {
    for (const stream of [...this.#bound.values()]) {
      this.#fail(stream, error);
      this.#forget(stream);
    }
    this.#probes.clear();
    this.#expected.clear();
    this.#abandoned.clear();
    this.#inBuffered.clear();
    this.#heldBytes = 0;
  }

  #hasRoom(buffered: number, more: number): boolean {
    let queued = 0;
    for (const stream of this.#bound.values()) {
      queued += stream.feed?.queuedBytes ?? 0;
    }
    return buffered + this.#heldBytes + queued + more <= this.#options.maxPendingBytes;
  }

  // A frame of a message not recognised yet: held until the start of the message says what it is.
  #hold(probe: Probe, frame: Uint8Array): void {
    const offset = readUint32LE(frame, 4);
    const contentLength = frame.byteLength - HEADER_LENGTH;
    const fits = readUint32LE(frame, 8) === probe.total && offset + contentLength <= probe.total;
    // A frame the un-chunker would refuse, or one over the budget: let it decide for the message.
    if (!fits || !this.#hasRoom(this.#options.buffered().bytes, cost(frame))) {
      this.#release(probe, frame);
      return;
    }
    if (!probe.held.add(offset, frame)) {
      this.#release(probe, frame);
      return;
    }
    this.#heldBytes += cost(frame);
    this.#recognise(probe);
  }

  // Reads the start of the probe's message, once it is in, and acts on what it says.
  #recognise(probe: Probe): void {
    const list = probe.held.list;
    if (list.length === 0 || list[0].offset !== 0) return;
    let start = list[0].frame.subarray(HEADER_LENGTH);
    let contiguous = list[0].end;
    if (start.byteLength < MAX_STREAM_PREFIX) {
      // A first frame shorter than the prefix may hold: read on through the frames that follow.
      const parts = [start];
      for (let index = 1; index < list.length && list[index].offset === contiguous; index++) {
        parts.push(list[index].frame.subarray(HEADER_LENGTH));
        contiguous = list[index].end;
        if (contiguous >= MAX_STREAM_PREFIX) break;
      }
      if (parts.length > 1) start = concat(parts);
    }
    const prefix = readStreamPrefix(start);
    if (prefix.kind === "more" && contiguous < Math.min(MAX_STREAM_PREFIX, probe.total)) return;
    this.#probes.delete(probe.chunkId);
    this.#heldBytes -= probe.held.bytes;
    // A reply whose result is a bin ending the message: a stream call's, or one that gave up's.
    const bin = prefix.kind === "bin" && prefix.dataOffset + prefix.size === probe.total
      ? prefix
      : undefined;
    const expected = bin === undefined ? undefined : this.#expected.get(bin.id);
    if (bin === undefined || (expected === undefined && !this.#abandoned.has(bin.id))) {
      for (const held of list) this.#options.readBuffered(held.frame);
      return;
    }
    if (expected === undefined) {
      this.#abandoned.delete(bin.id);
      return this.#discard(probe.chunkId, probe.total, list);
    }
    if (bin.size > this.#options.maxStreamSize) {
      const error = clientError(
        "too-large",
        `${expected.what} returned ${bin.size} bytes, over maxStreamSize ` +
          `(${this.#options.maxStreamSize})`,
        { size: bin.size, limit: this.#options.maxStreamSize },
      );
      this.#options.settle(bin.id, error);
      return this.#discard(probe.chunkId, probe.total, list);
    }
    this.#bind(probe, bin.id, bin.dataOffset, bin.size, expected);
  }

  #bind(probe: Probe, id: string, dataOffset: number, size: number, expected: Expected): void {
    const stream: BoundStream = {
      chunkId: probe.chunkId,
      id,
      total: probe.total,
      dataOffset,
      held: new HeldFrames(),
      expected,
      feed: undefined,
      next: 0,
      received: 0,
      onAbort: undefined,
    };
    const binary = createBinaryStream(size, (feed) => stream.feed = feed, () => this.#stop(stream));
    this.#bound.set(stream.chunkId, stream);
    this.#boundById.set(id, stream);
    if (this.#options.settle(id, binary) !== "settled") {
      // It gave up in the meantime: drop its bytes.
      this.#stop(stream);
    } else if (expected.signal !== undefined) {
      const signal = expected.signal;
      stream.onAbort = () => {
        this.#fail(stream, abortedError(signal, expected.what));
      };
      signal.addEventListener("abort", stream.onAbort, { once: true });
    }
    for (const held of probe.held.list) this.#take(stream, held.frame);
  }

  // A frame of a bound message.
  #take(stream: BoundStream, frame: Uint8Array): void {
    const offset = readUint32LE(frame, 4);
    const total = readUint32LE(frame, 8);
    const contentLength = frame.byteLength - HEADER_LENGTH;
    stream.received += contentLength;
    if (stream.feed === undefined) {
      if (stream.received >= stream.total) this.#forget(stream);
      return;
    }
    const problem = total !== stream.total
      ? refusal(
        "total-mismatch",
        `declares ${total} bytes, an earlier chunk declared ${stream.total}`,
      )
      : offset + contentLength > total
      ? refusal(
        "out-of-bounds",
        `bytes ${offset}..${offset + contentLength} past the total of ${total}`,
      )
      : offset < stream.next
      ? refusal("overlap", `bytes ${offset}..${offset + contentLength} were already received`)
      : undefined;
    if (problem !== undefined) return this.#refuse(stream, ...problem);
    const { bytes } = this.#options.buffered();
    if (offset > stream.next) {
      if (!this.#hasRoom(bytes, cost(frame))) {
        return this.#refuse(stream, "pending-bytes", "holding a frame ahead of a gap");
      }
      if (!stream.held.add(offset, frame)) {
        return this.#refuse(stream, "overlap", `bytes from ${offset} were already received`);
      }
      this.#heldBytes += cost(frame);
      this.#options.progress(stream.chunkId, stream.received, stream.total);
      return;
    }
    if (!this.#hasRoom(bytes, contentLength)) {
      return this.#refuse(stream, "pending-bytes", "the stream's reader is too far behind");
    }
    this.#enqueue(stream, offset, frame);
    for (let held = stream.held.takeAt(stream.next); held; held = stream.held.takeAt(stream.next)) {
      this.#heldBytes -= cost(held.frame);
      this.#enqueue(stream, held.offset, held.frame);
    }
    this.#options.progress(stream.chunkId, stream.received, stream.total);
    if (stream.next === stream.total) {
      stream.feed?.close();
      this.#finish(stream);
      this.#forget(stream);
    }
  }

  #enqueue(stream: BoundStream, offset: number, frame: Uint8Array): void {
    const skip = Math.max(0, stream.dataOffset - offset);
    const content = frame.subarray(HEADER_LENGTH + skip);
    if (content.byteLength > 0) stream.feed!.push(content);
    stream.next = offset + frame.byteLength - HEADER_LENGTH;
  }

  #refuse(stream: BoundStream, reason: ChunkErrorReason, detail: string): void {
    this.#fail(stream, new ChunkError(reason, stream.chunkId, detail));
  }

  // Errors the stream; its later frames are counted and dropped.
  #fail(stream: BoundStream, error: unknown): void {
    stream.feed?.error(error);
    this.#stop(stream);
  }

  // Nobody reads the stream any more (failed, cancelled, aborted): drop what it holds and what
  // is still to come.
  #stop(stream: BoundStream): void {
    this.#finish(stream);
    if (stream.received >= stream.total) this.#forget(stream);
  }

  #finish(stream: BoundStream): void {
    stream.feed = undefined;
    this.#heldBytes -= stream.held.bytes;
    stream.held.clear();
    if (stream.onAbort !== undefined) {
      stream.expected.signal?.removeEventListener("abort", stream.onAbort);
      stream.onAbort = undefined;
    }
  }

  #forget(stream: BoundStream): void {
    this.#finish(stream);
    this.#bound.delete(stream.chunkId);
    if (this.#boundById.get(stream.id) === stream) this.#boundById.delete(stream.id);
  }

  // Drops a message as it arrives: the late reply of a stream call that gave up, or a result
  // over maxStreamSize.
  #discard(chunkId: number, total: number, held: readonly HeldFrame[]): void {
    const stream: BoundStream = {
      chunkId,
      id: "",
      total,
      dataOffset: total,
      held: new HeldFrames(),
      expected: { signal: undefined, what: "" },
      feed: undefined,
      next: 0,
      received: 0,
      onAbort: undefined,
    };
    this.#bound.set(chunkId, stream);
    for (const frame of held) this.#take(stream, frame.frame);
  }

  // With only abandoned calls left, just the first frame of a message is looked at.
  #dropIfAbandoned(chunkId: number, offset: number, total: number, frame: Uint8Array): boolean {
    if (offset !== 0) return false;
    const prefix = readStreamPrefix(frame.subarray(HEADER_LENGTH));
    if (
      prefix.kind !== "bin" || prefix.dataOffset + prefix.size !== total ||
      !this.#abandoned.delete(prefix.id)
    ) {
      return false;
    }
    this.#discard(chunkId, total, [{ offset, end: 0, frame }]);
    return true;
  }

  // Hands a probe's frames (and `frame`, which could not be held) to the buffered path.
  #release(probe: Probe, frame?: Uint8Array): void {
    this.#probes.delete(probe.chunkId);
    this.#heldBytes -= probe.held.bytes;
    const frames = probe.held.list.map((held) => held.frame);
    probe.held.clear();
    if (frame !== undefined) frames.push(frame);
    for (const held of frames) this.#options.readBuffered(held);
  }
}

function refusal(reason: ChunkErrorReason, detail: string): [ChunkErrorReason, string] {
  return [reason, detail];
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.byteLength;
  }
  return whole;
}

// What a stream call resolves with: the stream, or one made of a binary result that arrived whole.
function binaryResult(value: unknown, what: string): BinaryStream {
  if (isBinaryStream(value)) return value;
  if (value instanceof WslinkError) throw value;
  if (value instanceof Uint8Array) return binaryStreamOf(value);
  throw clientError("protocol", `${what} returned ${describeValue(value)}, not binary`, { value });
}

// Whether a call's rejection means it stopped waiting (its reply may still come).
function gaveUp(error: unknown): boolean {
  const kind = error instanceof WslinkError ? (error.data as { kind?: unknown })?.kind : undefined;
  return kind === "timeout" || kind === "aborted";
}
