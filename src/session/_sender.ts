// The sending side of a session: encoded messages go out as frames, at once when the socket has
// room, else in order through an outbox that waits on `bufferedAmount`, so that a 1 GiB upload
// never buffers 1 GiB. Written against two members of the standard WebSocket, not the socket.
import { generateChunks } from "../codec/chunker.ts";
import { HEADER_LENGTH } from "../codec/header.ts";

/** What the sender needs of a socket: three members of the standard `WebSocket`. */
export interface FrameSink {
  /** Sends one binary frame; throws when the socket is broken. */
  send(frame: Uint8Array): void;
  /** Bytes handed to `send` and not yet written out (`undefined` reads as 0). */
  readonly bufferedAmount: number;
  /**
   * 1 while open; once closing (2) or closed (3) nothing more is sent. A socket that is closing
   * discards what it is given and may report a `bufferedAmount` of 0 (Node's does), which would
   * otherwise let a large message run through the whole outbox at once. `undefined`: open.
   */
  readonly readyState?: number;
}

// The standard WebSocket's OPEN readyState.
const OPEN = 1;

/** A message in the outbox. */
export interface OutgoingMessage {
  /** The encoded message (a copy the sender owns). */
  readonly bytes: Uint8Array;
  /** Set when its call is over or the sender closed: stop sending it. */
  cancelled: boolean;
}

/** How a {@link Sender} is set up. */
export interface SenderOptions {
  /** The socket, or anything with `send` and `bufferedAmount`. */
  readonly sink: FrameSink;
  /** Bytes the sink may hold unsent before a message waits for it to drain. */
  readonly highWaterMark: number;
  /** Frames are at most this many bytes, header included; 0: one frame per message. */
  readonly frameLimit: number;
  /** Sending threw: the connection is broken. The sender is closed by then. */
  readonly onFailure: (error: unknown) => void;
}

// How often a send blocked on `bufferedAmount` looks again: the standard WebSocket has no event
// for "drained", so polling is the only portable way.
const BACKPRESSURE_POLL_MS = 4;

/** Sends encoded messages in order as frames, with backpressure. */
export class Sender {
  /** Frames are at most this many bytes (0: no limit); takes effect from the next frame. */
  frameLimit: number;
  readonly #sink: FrameSink;
  readonly #highWaterMark: number;
  readonly #onFailure: (error: unknown) => void;
  readonly #outbox: OutgoingMessage[] = [];
  #pumping = false;
  #closed = false;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #wakePump: (() => void) | undefined;

  constructor(options: SenderOptions) {
    this.#sink = options.sink;
    this.#highWaterMark = options.highWaterMark;
    this.frameLimit = options.frameLimit;
    this.#onFailure = options.onFailure;
  }

  /** Messages waiting in the outbox (the one being sent included). */
  get queued(): number {
    return this.#outbox.length;
  }

  /**
   * Sends an encoded message. `bytes` may be an encoder's shared buffer: it is consumed or copied
   * before this returns. Returns the queued message, or `undefined` when it went out at once
   * (or the sender is closed).
   */
  send(bytes: Uint8Array): OutgoingMessage | undefined {
    if (this.#closed) return undefined;
    const limit = this.frameLimit;
    const frameSize = bytes.byteLength + HEADER_LENGTH;
    if (
      this.#outbox.length === 0 && (limit === 0 || frameSize <= limit) && this.#hasRoom(frameSize)
    ) {
      for (const frame of generateChunks(bytes, limit)) if (!this.sendFrame(frame)) break;
      return undefined;
    }
    const outgoing: OutgoingMessage = { bytes: bytes.slice(), cancelled: false };
    this.#outbox.push(outgoing);
    void this.#pump();
    return outgoing;
  }

  /**
   * Sends one ready frame now, ahead of the outbox; false when sending failed, the sender is
   * closed, or the socket is no longer open.
   */
  sendFrame(frame: Uint8Array): boolean {
    if (this.#closed || !this.#sinkOpen()) return false;
    try {
      this.#sink.send(frame);
      return true;
    } catch (error) {
      this.#fail(error);
      return false;
    }
  }

  /** Stops sending `outgoing` (its call is over); frames already sent stay sent. */
  cancel(outgoing: OutgoingMessage | undefined): void {
    if (outgoing === undefined || outgoing.cancelled) return;
    outgoing.cancelled = true;
    const index = this.#outbox.indexOf(outgoing);
    if (index > 0) this.#outbox.splice(index, 1);
    else if (index === 0) this.#stopWaiting();
  }

  /** Drops the outbox and stops waiting; nothing is sent after this. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const outgoing of this.#outbox) outgoing.cancelled = true;
    this.#outbox.length = 0;
    this.#stopWaiting();
  }

  /** Sends the queued messages in order, one frame at a time, waiting on `bufferedAmount`. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      // A socket that left the open state never sends again: the messages wait for close().
      while (!this.#closed && this.#outbox.length > 0 && this.#sinkOpen()) {
        const outgoing = this.#outbox[0];
        for (const frame of generateChunks(outgoing.bytes, this.frameLimit)) {
          if (!this.#hasRoom(frame.byteLength)) await this.#roomFor(frame.byteLength);
          if (this.#closed || outgoing.cancelled) break;
          if (!this.sendFrame(frame)) break;
        }
        if (this.#outbox[0] === outgoing) this.#outbox.shift();
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#pumping = false;
    }
  }

  #fail(error: unknown): void {
    this.close();
    this.#onFailure(error);
  }

  #sinkOpen(): boolean {
    const state = this.#sink.readyState;
    return state === undefined || state === OPEN;
  }

  #hasRoom(frameSize: number): boolean {
    const buffered = this.#sink.bufferedAmount ?? 0;
    return buffered === 0 || buffered + frameSize <= this.#highWaterMark;
  }

  /** Resolves when the sink can take `frameSize` more bytes, or the wait was cut short. */
  #roomFor(frameSize: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        this.#pollTimer = undefined;
        if (this.#closed || !this.#sinkOpen() || this.#hasRoom(frameSize)) this.#stopWaiting();
        else this.#pollTimer = setTimeout(check, BACKPRESSURE_POLL_MS);
      };
      this.#wakePump = resolve;
      this.#pollTimer = setTimeout(check, BACKPRESSURE_POLL_MS);
    });
  }

  #stopWaiting(): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    const wake = this.#wakePump;
    this.#wakePump = undefined;
    wake?.();
  }
}
