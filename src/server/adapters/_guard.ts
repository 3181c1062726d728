// What every adapter enforces on its sockets the same way: the send budget (a peer that stops
// reading cannot make the server queue without end) and the heartbeat (only the pong answering
// this server's own ping counts; a send queue that does not move across a heartbeat is dead).
// An adapter wraps its runtime's socket in a `RuntimeSocket` and hands a `GuardedSocket` to the
// core.
import type { Logger } from "../log.ts";
import type { AdapterSocket, AdapterSocketHandlers } from "./types.ts";

/** The close code and reasons of the connections an adapter drops itself. */
export const DROPPED = {
  /** WebSocket "policy violation". */
  code: 1008,
  /** More than the send budget was still queued when a new message was to be sent. */
  overBudget: "Send queue over budget",
  /** Bytes were queued at the last heartbeat and none of them was written since. */
  stalled: "Send queue stalled",
  /** The ping sent at the last heartbeat was not answered with its payload. */
  noPong: "No pong",
} as const;

/** Milliseconds a dropped connection gets to finish its closing handshake before it is cut. */
export const DROP_GRACE_MS = 5_000;

/** The bytes of a ping payload: random, so that no unsolicited pong can match it. */
const PING_PAYLOAD_BYTES = 8;

/** What the guard needs from one runtime socket. */
export interface RuntimeSocket {
  /** Whether frames may still be sent. */
  isOpen(): boolean;
  /** Bytes given to `write` and not yet handed to the operating system. */
  buffered(): number;
  /** Queues one frame. Only called while open. */
  write(frame: Uint8Array): void;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /**
   * Sends a ping carrying `payload`; false when the runtime dropped it (Bun, over its
   * backpressure limit). Absent where the runtime cannot ping (Deno).
   */
  ping?(payload: Uint8Array): boolean;
  /** Drops the connection at once; absent where the runtime cannot (Deno). */
  terminate?(): void;
}

/** Limits of a {@link GuardedSocket}. */
export interface GuardOptions {
  /** A message is refused, and the socket closed, when more than this many bytes are queued. */
  readonly sendBudget: number;
  /** Seconds between heartbeats; 0: none. */
  readonly heartbeat: number;
  /** Receives a line for each socket dropped. */
  readonly log: Logger;
  /** The peer's address, for the log. */
  readonly remoteAddress: string | undefined;
}

/** A runtime socket under the send budget and the heartbeat; the core sees it as an AdapterSocket. */
export class GuardedSocket implements AdapterSocket {
  readonly #socket: RuntimeSocket;
  readonly #options: GuardOptions;
  #handlers: AdapterSocketHandlers | undefined;
  // Whether the core was told the socket closed, and whether the runtime said so.
  #reported = false;
  #runtimeClosed = false;
  #closedWith: [code: number, reason: string] = [1006, ""];
  // The code and reason of the close this side started.
  #closing: [code: number, reason: string] | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  // The payload of the last ping, until its pong comes back.
  #awaitedPong: Uint8Array | undefined;
  // Bytes queued at the last heartbeat, and bytes written into the queue since.
  #queuedAtBeat = 0;
  #addedSinceBeat = 0;

  constructor(socket: RuntimeSocket, options: GuardOptions) {
    this.#socket = socket;
    this.#options = options;
    if (options.heartbeat > 0) {
      this.#timer = setInterval(() => this.#beat(), options.heartbeat * 1000);
    }
  }

  /** Connects the core's handlers, once the core has opened its side of the socket. */
  attach(handlers: AdapterSocketHandlers): void {
    this.#handlers = handlers;
    // Closed while the core was opening its side (a server shutting down).
    if (this.#reported) handlers.close(...this.#closedWith);
  }

  get bufferedAmount(): number {
    return this.#reported ? 0 : this.#socket.buffered();
  }

  send(frames: readonly Uint8Array[]): boolean {
    if (this.#reported || !this.#socket.isOpen()) return false;
    const queued = this.#socket.buffered();
    if (queued > this.#options.sendBudget) {
      this.#drop(
        DROPPED.overBudget,
        `${queued} bytes queued, the budget is ${this.#options.sendBudget}`,
      );
      return false;
    }
    for (const frame of frames) {
      this.#addedSinceBeat += frame.byteLength;
      this.#socket.write(frame);
    }
    return true;
  }

  close(code: number, reason: string): void {
    if (this.#reported || !this.#socket.isOpen()) return;
    this.#closing = [code, reason];
    this.#socket.close(code, reason);
    this.#cutLater();
  }

  /** The runtime received a pong; it counts only when it carries the last ping's payload. */
  pong(payload: Uint8Array): void {
    const awaited = this.#awaitedPong;
    if (awaited !== undefined && sameBytes(awaited, payload)) this.#awaitedPong = undefined;
  }

  /**
   * The runtime reports the socket closed. The core hears of it once, whoever reports first, with
   * the code and reason this side closed with, if it did.
   */
  closed(code: number, reason: string): void {
    this.#runtimeClosed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#graceTimer);
    this.#report(...this.#closing ?? [code, reason]);
  }

  #beat(): void {
    if (this.#reported) return;
    if (!this.#socket.isOpen()) {
      // The runtime started closing by itself (Deno's idle timeout): give it the same grace.
      this.#cutLater();
      return;
    }
    const queued = this.#socket.buffered();
    const written = this.#queuedAtBeat + this.#addedSinceBeat - queued;
    const stalled = this.#queuedAtBeat > 0 && written <= 0;
    this.#queuedAtBeat = queued;
    this.#addedSinceBeat = 0;
    if (stalled) {
      this.#drop(DROPPED.stalled, `${queued} bytes queued and none written for a heartbeat`);
      return;
    }
    if (this.#socket.ping === undefined) return;
    if (this.#awaitedPong !== undefined) {
      this.#drop(DROPPED.noPong, "no pong answered the last ping");
      return;
    }
    const payload = crypto.getRandomValues(new Uint8Array(PING_PAYLOAD_BYTES));
    // A ping the runtime dropped awaits no pong; the stalled-queue rule watches that socket.
    if (this.#socket.ping(payload)) this.#awaitedPong = payload;
  }

  // Closes with 1008, tells the core now (nothing more is sent to this peer), and cuts the
  // connection if the handshake has not finished after a grace period.
  #drop(reason: string, detail: string): void {
    const address = this.#options.remoteAddress ?? "unknown address";
    this.#options.log("warn", `dropping a client at ${address}: ${reason} (${detail})`);
    clearInterval(this.#timer);
    this.#report(DROPPED.code, reason);
    this.#socket.close(DROPPED.code, reason);
    this.#cutLater();
  }

  #report(code: number, reason: string): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#closedWith = [code, reason];
    this.#handlers?.close(code, reason);
  }

  // A peer that does not read does not read its close frame either: once the grace is over, the
  // connection is cut (where the runtime can) and the core told it is closed (1006).
  #cutLater(): void {
    if (this.#runtimeClosed) return;
    this.#graceTimer ??= setTimeout(() => {
      this.#socket.terminate?.();
      this.closed(1006, "closing handshake not completed");
    }, DROP_GRACE_MS);
  }
}

function sameBytes(first: Uint8Array, second: Uint8Array): boolean {
  if (first.byteLength !== second.byteLength) return false;
  for (let index = 0; index < first.byteLength; index++) {
    if (first[index] !== second[index]) return false;
  }
  return true;
}
