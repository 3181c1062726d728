/**
 * The events a `WslinkSession` emits, listened to with `session.on()`.
 * @module
 */

/** The session ended; emitted once, whatever ended it. */
export interface SessionCloseEvent {
  /** The WebSocket close code (1006 when the connection dropped without one). */
  readonly code: number;
  /** The close reason, or what went wrong. */
  readonly reason: string;
  /** Whether the session was closed by `close()` (or dispose) on this side. */
  readonly local: boolean;
}

/**
 * What an `error` event reports. None of these end the session.
 *
 * - `text-frame`: a text frame (not part of the protocol), dropped.
 * - `frame-refused`: the un-chunker refused a frame (`error` is a `ChunkError`), or the frame was
 *   neither text nor binary.
 * - `undecodable`: a complete message that is not valid msgpack, or declares a length its bytes
 *   cannot hold, or nests deeper than `maxMessageDepth` (`error` is a `protocol` `WslinkError`,
 *   `data.cause` the decoder's error). Reported only when no call could be told: a reply whose
 *   top-level `id` can still be read rejects its call instead, and before the hello reply any
 *   such message rejects `connect()`.
 * - `not-a-map`: a message that is not a map.
 * - `unknown-id`: a reply to an id no call is waiting for (late replies to calls that timed out
 *   or were aborted are dropped quietly instead).
 * - `protocol-violation`: an envelope the protocol does not allow (an id that is not a string, a
 *   publish id without a topic).
 * - `subscriber-threw`: a subscription callback threw (`error`); the other subscribers still ran.
 * - `listener-threw`: a `close` or `progress` listener threw (`error`).
 */
export type SessionErrorKind =
  | "text-frame"
  | "frame-refused"
  | "undecodable"
  | "not-a-map"
  | "unknown-id"
  | "protocol-violation"
  | "subscriber-threw"
  | "listener-threw";

/** Something went wrong that the session survived. */
export interface SessionErrorEvent {
  /** What kind of problem. */
  readonly kind: SessionErrorKind;
  /** The exception or a `WslinkError` describing the problem. */
  readonly error: unknown;
  /** The decoded message involved, when there is one. */
  readonly message?: unknown;
  /** The topic, for `subscriber-threw`. */
  readonly topic?: string;
}

/** Progress of an incoming message that spans several frames; once per accepted frame. */
export interface SessionProgressEvent {
  /** The message id from the frame headers (a random uint32, not the envelope's id). */
  readonly id: number;
  /** Bytes of the message received so far. */
  readonly received: number;
  /** The message's total size in bytes; `received === total` on its last frame. */
  readonly total: number;
}

/** Every event of a `WslinkSession`, by type. */
export interface SessionEventMap {
  /** The connection ended. */
  close: SessionCloseEvent;
  /** Something went wrong that no call could be told about. */
  error: SessionErrorEvent;
  /** A frame of a multi-frame message arrived. */
  progress: SessionProgressEvent;
}

/** A listener of events of type `K`. */
export type SessionEventListener<K extends keyof SessionEventMap> = (
  event: SessionEventMap[K],
) => void;
