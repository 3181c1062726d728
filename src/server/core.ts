/**
 * The wslink protocol core of the embedded server: per-connection authentication, size limits,
 * un-chunking, RPC dispatch with the reference server's error codes, publish, and chunking of
 * outgoing messages. It talks to sockets only through {@link AdapterSocket}, so it runs the same
 * on every runtime.
 * @module
 */
import { ChunkError } from "../codec/chunk_error.ts";
import { HEADER_LENGTH } from "../codec/header.ts";
import type { UnChunker } from "../codec/unchunker.ts";
import { RANGE_COST_BYTES } from "../codec/_engine.ts";
import { createJsUnChunker } from "../codec/_js_engine.ts";
import { AUTHENTICATED_MAX_MESSAGE_SIZE, MESSAGE_OVERHEAD } from "../protocol/defaults.ts";
import {
  errorEnvelope,
  HELLO_METHOD,
  isMap,
  readRequest,
  resultEnvelope,
  type WireError,
} from "../protocol/envelope.ts";
import {
  EXCEPTION_RAISED,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  RESULT_NOT_SERIALIZABLE,
  UNAUTHORIZED,
} from "../protocol/error_codes.ts";
import { createFrameUnChunker, FrameEncoder, releaseCopiedFrame } from "../protocol/frames.ts";
import { messageIdType, publishId } from "../protocol/ids.ts";
import { createMessageCodec, type MessageCodec } from "../protocol/msgpack.ts";
import { envelopeIdOf } from "../protocol/msgpack_check.ts";
import { unrefTimer } from "../util/runtime.ts";
import { secretsEqual } from "../util/secret.ts";
import { waitAtMost } from "../util/timers.ts";
import { IncomingBudget, PeerLog } from "./_budgets.ts";
import { pythonExceptionRepr, pythonTruthy, traceOf } from "./_python_repr.ts";
import { TrameServerError } from "./errors.ts";
import type { Logger, LogLevel } from "./log.ts";
import {
  sendStreamed,
  type StreamedSendLimits,
  type StreamSource,
  streamSourceOf,
} from "./_stream_sender.ts";

export { consoleLogger } from "./log.ts";
export type { Logger, LogLevel } from "./log.ts";
import type { AdapterSocket, AdapterSocketHandlers } from "./adapters/types.ts";

/** Error codes the reference server sends, by meaning. */
export const WSLINK_ERRORS: Readonly<{
  authentication: typeof UNAUTHORIZED;
  exception: typeof EXCEPTION_RAISED;
  resultSerialization: typeof RESULT_NOT_SERIALIZABLE;
  methodNotFound: typeof METHOD_NOT_FOUND;
}> = Object.freeze({
  /** Wrong secret, or a call before authentication. */
  authentication: UNAUTHORIZED,
  /** The method raised. */
  exception: EXCEPTION_RAISED,
  /** The result cannot be packed with msgpack. */
  resultSerialization: RESULT_NOT_SERIALIZABLE,
  /** Unknown method (RPC or system). */
  methodNotFound: METHOD_NOT_FOUND,
});

/** WebSocket close codes the server uses. */
export const CLOSE_CODES: Readonly<{
  goingAway: 1001;
  protocolError: 1002;
  unsupportedData: 1003;
  invalidPayload: 1007;
  policyViolation: 1008;
  messageTooBig: 1009;
  tryAgainLater: 1013;
}> = Object.freeze({
  /** The server is shutting down. */
  goingAway: 1001,
  /** A frame that is not wslink: bad chunk header, not msgpack, not an envelope. */
  protocolError: 1002,
  /** A text frame before authentication (wslink frames are binary). */
  unsupportedData: 1003,
  /** A message that does not decode, or an envelope without a method. */
  invalidPayload: 1007,
  /**
   * A client over a limit of its own: too many frames waiting to be handled, a second message
   * before authentication, too many failed hellos, no hello in time, or (set by the adapters) a
   * send queue over budget or stalled, or a ping not answered.
   */
  policyViolation: 1008,
  /** A frame over the size limit, or a message declaring more than allowed. */
  messageTooBig: 1009,
  /** The incomplete messages of all clients together would exceed the server's budget. */
  tryAgainLater: 1013,
});

/** Failed hellos a connection may make; the last one's reply is followed by a close (1008). */
export const MAX_FAILED_HELLOS = 3;
// Disjoint ranges the one incomplete message of a client not yet authenticated may have.
const PRE_AUTH_RANGES = 32;

/** One connected client, as handlers and events see it. */
export interface ServerClient {
  /** The id announced in the hello reply (`"c"` followed by 32 hex digits). */
  readonly id: string;
  /** Whether it passed the hello handshake. */
  readonly authenticated: boolean;
  /** The peer's address when the runtime tells it. */
  readonly remoteAddress: string | undefined;
  /** Closes this client's connection. */
  close(code?: number, reason?: string): void;
}

/**
 * A raw wslink RPC method. May be async; what it returns (or resolves to) is the result. What it
 * throws becomes error -32001 with `{method, exception, trace}`.
 */
export type RpcHandler = (
  args: unknown[],
  kwargs: Record<string, unknown>,
  client: ServerClient,
) => unknown;

/** @internal Options of the protocol core, after defaults. */
export interface CoreConfig {
  readonly secret: string;
  readonly validateToken:
    | ((token: string, clientId: string) => boolean | Promise<boolean>)
    | undefined;
  readonly maxMsgSize: number;
  readonly preAuthMaxMessageSize: number;
  /** Whether -32001 replies carry `data.trace`. */
  readonly sendStackTraces: boolean;
  /** The adapters' send budget per connection: streamed sends stay under half of it. */
  readonly sendBudget: number;
  /** Milliseconds a connection has to complete the hello; 0: no limit. */
  readonly helloTimeout: number;
  /** Bytes all connections' incomplete incoming messages may hold together. */
  readonly maxIncompleteBytes: number;
  /** The deepest value an incoming message may hold. */
  readonly maxMessageDepth: number;
  readonly log: Logger;
  readonly onConnect: (client: ServerClient) => void;
  readonly onDisconnect: (client: ServerClient, code: number, reason: string) => void;
}

/** @internal Options of {@link WslinkCore.publish}. */
export type PublishOptions = Readonly<
  Partial<{
    /** Only this client (its `"c…"` id) receives the message. Default: every client. */
    clientId: string;
    /** Every client but this one receives the message. Default: none skipped. */
    skipClientId: string;
  }>
>;

type QueuedPublish =
  | { readonly frames: Uint8Array[]; readonly targets: Connection[] }
  | { readonly source: StreamSource; readonly topic: string; readonly targets: Connection[] };

/** Streamed results one connection may be sent at once; a call returning another one waits. */
export const MAX_STREAMS_PER_CONNECTION = 4;

/** @internal The wslink protocol, independent of the runtime. One per server. */
export class WslinkCore {
  readonly #config: CoreConfig;
  readonly #methods = new Map<string, RpcHandler>();
  readonly #connections = new Map<string, Connection>();
  readonly #encoder = new FrameEncoder();
  #publishQueue: QueuedPublish[] = [];
  #publishTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** What every connection's incomplete messages hold, against `maxIncompleteBytes`. */
  readonly incoming: IncomingBudget;
  /** Decodes every connection's messages (decoding keeps no state between messages). */
  readonly decoder: MessageCodec;

  constructor(config: CoreConfig) {
    this.#config = config;
    this.incoming = new IncomingBudget(config.maxIncompleteBytes);
    this.decoder = createMessageCodec({ maxDepth: config.maxMessageDepth });
  }

  /** The largest frame accepted from a client: `maxMsgSize + 4096`, no limit for 0. */
  get maxFrameSize(): number {
    return this.#config.maxMsgSize === 0 ? Infinity : this.#config.maxMsgSize + MESSAGE_OVERHEAD;
  }

  /** Every connected client, authenticated or not. */
  get clients(): ServerClient[] {
    return [...this.#connections.values()];
  }

  /** Registers (or replaces, with `replace`) an RPC method. */
  register(method: string, handler: RpcHandler, replace = false): void {
    if (!replace && this.#methods.has(method)) {
      throw new TrameServerError("already-registered", `method ${method} is already registered`);
    }
    this.#methods.set(method, handler);
  }

  /** Removes an RPC method; returns whether it existed. */
  unregister(method: string): boolean {
    return this.#methods.delete(method);
  }

  /**
   * Publishes `data` on `topic` to the authenticated clients. The message is packed now (so
   * later mutations of `data` do not matter) and sent once the current task is done, after the
   * reply of the call being handled, as the reference server does. Throws when `data` cannot
   * be packed. A `Blob` or `{ size, stream }` is streamed, read as it is sent (to every client at
   * the pace of the slowest).
   */
  publish(topic: string, data: unknown, options: PublishOptions = {}): void {
    const source = streamSourceOf(data);
    if (this.#closed) return source?.discard();
    const targets = [...this.#connections.values()].filter((connection) =>
      connection.authenticated &&
      (options.clientId === undefined || connection.id === options.clientId) &&
      connection.id !== options.skipClientId
    );
    if (source !== undefined) {
      if (targets.length === 0) return source.discard();
      this.#publishQueue.push({ source, topic, targets });
      this.#publishTimer ??= setTimeout(() => this.#sendPublishes(), 0);
      return;
    }
    const frames = this.#frames(resultEnvelope(publishId(topic), data));
    if (targets.length === 0) return;
    this.#publishQueue.push({ frames, targets });
    this.#publishTimer ??= setTimeout(() => this.#sendPublishes(), 0);
  }

  /** Creates the protocol side of one socket; adapters call it when a socket opens. */
  open(socket: AdapterSocket, remoteAddress: string | undefined): AdapterSocketHandlers {
    const connection = new Connection(this, socket, remoteAddress, this.#config);
    if (this.#closed) {
      socket.close(CLOSE_CODES.goingAway, "Server shutdown");
    } else {
      this.#connections.set(connection.id, connection);
      this.#callback(() => this.#config.onConnect(connection));
    }
    return {
      message: (data) => connection.receive(data),
      close: (code, reason) => {
        if (!connection.markClosed()) return;
        if (this.#connections.delete(connection.id)) {
          this.#callback(() => this.#config.onDisconnect(connection, code, reason));
        }
      },
    };
  }

  /**
   * Closes every client with 1001 "Server shutdown" and waits (at most `timeoutMs`) for their
   * sockets to close. Publishes still queued are dropped. Idempotent.
   */
  async close(timeoutMs = 2000): Promise<void> {
    this.#closed = true;
    this.#encoder.dispose();
    clearTimeout(this.#publishTimer);
    this.#publishTimer = undefined;
    for (const queued of this.#publishQueue) if ("source" in queued) queued.source.discard();
    this.#publishQueue = [];
    const closing = [...this.#connections.values()].map((connection) => {
      connection.close(CLOSE_CODES.goingAway, "Server shutdown");
      return connection.closed;
    });
    await waitAtMost(Promise.all(closing), timeoutMs);
  }

  /** Handles one whole decoded message from `connection`. */
  async dispatch(connection: Connection, message: unknown): Promise<void> {
    const request = readRequest(message);
    if (request.kind === "notification") return;
    if (request.kind === "invalid") {
      connection.violation(CLOSE_CODES.invalidPayload, request.problem);
      return;
    }
    const { id, method, args, kwargs } = request;
    if (messageIdType(id) === "system") {
      await this.#system(connection, id, method, args);
      return;
    }
    if (!connection.authenticated) {
      this.sendError(connection, id, {
        code: UNAUTHORIZED,
        message: "Unauthorized: Skip message processing",
      });
      return;
    }
    const handler = typeof method === "string" ? this.#methods.get(method) : undefined;
    if (handler === undefined) {
      const error = { code: METHOD_NOT_FOUND, message: "Unregistered method called", data: method };
      this.sendError(connection, id, error);
      return;
    }
    await this.#call(connection, id, method as string, handler, args, kwargs);
  }

  /** Runs `handler` and replies with its result, or error -32001 when it throws. */
  async #call(
    connection: Connection,
    id: string,
    name: string,
    handler: RpcHandler,
    args: unknown[],
    kwargs: Record<string, unknown>,
  ): Promise<void> {
    let result: unknown;
    try {
      result = await handler(args, kwargs, connection);
    } catch (error) {
      connection.log("error", `Exception raised in ${name}`, error);
      if (connection.isClosed) return;
      this.#sendException(connection, id, name, error);
      return;
    }
    const source = streamSourceOf(result);
    if (connection.isClosed) return source?.discard(); // Closed during the call: nobody to answer.
    if (source !== undefined) return await this.#streamResult(connection, id, source, name);
    this.sendResult(connection, id, result, name);
  }

  /**
   * Sends a streamed result without waiting for it to be sent: only for a free slot among the
   * connection's {@link MAX_STREAMS_PER_CONNECTION}. A source that fails midway gets the call an
   * error reply (-32001) after its partial result, which tells the client's stream.
   */
  async #streamResult(
    connection: Connection,
    id: string,
    source: StreamSource,
    method: string,
  ): Promise<void> {
    if (!connection.authenticated || !(await connection.streamSlot())) return source.discard();
    sendStreamed([connection], id, source, this.#streamLimits())
      .catch((error) => {
        this.#config.log("error", `the streamed result of ${method} failed`, error);
        this.#sendException(connection, id, method, error);
      })
      .finally(() => connection.releaseStreamSlot());
  }

  /** Sends error -32001 for `error`, raised by `method`, as the reference server does. */
  #sendException(connection: Connection, id: string, method: string, error: unknown): void {
    const data: Record<string, unknown> = { method, exception: pythonExceptionRepr(error) };
    if (this.#config.sendStackTraces) data.trace = traceOf(error);
    this.sendError(connection, id, { code: EXCEPTION_RAISED, message: "Exception raised", data });
  }

  /** Sends a result, or error -32002 naming `method` when the result cannot be packed. */
  sendResult(connection: Connection, id: string, result: unknown, method: string): void {
    let frames: Uint8Array[];
    try {
      frames = this.#frames(resultEnvelope(id, result));
    } catch (error) {
      connection.log("error", `result of ${method} cannot be serialized`, error);
      this.sendError(connection, id, {
        code: RESULT_NOT_SERIALIZABLE,
        message: "Method result cannot be serialized",
        data: method,
      });
      return;
    }
    // Results go to authenticated clients only, as in the reference.
    if (connection.authenticated) connection.sendFrames(frames);
  }

  /**
   * Sends an error. `data` is attached only when Python would find it true (not null, 0, "",
   * empty), and dropped when it cannot be packed.
   */
  sendError(connection: Connection, id: string, error: WireError): void {
    const { code, message, data } = error;
    let frames: Uint8Array[];
    try {
      frames = this.#frames(
        errorEnvelope(id, pythonTruthy(data) ? { code, message, data } : { code, message }),
      );
    } catch {
      frames = this.#frames(errorEnvelope(id, { code, message }));
    }
    connection.sendFrames(frames);
  }

  async #system(
    connection: Connection,
    id: string,
    method: unknown,
    args: unknown[],
  ): Promise<void> {
    if (method !== HELLO_METHOD) {
      this.sendError(connection, id, {
        code: METHOD_NOT_FOUND,
        message: "Unknown system method called",
      });
      return;
    }
    const hello = args[0];
    const token = isMap(hello) ? hello.secret : undefined;
    let valid = false;
    if (typeof token === "string") {
      try {
        valid = this.#config.validateToken === undefined
          ? secretsEqual(token, this.#config.secret)
          : await this.#config.validateToken(token, connection.id);
      } catch (error) {
        connection.log("error", "validateToken threw; authentication refused", error);
      }
    }
    if (connection.isClosed) return;
    if (!valid) {
      this.sendError(connection, id, { code: UNAUTHORIZED, message: "Authentication failed" });
      connection.helloFailed();
      return;
    }
    await connection.authenticate();
    this.sendResult(
      connection,
      id,
      { clientID: connection.id, maxMsgSize: this.#config.maxMsgSize },
      "",
    );
  }

  // Packs an envelope and cuts it into frames (fresh copies: the encoder reuses its buffer).
  #frames(envelope: unknown): Uint8Array[] {
    return this.#encoder.frames(envelope, this.#config.maxMsgSize);
  }

  #streamLimits(): StreamedSendLimits {
    return { maxFrameSize: this.#config.maxMsgSize, sendBudget: this.#config.sendBudget };
  }

  #sendPublishes(): void {
    this.#publishTimer = undefined;
    const queue = this.#publishQueue;
    this.#publishQueue = [];
    for (const queued of queue) {
      if ("frames" in queued) {
        for (const target of queued.targets) target.sendFrames(queued.frames);
        continue;
      }
      const { source, topic, targets } = queued;
      sendStreamed(targets, publishId(topic), source, this.#streamLimits()).catch((error) => {
        this.#config.log("error", `the streamed publish on ${topic} failed midway`, error);
      });
    }
  }

  #callback(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#config.log("error", "a connect/disconnect callback threw", error);
    }
  }
}

/** @internal The state of one socket. Handlers see it as a {@link ServerClient}. */
export class Connection implements ServerClient {
  readonly id: string = `c${crypto.randomUUID().replaceAll("-", "")}`;
  readonly remoteAddress: string | undefined;
  readonly closed: Promise<void>;
  readonly #core: WslinkCore;
  readonly #socket: AdapterSocket;
  readonly #config: CoreConfig;
  readonly #log: PeerLog;
  #authenticated = false;
  #isClosed = false;
  #resolveClosed!: () => void;
  #unchunker: Promise<UnChunker>;
  // The un-chunker once created, so that frames are handled without waiting a turn.
  #ready: UnChunker | undefined;
  // What this connection's incomplete messages hold against the server's incoming budget.
  #incomingCharge = 0;
  #failedHellos = 0;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;
  // Set once this side starts closing: later frames are dropped unread.
  #closing = false;
  // Frames received and not handled yet (from #waitingHead on), their bytes, and whether the
  // loop handling them runs.
  #waiting: Uint8Array[] = [];
  #waitingHead = 0;
  #waitingBytes = 0;
  #draining = false;
  // Streamed results being sent, and the calls waiting for a slot.
  #streaming = 0;
  #streamWaiters: (() => void)[] = [];

  constructor(
    core: WslinkCore,
    socket: AdapterSocket,
    remoteAddress: string | undefined,
    config: CoreConfig,
  ) {
    this.#core = core;
    this.#socket = socket;
    this.remoteAddress = remoteAddress;
    this.#config = config;
    this.#log = new PeerLog(config.log, `client ${this.id}`);
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    // Before authentication: one message of at most the pre-authentication size, nothing else.
    // The TypeScript engine is made at once, so no frame waits for it.
    const preAuth = config.preAuthMaxMessageSize;
    this.#ready = createJsUnChunker({
      maxMessageSize: preAuth,
      maxPendingBytes: preAuth + PRE_AUTH_RANGES * RANGE_COST_BYTES,
      maxPendingMessages: 1,
    }, undefined);
    this.#unchunker = Promise.resolve(this.#ready);
    if (config.helloTimeout > 0) {
      this.#helloTimer = unrefTimer(setTimeout(() => {
        this.violation(
          CLOSE_CODES.policyViolation,
          "No hello in time",
          `no successful hello within ${config.helloTimeout} ms`,
        );
      }, config.helloTimeout));
    }
  }

  get authenticated(): boolean {
    return this.#authenticated;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Bytes sent to the socket and not written out yet. */
  get bufferedAmount(): number {
    return this.#isClosed ? 0 : this.#socket.bufferedAmount;
  }

  /** Waits for a slot to stream a result in; false when the connection closed meanwhile. */
  async streamSlot(): Promise<boolean> {
    while (this.#streaming >= MAX_STREAMS_PER_CONNECTION && !this.#isClosed) {
      await new Promise<void>((resolve) => this.#streamWaiters.push(resolve));
    }
    if (this.#isClosed) return false;
    this.#streaming++;
    return true;
  }

  /** Frees a slot taken with {@link streamSlot}. */
  releaseStreamSlot(): void {
    this.#streaming--;
    this.#streamWaiters.shift()?.();
  }

  close(code: number = 1000, reason = ""): void {
    if (this.#isClosed) return;
    this.#closing = true;
    this.#socket.close(code, reason);
  }

  /** Records that the socket closed; false when it was already recorded. */
  markClosed(): boolean {
    if (this.#isClosed) return false;
    this.#isClosed = true;
    for (const wake of this.#streamWaiters.splice(0)) wake();
    clearTimeout(this.#helloTimer);
    this.#unchunker.then((unchunker) => unchunker.release(), () => {});
    this.#chargeIncoming(0);
    this.#log.close();
    this.#resolveClosed();
    return true;
  }

  /** Writes a log line about this client, within its share of the log (see {@link PeerLog}). */
  log(level: LogLevel, message: string, detail?: unknown): void {
    this.#log.write(level, message, detail);
  }

  /** Closes this connection because it broke the protocol. */
  violation(code: number, reason: string, detail?: unknown): void {
    if (this.#isClosed || this.#closing) return;
    this.log("warn", `closing client ${this.id}: ${reason}`, detail);
    this.close(code, reason);
  }

  /** Counts a refused hello; the {@link MAX_FAILED_HELLOS}th closes the connection (1008). */
  helloFailed(): void {
    if (this.#authenticated || ++this.#failedHellos < MAX_FAILED_HELLOS) return;
    this.violation(
      CLOSE_CODES.policyViolation,
      "Too many failed hellos",
      `${this.#failedHellos} hellos refused`,
    );
  }

  /**
   * Sends a message's frames; false when they were not sent (the socket is closing or closed, or
   * over its send budget, which closed it).
   */
  sendFrames(frames: readonly Uint8Array[]): boolean {
    if (this.#isClosed) return false;
    return this.#socket.send(frames);
  }

  /**
   * Takes one WebSocket message. Frames are handled one after the other, in order; those that
   * arrive while a message is being handled wait, within {@link MAX_WAITING_FRAMES} and
   * {@link MAX_WAITING_FRAME_SIZES} frames of the largest size accepted (before authentication:
   * one frame of the pre-authentication size, since the hello is answered before a client sends
   * anything else).
   */
  receive(data: Uint8Array | string): void {
    if (this.#isClosed || this.#closing) return;
    if (typeof data === "string") {
      if (this.#authenticated) this.log("error", `text frame from client ${this.id} ignored`);
      else this.violation(CLOSE_CODES.unsupportedData, "Text frames are not wslink");
      return;
    }
    const limit = this.#authenticated
      ? this.#core.maxFrameSize
      : Math.min(this.#core.maxFrameSize, this.#config.preAuthMaxMessageSize + HEADER_LENGTH);
    if (data.byteLength > limit) {
      this.violation(
        CLOSE_CODES.messageTooBig,
        "Message too big",
        `frame of ${data.byteLength} bytes, the limit is ${limit}`,
      );
      return;
    }
    const waiting = this.#waiting.length - this.#waitingHead;
    const byteLimit = this.#authenticated
      ? Math.max(MIN_WAITING_BYTES, MAX_WAITING_FRAME_SIZES * limit)
      : limit;
    if (waiting >= MAX_WAITING_FRAMES || this.#waitingBytes + data.byteLength > byteLimit) {
      this.violation(
        CLOSE_CODES.policyViolation,
        "Too many frames waiting",
        `${waiting} frames (${this.#waitingBytes} bytes) wait while a message is handled`,
      );
      return;
    }
    this.#waiting.push(data);
    this.#waitingBytes += data.byteLength;
    if (this.#draining) return;
    this.#drain().catch((error) => {
      this.log("error", `unexpected failure on client ${this.id}`, error);
      this.close(1011, "Internal error");
    });
  }

  /** Marks the client authenticated and lifts the pre-authentication limits. */
  async authenticate(): Promise<void> {
    if (this.#authenticated) return;
    this.#authenticated = true;
    clearTimeout(this.#helloTimer);
    const previous = await this.#unchunker;
    previous.release();
    this.#chargeIncoming(0);
    this.#ready = undefined;
    this.#unchunker = makeUnChunker(this.#core.incoming.limit);
    await this.#unchunker;
  }

  // Handles the waiting frames in order. A frame is handled in the turn it arrives unless a
  // message is being handled: only the un-chunker's creation and each whole message are awaited,
  // so a flood of small frames builds no chain of pending promises (on Deno such a chain, one
  // link per frame, grew by ~500 bytes per frame).
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#waitingHead < this.#waiting.length && !this.#isClosed && !this.#closing) {
        const unchunker = this.#ready ??= await this.#unchunker;
        const frame = this.#waiting[this.#waitingHead];
        this.#waiting[this.#waitingHead++] = EMPTY;
        this.#waitingBytes -= frame.byteLength;
        if (this.#waitingHead === this.#waiting.length) {
          this.#waiting = [];
          this.#waitingHead = 0;
        }
        const message = this.#messageOf(unchunker, frame);
        if (message !== INCOMPLETE) await this.#core.dispatch(this, message);
      }
    } finally {
      this.#draining = false;
      if (this.#isClosed || this.#closing) {
        this.#waiting = [];
        this.#waitingHead = 0;
        this.#waitingBytes = 0;
      }
    }
  }

  // The message `frame` completes, or INCOMPLETE (also after a violation, which closes).
  #messageOf(unchunker: UnChunker, frame: Uint8Array): unknown {
    let bytes: Uint8Array | undefined;
    try {
      bytes = unchunker.push(frame);
    } catch (error) {
      if (!(error instanceof ChunkError)) throw error;
      this.#chargeIncoming(unchunker.pendingBytes);
      const [code, reason] = CHUNK_REFUSALS[error.reason] ?? CHUNK_REFUSALS["invalid"];
      this.violation(code, reason, error.message);
      return INCOMPLETE;
    }
    releaseCopiedFrame(frame, bytes);
    if (!this.#chargeIncoming(unchunker.pendingBytes)) {
      unchunker.release();
      this.#chargeIncoming(0);
      this.violation(
        CLOSE_CODES.tryAgainLater,
        "Server busy: incomplete messages over budget",
        `all clients' incomplete messages would hold more than ${this.#core.incoming.limit} bytes`,
      );
      return INCOMPLETE;
    }
    if (bytes === undefined) return INCOMPLETE;
    try {
      return this.#core.decoder.decode(bytes);
    } catch (error) {
      this.#refuseUndecodable(bytes, error);
      return INCOMPLETE;
    }
  }

  // Sets what this connection's incomplete messages hold against the server's budget; false
  // (nothing changed) when more does not fit.
  #chargeIncoming(bytes: number): boolean {
    if (!this.#core.incoming.recharge(this.#incomingCharge, bytes)) return false;
    this.#incomingCharge = bytes;
    return true;
  }

  // A message that does not decode: a -32700 reply to its id when the id can be read (the
  // reference server sends nothing and drops the connection), then a close (1007).
  #refuseUndecodable(bytes: Uint8Array, error: unknown): void {
    const id = envelopeIdOf(bytes);
    const problem = error instanceof Error ? error.message : String(error);
    if (id !== undefined) {
      this.#core.sendError(this, id, { code: PARSE_ERROR, message: "Parse error", data: problem });
    }
    this.violation(CLOSE_CODES.invalidPayload, "Invalid msgpack", problem);
  }
}

// The close code and reason for each kind of frame the un-chunker refuses.
const CHUNK_REFUSALS: Readonly<Record<string, readonly [number, string]>> = {
  "message-too-large": [CLOSE_CODES.messageTooBig, "Message too big"],
  "pending-bytes": [CLOSE_CODES.messageTooBig, "Message too big"],
  "too-many-messages": [CLOSE_CODES.policyViolation, "Too many incomplete messages"],
  invalid: [CLOSE_CODES.protocolError, "Invalid chunk"],
};

/** Frames that may wait while a message is being handled; one more closes the client (1008). */
export const MAX_WAITING_FRAMES = 16_384;
/** Bytes that may wait then, in frames of the largest size accepted (at least 64 MiB). */
export const MAX_WAITING_FRAME_SIZES = 4;
const MIN_WAITING_BYTES = 64 * 1024 * 1024;
// What #messageOf returns when the frame completes no message.
const INCOMPLETE = Symbol("incomplete");
const EMPTY = new Uint8Array(0);

// The un-chunker of an authenticated client: messages up to what the reference server accepts,
// or the whole incoming budget when that is less (a message it could never hold is too big).
function makeUnChunker(incomingLimit: number): Promise<UnChunker> {
  return createFrameUnChunker({
    maxMessageSize: Math.min(AUTHENTICATED_MAX_MESSAGE_SIZE, incomingLimit),
    maxPendingBytes: incomingLimit,
  });
}
