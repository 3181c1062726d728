/**
 * {@link WslinkSession}: one connection to a wslink server over the standard `WebSocket`, with
 * the hello handshake, calls, subscriptions and events.
 * @module
 */
import type { UnChunker } from "../codec/unchunker.ts";
import { createFrameUnChunker, FrameEncoder } from "../protocol/frames.ts";
import { HELLO_ID } from "../protocol/ids.ts";
import { checkHelloReply, encodeHello } from "./_hello.ts";
import { Emitter } from "../util/emitter.ts";
import { PendingCalls } from "./_pending.ts";
import { createIncomingPath, type IncomingPath } from "./_dispatch.ts";
import { CallIssuer } from "./_calls.ts";
import type { BinaryStream } from "./binary_stream.ts";
import { type OutgoingMessage, Sender } from "./_sender.ts";
import { type OpenFailure, SocketLink } from "./_socket.ts";
import { TopicRegistry } from "./_topics.ts";
import {
  checkCloseCode,
  checkUrl,
  incomingLimits,
  type ResolvedSessionOptions,
  resolveSessionOptions,
  smallestLimit,
} from "./_resolve_options.ts";
import { abortedError, closedError, openFailedError } from "./errors.ts";
import { waitAtMost } from "../util/timers.ts";
import type {
  SessionCloseEvent,
  SessionErrorKind,
  SessionEventListener,
  SessionEventMap,
} from "./events.ts";
import type { CallOptions, WslinkSessionOptions } from "./options.ts";
import type { Subscription, TopicStream, TopicStreamOptions } from "./subscription.ts";

// How long close() waits for the close event of a socket it dropped.
const DROP_CONFIRM_MS = 200;
// The session's events as the emitter takes them: one argument each.
type SessionEventArgs = { [K in keyof SessionEventMap]: [event: SessionEventMap[K]] };

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
  readonly #link: SocketLink;
  readonly #options: ResolvedSessionOptions;
  readonly #encoder: FrameEncoder;
  readonly #events = new Emitter<SessionEventArgs>((type, error) => {
    // A throwing `error` listener is ignored: there is nowhere left to report it.
    if (type !== "error") this.#report("listener-threw", error);
  });
  readonly #pending = new PendingCalls((outgoing) =>
    this.#sender.cancel(outgoing as OutgoingMessage | undefined)
  );
  readonly #topics = new TopicRegistry((error, message, topic) =>
    this.#events.emit("error", { kind: "subscriber-threw", error, message, topic })
  );
  readonly #sender: Sender;
  readonly #incoming: IncomingPath;
  readonly #calls: CallIssuer;
  readonly #socketClosed: Promise<void>;
  #closeInfo: SessionCloseEvent | undefined;
  #clientId = "";
  #maxMsgSize = 0;

  /** Not for direct use: sessions come from {@link WslinkSession.connect}. */
  constructor(
    key: symbol,
    url: string,
    options: ResolvedSessionOptions,
    encoder: FrameEncoder,
    unchunker: UnChunker,
  ) {
    if (key !== constructorKey) throw new TypeError("use WslinkSession.connect()");
    this.#url = url;
    this.#options = options;
    this.#encoder = encoder;
    this.#incoming = createIncomingPath(options, unchunker, {
      pending: this.#pending,
      topics: this.#topics,
      closed: () => this.#closeInfo !== undefined,
      handshaken: () => this.#clientId !== "",
      report: (kind, error, message) => this.#report(kind, error, message),
      progress: (id, received, total) => this.#events.emit("progress", { id, received, total }),
    });
    let markSocketClosed!: () => void;
    this.#socketClosed = new Promise((resolve) => markSocketClosed = resolve);
    this.#link = new SocketLink(options.WebSocket, url, {
      message: (data) => this.#incoming.dispatcher.receive(data),
      close: (code, reason, failure) => {
        markSocketClosed();
        this.#abort(code, reason, false, failure);
      },
    }, options.compression);
    this.#sender = new Sender({
      sink: this.#link.socket,
      highWaterMark: options.sendHighWaterMark,
      frameLimit: options.maxFrameSize,
      onFailure: (error) => this.#abort(1006, `sending failed: ${String(error)}`, false),
    });
    this.#calls = new CallIssuer({
      encoder,
      pending: this.#pending,
      sender: this.#sender,
      callTimeout: options.callTimeout,
      clientId: () => this.#clientId,
      closeInfo: () => this.#closeInfo,
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
    const encoder = new FrameEncoder({ useBigInt64: resolved.useBigInt64 });
    const helloFrames = encodeHello(encoder, resolved);
    if (resolved.signal?.aborted) throw abortedError(resolved.signal, "connecting");
    let reportProgress = (_id: number, _received: number, _total: number) => {};
    const unchunker = await createFrameUnChunker({
      ...incomingLimits(resolved),
      onProgress: (id, received, total) => reportProgress(id, received, total),
    });
    const session = new WslinkSession(constructorKey, target, resolved, encoder, unchunker);
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
    return this.#sender.frameLimit;
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
    return this.#calls.request(method, args, kwargs, options) as Promise<T>;
  }

  /**
   * Calls `method`, whose result must be binary (a msgpack `bin`), and resolves as soon as the
   * first frame of the reply is in, with a {@link BinaryStream} of the result's bytes: its `size`
   * is known, and each later frame's bytes are enqueued as they arrive, as views of the frame
   * (no copy, no buffer of the message's size). So a result may be larger than `maxMessageSize`,
   * up to `maxStreamSize` (default, and most, 4 GiB - 1).
   *
   * Rejects like {@link WslinkSession.call}: with the server's error, or code -32099 when the
   * session is closed, the reply's first frame did not come within `timeout`, `signal` aborted,
   * the result is not binary (`data.kind` `"protocol"`, `data.value` the decoded result) or
   * larger than `maxStreamSize` (`"too-large"`). Once resolved, the stream errors when the
   * connection closes, `signal` aborts, a frame of the result is refused (a `ChunkError`) or the
   * server sends an error for the call midway; `cancel()` drops the rest as it arrives.
   *
   * @example
   * ```ts
   * import { WslinkSession } from "@trame-wire/client";
   * import { serve } from "@trame-wire/client/server";
   *
   * await using server = await serve({ port: 0 });
   * server.trigger("mesh", () => new Blob([new Uint8Array(1_000_000)]));
   * await using session = await WslinkSession.connect(server.url);
   * const stream = await session.callStream("trame.trigger", ["mesh", [], {}]);
   * let received = 0;
   * for await (const chunk of stream) received += chunk.byteLength;
   * console.log(received === stream.size);
   * ```
   */
  callStream(
    method: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: CallOptions = {},
  ): Promise<BinaryStream> {
    return this.#incoming.streams.call(
      (onId) => this.#calls.request(method, args, kwargs, options, onId),
      options.signal,
      `the call of ${method}`,
    );
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
    return this.#topics.subscribe(topic, callbackOrOptions);
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
   * Ends the session: pending calls reject with -32099 at once, subscriptions end, the socket
   * closes with `code` (1000 or 3000 to 4999) and `reason`. Resolves once the server confirmed
   * the close, or after `closeTimeout` ms (default 1,000): then the connection is dropped
   * without waiting any longer, so that a server busy in a handler (which reads no close frame)
   * cannot keep the process alive. Calling it again does nothing more.
   */
  async close(code = 1000, reason = ""): Promise<void> {
    if (this.#closeInfo === undefined) this.#abort(checkCloseCode(code), String(reason), true);
    await waitAtMost(this.#socketClosed, this.#options.closeTimeout);
    if (!this.#link.closed && this.#link.drop()) {
      await waitAtMost(this.#socketClosed, DROP_CONFIRM_MS);
    }
  }

  /** Closes the session, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #handshake(helloFrames: readonly Uint8Array[]): Promise<void> {
    const { helloTimeout, signal } = this.#options;
    const reply = this.#pending.track(HELLO_ID, helloTimeout, signal, `the hello to ${this.#url}`);
    this.#link.socket.addEventListener("open", () => {
      for (const frame of helloFrames) if (!this.#sender.sendFrame(frame)) return;
    }, { once: true });
    try {
      const { clientId, maxMsgSize } = checkHelloReply(await reply);
      this.#clientId = clientId;
      this.#maxMsgSize = maxMsgSize;
      this.#sender.frameLimit = smallestLimit(maxMsgSize, this.#options.maxFrameSize);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#abort(1000, `hello failed: ${message}`, true);
      await this.close();
      throw error;
    }
  }

  #report(kind: SessionErrorKind, error: unknown, message?: unknown): void {
    this.#events.emit("error", message === undefined ? { kind, error } : { kind, error, message });
  }

  /** Ends everything, once: calls, sends, timers, subscriptions, the socket. */
  #abort(code: number, reason: string, local: boolean, failure?: OpenFailure): void {
    if (this.#closeInfo !== undefined) return;
    this.#closeInfo = { code, reason, local };
    const closed = failure === undefined
      ? closedError(code, reason)
      : openFailedError(code, failure);
    this.#pending.close(closed);
    this.#incoming.streams.close(closed);
    this.#sender.close();
    this.#encoder.dispose();
    this.#topics.end();
    this.#incoming.reader.release();
    this.#link.close(local ? code : 1000, reason);
    this.#events.emit("close", { code, reason, local });
    this.#events.clear();
  }
}
