// Where a whole message goes once it is read: a reply settles its call, a publish goes to its
// topic's subscribers, a streamed reply's error ends its stream, and anything the protocol does not
// allow is reported and dropped. Also the frame's way in: streamed results first, then the
// un-chunker and the decoder.
import { isMap, readReply, typeName } from "../protocol/envelope.ts";
import { HELLO_ID, isPublishId } from "../protocol/ids.ts";
import { clientError } from "./errors.ts";
import type { SessionErrorKind } from "./events.ts";
import type { PendingCalls } from "./_pending.ts";
import type { UnChunker } from "../codec/unchunker.ts";
import { MessageReader } from "./_reader.ts";
import type { ResolvedSessionOptions } from "./_resolve_options.ts";
import { StreamRouter } from "./_stream.ts";
import type { TopicRegistry } from "./_topics.ts";

/** What the dispatcher hands messages to, and what it asks the session. */
export interface DispatchTargets {
  readonly reader: MessageReader;
  readonly streams: StreamRouter;
  readonly pending: PendingCalls;
  readonly topics: TopicRegistry;
  /** Whether the session has ended: then frames are dropped. */
  readonly closed: () => boolean;
  /** Whether the hello's reply has come (before it, only that reply may arrive). */
  readonly handshaken: () => boolean;
  /** Reports an `error` event. */
  readonly report: (kind: SessionErrorKind, error: unknown, message?: unknown) => void;
}

/** Takes a session's incoming frames to the call, topic or stream they belong to. */
export class MessageDispatcher {
  readonly #to: DispatchTargets;

  constructor(targets: DispatchTargets) {
    this.#to = targets;
  }

  /** One WebSocket message event's data. */
  receive(data: unknown): void {
    if (this.#to.closed()) return;
    const frame = this.#to.reader.frameOf(data);
    if (frame === undefined || this.#to.streams.route(frame)) return;
    this.readBuffered(frame, data);
  }

  /** A frame of a message that is reassembled whole before it is decoded. */
  readBuffered(frame: Uint8Array, data: unknown): void {
    if (this.#to.closed()) return;
    const bytes = this.#to.reader.readFrame(frame, data);
    // A progress listener may have closed the session.
    if (bytes === undefined || this.#to.closed()) return;
    const decoded = this.#to.reader.decode(bytes);
    if ("message" in decoded) this.#dispatch(decoded.message);
    else this.#undecodable(decoded.problem, decoded.detail, decoded.id);
  }

  // A message that does not decode still settles the call it answers, when its id can be read
  // (or before the handshake, when only the hello's reply may come): that call rejects with the
  // `protocol` error. Otherwise the error is reported, and the call it answered, if any, waits.
  #undecodable(
    problem: string,
    detail: Readonly<Record<string, unknown>>,
    id: string | undefined,
  ): void {
    const answered = id ?? (this.#to.handshaken() ? undefined : HELLO_ID);
    if (answered !== undefined && !isPublishId(answered)) {
      const settled = this.#to.pending.settle(answered, { kind: "malformed", problem, detail });
      if (settled !== "unknown") return;
    }
    this.#refuse("undecodable", problem, undefined, detail);
  }

  #dispatch(message: unknown): void {
    if (!isMap(message)) {
      const problem = `a message must be a map, got ${typeName(message)}`;
      return this.#refuse("not-a-map", problem, message);
    }
    const id = message.id;
    if (id === undefined) return; // a notification: the protocol says to ignore it
    if (typeof id !== "string") {
      const problem = `a message id must be a string, got ${typeName(id)}`;
      return this.#refuse("protocol-violation", problem, message);
    }
    if (isPublishId(id)) {
      if (this.#to.topics.publish(id, message)) return;
      return this.#refuse("protocol-violation", `a publish id without topic: "${id}"`, message);
    }
    const outcome = readReply(message);
    const settled = this.#to.pending.settle(id, outcome);
    if (settled !== "unknown") return; // a reply, or the late reply of a call that gave up
    if (this.#to.streams.failStream(id, outcome)) return; // the server gave up midway
    this.#refuse("unknown-id", `a reply to "${id}", which no call is waiting for`, message);
  }

  /** Reports something the protocol does not allow, which was dropped. */
  #refuse(
    kind: SessionErrorKind,
    problem: string,
    message?: unknown,
    detail?: Readonly<Record<string, unknown>>,
  ): void {
    this.#to.report(kind, clientError("protocol", problem, detail), message);
  }
}

/** What the incoming path needs of its session, besides the parts it builds. */
export type IncomingHooks = Omit<DispatchTargets, "reader" | "streams"> & {
  /** Reports a multi-frame message's progress (`progress` events). */
  readonly progress: (chunkId: number, received: number, total: number) => void;
};

/** A session's way in, from frames to the calls, topics and streams they belong to. */
export interface IncomingPath {
  readonly reader: MessageReader;
  readonly streams: StreamRouter;
  readonly dispatcher: MessageDispatcher;
}

/** Builds a session's way in: the reader, the stream router and the dispatcher, wired together. */
export function createIncomingPath(
  options: ResolvedSessionOptions,
  unchunker: UnChunker,
  hooks: IncomingHooks,
): IncomingPath {
  const reader = new MessageReader(
    unchunker,
    { useBigInt64: options.useBigInt64, maxDepth: options.maxMessageDepth },
    (kind, error) => hooks.report(kind, error),
    (chunkId, outcome) => streams.noteBuffered(chunkId, outcome),
  );
  const streams: StreamRouter = new StreamRouter({
    maxPendingBytes: options.maxPendingBytes,
    maxPendingMessages: options.maxPendingMessages,
    maxStreamSize: options.maxStreamSize,
    buffered: () => reader.pending,
    readBuffered: (frame) => dispatcher.readBuffered(frame, frame.buffer),
    settle: (id, value) => hooks.pending.settle(id, { kind: "result", result: value }),
    progress: hooks.progress,
  });
  const dispatcher = new MessageDispatcher({ ...hooks, reader, streams });
  return { reader, streams, dispatcher };
}
