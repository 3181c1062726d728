/**
 * {@link WslinkSession}: one connection to a wslink server over the standard `WebSocket`, with
 * the hello handshake, calls, subscriptions and events.
 * @module
 */
import { generateChunks } from "../codec/chunker.ts";
import { HEADER_LENGTH } from "../codec/header.ts";
import { createUnChunker, type UnChunker } from "../codec/unchunker.ts";
import { createMessageCodec, type MessageCodec } from "../msgpack.ts";
import { createEnvelopeDecoder } from "./_envelope.ts";
import { clientError, WslinkError } from "./errors.ts";
import {
  type SessionErrorKind,
  type SessionEventListener,
  type SessionEventMap,
  SessionEvents,
} from "./events.ts";
import { callId, HELLO_ID, type ParsedMessageId, parseMessageId } from "./ids.ts";
import {
  checkDuration,
  MIN_FRAME_SIZE,
  type ResolvedSessionOptions,
  resolveSessionOptions,
  smallestLimit,
  type WslinkSessionOptions,
} from "./options.ts";
import {
  CallbackSubscription,
  type Subscription,
  TopicStream,
  type TopicStreamOptions,
  type TopicSubscriber,
} from "./subscription.ts";

/** Options of one {@link WslinkSession.call}. */
export type CallOptions = Readonly<
  Partial<{
    /** Milliseconds to wait for the reply; 0 means none. Default: the session's `callTimeout`. */
    timeout: number;
    /** Aborts the call: it rejects with code -32099 and its late reply is dropped. */
    signal: AbortSignal;
  }>
>;

/** The largest hello the reference server accepts before authentication (WSLINK_AUTH_MSG_SIZE). */
export const HELLO_SIZE_LIMIT = 512;

// How often a send blocked on `bufferedAmount` looks again: the standard WebSocket has no event
// for "drained", so polling is the only portable way.
const BACKPRESSURE_POLL_MS = 4;
// How long close() waits for the socket to confirm before giving up on it.
const CLOSE_CONFIRM_MS = 3_000;
// Ids of calls that timed out or were aborted, remembered so their late replies drop quietly.
const ABANDONED_ID_MEMORY = 4_096;
// WebSocket readyState values (read from the instance, so any implementation works).
const CONNECTING = 0;
const OPEN = 1;

interface PendingCall {
  resolve(result: unknown): void;
  reject(error: WslinkError): void;
  /** The message still being sent, when it did not go out at once. */
  outgoing: OutgoingMessage | undefined;
}

interface OutgoingMessage {
  /** The encoded message (a copy the session owns). */
  readonly bytes: Uint8Array;
  /** Set when its call timed out, was aborted or the session closed: stop sending it. */
  cancelled: boolean;
}

interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly local: boolean;
}

// Guards the constructor: sessions come from connect(), already handshaken.
const constructorKey = Symbol("WslinkSession");

/**
 * A connection to a wslink server (trame, ParaView Web, VTK web).
 *
 * Nothing hangs: when the socket closes for any reason every pending call rejects at once with
 * code -32099 and the close reason, every async iterator of a subscription ends, and no timer is
 * left behind. Malformed input (text frames, bad chunks, bytes that are not msgpack, messages that
 * are not maps, replies to unknown ids) is reported as an `error` event and the session goes on.
 *
 * Memory contract: arguments are encoded when `call()` is called, so their buffers may be reused
 * as soon as it returns. A received `bin` arrives as a `Uint8Array` *view*, never a copy: of the
 * WebSocket frame's `ArrayBuffer` for a message in one frame, of the reassembled message buffer
 * for a message in several. Nothing reuses either buffer, so the views stay valid; keeping one
 * keeps its whole message alive (copy it with `slice()` to keep a small part of a big message).
 *
 * @example
 * ```ts
 * import { WslinkSession } from "@trame-wire/client";
 * import { serve } from "@trame-wire/client/server";
 *
 * // A trame application, or here the embedded server with an `add` trigger.
 * await using server = await serve({ port: 0, state: { counter: 0 } });
 * server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
 * await using session = await WslinkSession.connect(server.url);
 * using _ = session.subscribe("trame.state.topic", (changes) => console.log(changes));
 * const { state } = await session.call("trame.state.get") as { state: Record<string, unknown> };
 * console.log(session.clientId, Object.keys(state));
 * console.log(await session.call("trame.trigger", ["add", [1, 2, 3], {}], {}, { timeout: 5000 }));
 * ```
 */
export class WslinkSession implements AsyncDisposable {
  readonly #url: string;
  readonly #socket: WebSocket;
  readonly #options: ResolvedSessionOptions;
  readonly #codec: MessageCodec;
  readonly #decode: (bytes: Uint8Array) => unknown;
  readonly #unchunker: UnChunker;
  readonly #events = new SessionEvents();
  readonly #pending = new Map<string, PendingCall>();
  readonly #abandoned = new Set<string>();
  readonly #subscribers = new Map<string, Set<TopicSubscriber>>();
  readonly #outbox: OutgoingMessage[] = [];
  readonly #socketClosed: Promise<void>;
  #pumping = false;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #wakePump: (() => void) | undefined;
  #closeInfo: CloseInfo | undefined;
  #socketError = "";
  #clientId = "";
  #maxMsgSize = 0;
  #frameLimit: number;
  // Call counters start at 1: the hello is message 0 of the connection (as in the reference
  // captures, whose first call after the hello is `rpc:{clientId}:1`).
  #nextCallNumber = 1;
  #lastPublishId = "";
  #lastPublishParsed: ParsedMessageId | undefined;

  /** Not for direct use: sessions come from {@link WslinkSession.connect}. */
  constructor(
    key: symbol,
    url: string,
    options: ResolvedSessionOptions,
    codec: MessageCodec,
    unchunker: UnChunker,
  ) {
    if (key !== constructorKey) throw new TypeError("use WslinkSession.connect()");
    this.#url = url;
    this.#options = options;
    this.#codec = codec;
    this.#decode = createEnvelopeDecoder(codec);
    this.#unchunker = unchunker;
    this.#frameLimit = options.maxFrameSize;
    let markSocketClosed!: () => void;
    this.#socketClosed = new Promise((resolve) => markSocketClosed = resolve);
    const socket = new options.WebSocket(url);
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("error", (event) => {
      this.#socketError = String((event as ErrorEvent).message ?? "") || "WebSocket error";
    });
    socket.addEventListener("close", (event) => {
      markSocketClosed();
      this.#abort(event.code || 1006, event.reason || this.#socketError, false);
    });
  }

  /**
   * Opens a WebSocket to `url` (`ws:` or `wss:` only, else `TypeError`), sends the hello and
   * resolves once the server accepted it.
   *
   * Rejects with a `WslinkError`: the server's (code -32000 for a wrong secret), or -32099 when
   * the hello would exceed the reference server's 512-byte pre-authentication limit (refused
   * before connecting), when no reply came within `helloTimeout`, when the socket closed, or when
   * `signal` aborted. The socket is closed whenever it rejects.
   *
   * @example
   * ```ts
   * import { UNAUTHORIZED, WslinkError, WslinkSession } from "@trame-wire/client";
   * try {
   *   const session = await WslinkSession.connect("ws://127.0.0.1:8080/ws", { secret: "s3cret" });
   *   await session.close();
   * } catch (error) {
   *   if (error instanceof WslinkError && error.code === UNAUTHORIZED) console.log("bad secret");
   *   else console.log("could not connect:", error);
   * }
   * ```
   */
  static async connect(
    url: string | URL,
    options: WslinkSessionOptions = {},
  ): Promise<WslinkSession> {
    const target = checkUrl(url);
    const resolved = resolveSessionOptions(options);
    const codec = createMessageCodec({ useBigInt64: resolved.useBigInt64 });
    const hello = codec.encode({
      wslink: "1.0",
      id: HELLO_ID,
      method: "wslink.hello",
      args: [{ secret: resolved.secret }],
      kwargs: {},
    });
    // The server limits the size the message declares in its chunk headers, header excluded.
    if (hello.byteLength > HELLO_SIZE_LIMIT) {
      throw clientError(
        "hello-too-large",
        `the hello would be a ${hello.byteLength}-byte message, over the ${HELLO_SIZE_LIMIT} bytes ` +
          "the reference server accepts before authentication (WSLINK_AUTH_MSG_SIZE): " +
          "use a shorter secret",
        { size: hello.byteLength, limit: HELLO_SIZE_LIMIT },
      );
    }
    const helloFrames = [...generateChunks(hello, resolved.maxFrameSize)];
    if (resolved.signal?.aborted) throw abortedError(resolved.signal, "connecting");
    let reportProgress = (_id: number, _received: number, _total: number) => {};
    const unchunker = await createSessionUnChunker(
      resolved,
      (id, received, total) => reportProgress(id, received, total),
    );
    const session = new WslinkSession(constructorKey, target, resolved, codec, unchunker);
    reportProgress = (id, received, total) =>
      session.#events.emit("progress", { id, received, total });
    await session.#handshake(helloFrames);
    return session;
  }

  /** The URL connected to. */
  get url(): string {
    return this.#url;
  }

  /** The client id the server assigned in the hello reply. */
  get clientId(): string {
    return this.#clientId;
  }

  /** The server's frame limit from the hello reply (`maxMsgSize`), header included. */
  get maxMsgSize(): number {
    return this.#maxMsgSize;
  }

  /**
   * The largest frame this session sends: the smallest of `maxMsgSize`, `WSLINK_MAX_MSG_SIZE`
   * and the `maxFrameSize` option (0: no limit at all).
   */
  get maxFrameSize(): number {
    return this.#frameLimit;
  }

  /** Whether the session has ended (closed here or by the server). */
  get closed(): boolean {
    return this.#closeInfo !== undefined;
  }

  /**
   * Calls `method` on the server. Resolves with the reply's `result`; rejects with a
   * `WslinkError` carrying the server's `{ code, message, data }` exactly, or code -32099 when the
   * session is closed, the call timed out, `signal` aborted it, or the arguments cannot be encoded.
   * A call that timed out or was aborted frees its slot, and its late reply is dropped quietly.
   *
   * Typed arrays, `DataView` and `ArrayBuffer` travel as msgpack `bin`. Never throws: every
   * failure is a rejection.
   *
   * @example
   * ```ts
   * import { WslinkSession } from "@trame-wire/client";
   * import { serve } from "@trame-wire/client/server";
   *
   * await using server = await serve({ port: 0 });
   * server.trigger("upload", ([pixels]) => (pixels as Uint8Array).byteLength);
   * await using session = await WslinkSession.connect(server.url);
   * const pixels = new Float32Array([0.5, 1.5]);
   * await session.call("trame.trigger", ["upload", [pixels], {}], {}, {
   *   signal: AbortSignal.timeout(10_000),
   * });
   * ```
   */
  call<T = unknown>(
    method: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: CallOptions = {},
  ): Promise<T> {
    if (this.#closeInfo !== undefined) return Promise.reject(this.#closedError());
    const timeout = options.timeout ?? this.#options.callTimeout;
    const signal = options.signal;
    try {
      if (typeof method !== "string") throw new TypeError("method must be a string");
      if (!Array.isArray(args)) throw new TypeError("args must be an array");
      if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) {
        throw new TypeError("kwargs must be an object");
      }
      checkDuration("timeout", timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(abortedError(signal, `the call of ${method}`));
    const id = callId(this.#clientId, this.#nextCallNumber++);
    let bytes: Uint8Array;
    try {
      bytes = this.#codec.encode({ wslink: "1.0", id, method, args, kwargs });
      if (bytes.byteLength >= 2 ** 32) throw new RangeError("a message is at most 2^32-1 bytes");
    } catch (cause) {
      return Promise.reject(
        clientError("encode", `cannot encode the call of ${method}: ${String(cause)}`, { cause }),
      );
    }
    const result = this.#track(id, timeout, signal, `the call of ${method}`);
    const pending = this.#pending.get(id);
    const outgoing = this.#send(bytes);
    if (pending !== undefined) pending.outgoing = outgoing;
    return result as Promise<T>;
  }

  /**
   * Subscribes to the server's publishes on `topic`. With a callback, returns a
   * {@link Subscription} (`unsubscribe()`, `using`); the callback gets each payload (the publish's
   * `result`) and the topic, and an exception it throws becomes an `error` event while the other
   * subscribers still run. Without a callback, returns a {@link TopicStream} to iterate with
   * `for await`, with a bounded buffer (see {@link TopicStreamOptions}).
   *
   * wslink subscriptions are local: the server publishes every topic to every client, and this
   * session hands each publish to the subscribers of its topic.
   *
   * @example
   * ```ts
   * import { WslinkSession } from "@trame-wire/client";
   * import { serve } from "@trame-wire/client/server";
   *
   * await using server = await serve({ port: 0, state: { counter: 0 } });
   * await using session = await WslinkSession.connect(server.url);
   * setTimeout(() => server.state.set("counter", 1), 10); // publishes on trame.state.topic
   * for await (const changes of session.subscribe("trame.state.topic", { bufferSize: 64 })) {
   *   console.log(changes);
   *   break; // leaving the loop unsubscribes
   * }
   * ```
   */
  subscribe(topic: string, callback: (payload: unknown, topic: string) => void): Subscription;
  /** Subscribes to `topic` as a {@link TopicStream} to iterate with `for await`. */
  subscribe(topic: string, options?: TopicStreamOptions): TopicStream;
  subscribe(
    topic: string,
    callbackOrOptions?: ((payload: unknown, topic: string) => void) | TopicStreamOptions,
  ): Subscription | TopicStream {
    if (typeof topic !== "string") throw new TypeError("topic must be a string");
    const detach = (subscriber: TopicSubscriber) => {
      const subscribers = this.#subscribers.get(topic);
      subscribers?.delete(subscriber);
      if (subscribers?.size === 0) this.#subscribers.delete(topic);
    };
    const subscriber = typeof callbackOrOptions === "function"
      ? new CallbackSubscription(topic, callbackOrOptions, detach)
      : new TopicStream(topic, callbackOrOptions ?? {}, detach);
    if (this.#closeInfo !== undefined) {
      subscriber.end();
      return subscriber;
    }
    let subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined) this.#subscribers.set(topic, subscribers = new Set());
    subscribers.add(subscriber);
    return subscriber;
  }

  /**
   * Listens to `close`, `error` or `progress` events; returns a function that stops listening.
   *
   * @example
   * ```ts
   * import { WslinkSession } from "@trame-wire/client";
   * import { serve } from "@trame-wire/client/server";
   *
   * await using server = await serve({ port: 0 });
   * await using session = await WslinkSession.connect(server.url);
   * const stop = session.on("progress", ({ received, total }) => console.log(received / total));
   * session.on("error", ({ kind, error }) => console.warn(kind, error));
   * session.on("close", ({ code, reason }) => console.log("closed", code, reason));
   * stop();
   * ```
   */
  on<K extends keyof SessionEventMap>(type: K, listener: SessionEventListener<K>): () => void {
    return this.#events.on(type, listener);
  }

  /**
   * Ends the session: pending calls reject with -32099, subscriptions end, the socket closes
   * with `code` (1000 or 3000 to 4999) and `reason`. Resolves once the socket confirmed the close
   * (or after 3 s without confirmation). Calling it again does nothing more.
   */
  async close(code = 1000, reason = ""): Promise<void> {
    if (this.#closeInfo === undefined) {
      if (code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
        throw new RangeError(`close code must be 1000 or from 3000 to 4999, got ${code}`);
      }
      this.#abort(code, String(reason), true);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_CONFIRM_MS));
    await Promise.race([this.#socketClosed, gaveUp]);
    clearTimeout(timer);
  }

  /** Closes the session, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #handshake(helloFrames: readonly Uint8Array[]): Promise<void> {
    const { helloTimeout, signal } = this.#options;
    const reply = this.#track(HELLO_ID, helloTimeout, signal, "the hello");
    this.#socket.addEventListener("open", () => {
      for (const frame of helloFrames) if (!this.#socketSend(frame)) return;
    }, { once: true });
    try {
      const result = await reply;
      const hello = result as { clientID?: unknown; maxMsgSize?: unknown } | null;
      const clientId = isMap(hello) ? hello.clientID : undefined;
      const maxMsgSize = isMap(hello) ? Number(hello.maxMsgSize) : NaN;
      if (
        typeof clientId !== "string" || !Number.isSafeInteger(maxMsgSize) || maxMsgSize < 0 ||
        (maxMsgSize > 0 && maxMsgSize < MIN_FRAME_SIZE)
      ) {
        throw clientError("protocol", "the hello reply lacks a valid clientID and maxMsgSize", {
          result,
        });
      }
      this.#clientId = clientId;
      this.#maxMsgSize = maxMsgSize;
      this.#frameLimit = smallestLimit(maxMsgSize, this.#options.maxFrameSize);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#abort(1000, `hello failed: ${message}`, true);
      await this.close();
      throw error;
    }
  }

  /** Registers a call waiting for the reply to `id`; the promise always settles. */
  #track(
    id: string,
    timeout: number,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const release = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
      };
      const pending: PendingCall = {
        resolve: (result) => {
          release();
          resolve(result);
        },
        reject: (error) => {
          release();
          this.#cancel(pending.outgoing);
          reject(error);
        },
        outgoing: undefined,
      };
      const abandon = (error: WslinkError) => {
        pending.reject(error);
        this.#abandoned.add(id);
        if (this.#abandoned.size > ABANDONED_ID_MEMORY) {
          this.#abandoned.delete(this.#abandoned.values().next().value!);
        }
      };
      const onAbort = () => abandon(abortedError(signal!, what));
      this.#pending.set(id, pending);
      if (timeout > 0) {
        timer = setTimeout(
          () =>
            abandon(
              clientError("timeout", `${what} got no reply within ${timeout} ms`, { timeout }),
            ),
          timeout,
        );
      }
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Sends an encoded message (`bytes` is the codec's shared buffer: it must be consumed or copied
   * before the next encode). Returns the queued message, or `undefined` when it went out at once.
   */
  #send(bytes: Uint8Array): OutgoingMessage | undefined {
    if (this.#closeInfo !== undefined) return undefined;
    const limit = this.#frameLimit;
    const frameSize = bytes.byteLength + HEADER_LENGTH;
    if (
      this.#outbox.length === 0 && (limit === 0 || frameSize <= limit) && this.#hasRoom(frameSize)
    ) {
      for (const frame of generateChunks(bytes, limit)) this.#socketSend(frame);
      return undefined;
    }
    const outgoing: OutgoingMessage = { bytes: bytes.slice(), cancelled: false };
    this.#outbox.push(outgoing);
    void this.#pump();
    return outgoing;
  }

  /** Sends the queued messages in order, one frame at a time, waiting on `bufferedAmount`. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#closeInfo === undefined && this.#outbox.length > 0) {
        const outgoing = this.#outbox[0];
        for (const frame of generateChunks(outgoing.bytes, this.#frameLimit)) {
          if (!this.#hasRoom(frame.byteLength)) await this.#roomFor(frame.byteLength);
          if (this.#closeInfo !== undefined || outgoing.cancelled) break;
          if (!this.#socketSend(frame)) break;
        }
        if (this.#outbox[0] === outgoing) this.#outbox.shift();
      }
    } catch (error) {
      this.#abort(1006, `sending failed: ${String(error)}`, false);
    } finally {
      this.#pumping = false;
    }
  }

  #hasRoom(frameSize: number): boolean {
    const buffered = this.#socket.bufferedAmount ?? 0;
    return buffered === 0 || buffered + frameSize <= this.#options.sendHighWaterMark;
  }

  /** Resolves when the socket can take `frameSize` more bytes, or the wait was cut short. */
  #roomFor(frameSize: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        this.#pollTimer = undefined;
        if (this.#closeInfo !== undefined || this.#hasRoom(frameSize)) this.#stopWaiting();
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

  /** Stops sending a message whose call is over. */
  #cancel(outgoing: OutgoingMessage | undefined): void {
    if (outgoing === undefined || outgoing.cancelled) return;
    outgoing.cancelled = true;
    const index = this.#outbox.indexOf(outgoing);
    if (index > 0) this.#outbox.splice(index, 1);
    else if (index === 0) this.#stopWaiting();
  }

  #socketSend(frame: Uint8Array): boolean {
    try {
      this.#socket.send(frame);
      return true;
    } catch (error) {
      this.#abort(1006, `sending failed: ${String(error)}`, false);
      return false;
    }
  }

  #receive(data: unknown): void {
    if (this.#closeInfo !== undefined) return;
    if (typeof data === "string") {
      return this.#report(
        "text-frame",
        clientError("protocol", "a text frame was dropped: wslink frames are binary"),
      );
    }
    let frame: Uint8Array;
    if (data instanceof ArrayBuffer) frame = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) {
      frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      return this.#report(
        "frame-refused",
        clientError("protocol", `a frame of an unexpected type was dropped: ${typeName(data)}`),
      );
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.#unchunker.push(frame);
    } catch (error) {
      return this.#report("frame-refused", error);
    }
    // A chunk of a message in several frames was copied into the message's buffer: free the
    // frame now rather than at the next garbage collection (peak memory of large messages).
    if (
      data instanceof ArrayBuffer && data.byteLength >= RELEASED_FRAME_BYTES &&
      (bytes === undefined || bytes.buffer !== data)
    ) {
      release(data);
    }
    if (bytes === undefined || this.#closeInfo !== undefined) return;
    let message: unknown;
    try {
      message = this.#decode(bytes);
    } catch (error) {
      return this.#report("undecodable", error);
    }
    this.#dispatch(message);
  }

  #dispatch(message: unknown): void {
    if (!isMap(message)) {
      return this.#report(
        "not-a-map",
        clientError("protocol", `a message must be a map, got ${typeName(message)}`),
        message,
      );
    }
    const id = message.id;
    if (id === undefined) return; // a notification: the protocol says to ignore it
    if (typeof id !== "string") {
      return this.#report(
        "protocol-violation",
        clientError("protocol", `a message id must be a string, got ${typeName(id)}`),
        message,
      );
    }
    if (id.startsWith("publish:")) return this.#publish(id, message);
    const pending = this.#pending.get(id);
    if (pending === undefined) {
      if (this.#abandoned.delete(id)) return; // the late reply of a call that gave up
      return this.#report(
        "unknown-id",
        clientError("protocol", `a reply to "${id}", which no call is waiting for`),
        message,
      );
    }
    const error = message.error;
    if (error !== undefined && error !== null) {
      if (isMap(error) && typeof error.code === "number" && typeof error.message === "string") {
        pending.reject(new WslinkError(error.code, error.message, error.data));
      } else {
        pending.reject(clientError("protocol", "the server sent a malformed error", { error }));
      }
    } else if ("result" in message) {
      pending.resolve(message.result);
    } else {
      pending.reject(
        clientError("protocol", "the reply has neither result nor error", { message }),
      );
    }
  }

  #publish(id: string, message: Record<string, unknown>): void {
    // Publish ids repeat (`publish:{topic}:0`): parse each new one once.
    if (id !== this.#lastPublishId) {
      this.#lastPublishId = id;
      this.#lastPublishParsed = parseMessageId(id);
    }
    const parsed = this.#lastPublishParsed;
    if (parsed === undefined) {
      return this.#report(
        "protocol-violation",
        clientError("protocol", `a publish id without topic: "${id}"`),
        message,
      );
    }
    const subscribers = this.#subscribers.get(parsed.name);
    if (subscribers === undefined) return;
    // Subscribers added or removed by a subscriber's callback take effect from the next publish:
    // a lone subscriber is taken before it runs, several are copied first.
    if (subscribers.size === 1) {
      this.#deliver(subscribers.values().next().value!, message, parsed.name);
    } else {
      for (const subscriber of [...subscribers]) this.#deliver(subscriber, message, parsed.name);
    }
  }

  #deliver(subscriber: TopicSubscriber, message: Record<string, unknown>, topic: string): void {
    try {
      subscriber.deliver(message.result);
    } catch (error) {
      this.#events.emit("error", { kind: "subscriber-threw", error, message, topic });
    }
  }

  #report(kind: SessionErrorKind, error: unknown, message?: unknown): void {
    this.#events.emit("error", message === undefined ? { kind, error } : { kind, error, message });
  }

  #closedError(): WslinkError {
    const { code, reason } = this.#closeInfo!;
    return clientError(
      "closed",
      `the connection is closed (${code}${reason === "" ? "" : `: ${reason}`})`,
      { code, reason },
    );
  }

  /** Ends everything, once: calls, sends, timers, subscriptions, the socket. */
  #abort(code: number, reason: string, local: boolean): void {
    if (this.#closeInfo !== undefined) return;
    this.#closeInfo = { code, reason, local };
    const error = this.#closedError();
    for (const pending of [...this.#pending.values()]) pending.reject(error);
    this.#outbox.length = 0;
    this.#stopWaiting();
    for (const subscribers of this.#subscribers.values()) {
      for (const subscriber of subscribers) subscriber.end();
    }
    this.#subscribers.clear();
    this.#abandoned.clear();
    this.#unchunker.release();
    const socket = this.#socket;
    if (socket.readyState === CONNECTING || socket.readyState === OPEN) {
      try {
        socket.close(local ? code : 1000, truncateUtf8(reason, 123));
      } catch {
        // Some implementations refuse to close a socket still connecting; its close event ends it.
      }
    }
    this.#events.emit("close", { code, reason, local });
    this.#events.clear();
  }
}

// Frames at least this large are freed as soon as their bytes were copied.
const RELEASED_FRAME_BYTES = 64 * 1024;

/** Frees an `ArrayBuffer` nothing else uses, by detaching it (where `transfer` exists). */
function release(buffer: ArrayBuffer): void {
  (buffer as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
}

async function createSessionUnChunker(
  options: ResolvedSessionOptions,
  onProgress: (id: number, received: number, total: number) => void,
): Promise<UnChunker> {
  const settings = {
    maxMessageSize: options.maxMessageSize,
    maxPendingBytes: options.maxPendingBytes,
    maxPendingMessages: options.maxPendingMessages,
    onProgress,
  };
  try {
    return await createUnChunker({ ...settings, engine: "auto" });
  } catch (error) {
    if (error instanceof RangeError) throw error; // a limit out of range: the caller's mistake
    // "auto" falls back only when WebAssembly fails to instantiate; where the engine cannot even
    // be loaded (a bundle without it, a host refusing dynamic import), fall back here.
    return await createUnChunker({ ...settings, engine: "js" });
  }
}

function checkUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new TypeError(`not a URL: ${String(url)}`);
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new TypeError(`only ws: and wss: URLs are supported, got ${parsed.protocol}`);
  }
  return parsed.href;
}

function abortedError(signal: AbortSignal, what: string): WslinkError {
  return clientError("aborted", `${what} was aborted`, { reason: signal.reason });
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !ArrayBuffer.isView(value) && !(value instanceof Map);
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "binary";
  return typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
}

/** `text` cut to at most `maxBytes` of UTF-8 (WebSocket close reasons are limited to 123). */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  return new TextDecoder().decode(bytes.subarray(0, maxBytes)).replace(/\uFFFD$/, "");
}
