/**
 * The embedded trame-compatible server: the wslink core, the trame layer on top of it (shared
 * state, triggers, lifecycle, actions) and the runtime adapter underneath.
 * @module
 */
import {
  DEFAULT_MAX_MSG_SIZE,
  DEFAULT_SECRET,
  MAX_MESSAGE_DEPTH,
  PRE_AUTH_MAX_MESSAGE_SIZE,
} from "../protocol/defaults.ts";
import { isMap } from "../protocol/envelope.ts";
import {
  ACTIONS_TOPIC,
  defaultTrameState,
  STATE_TOPIC,
  type TrameBuiltinState,
} from "../trame/protocol.ts";
import { deepEqual, State } from "../trame/state.ts";
import { Emitter } from "../util/emitter.ts";
import { setLongTimeout } from "../util/timers.ts";
import { DEFAULT_STATE_LIMITS, StateBudget, stateEntrySize } from "./_state_budget.ts";
import { registerTrameMethods } from "./_trame_methods.ts";
import { loadAdapter } from "./adapters/detect.ts";
import type { AdapterListener, RuntimeName } from "./adapters/types.ts";
import {
  consoleLogger,
  type Logger,
  type RpcHandler,
  type ServerClient,
  WslinkCore,
} from "./core.ts";
import { TrameServerError } from "./errors.ts";

/**
 * A trame trigger, called by `trame.trigger` with the positional and keyword arguments the client
 * sent. May be async. Its result is the call's result (`null` when it returns nothing).
 */
export type TriggerHandler = (
  args: unknown[],
  kwargs: Record<string, unknown>,
  client: ServerClient,
) => unknown;

/** What `application.exit` and `application.exit.later` asked for. */
export interface ExitRequest {
  /** The delay the client asked for (0 for `application.exit`). */
  readonly seconds: number;
  /** The client that asked. */
  readonly client: ServerClient;
}

/** Options for {@link serve}; every field is optional. */
export type ServeOptions<T extends Record<string, unknown> = Record<string, unknown>> = Readonly<
  Partial<{
    /** Port to listen on; 0 (default) picks a free one, see {@link TrameServer.port}. */
    port: number;
    /** Interface to bind. Default `"127.0.0.1"`. */
    hostname: string;
    /** The WebSocket path. Default `"/ws"`. */
    path: string;
    /** The secret clients send in `wslink.hello`. Default `"wslink-secret"`. */
    secret: string;
    /**
     * Decides authentication instead of comparing with `secret`: called with the secret the client
     * sent and the client's id (`"c…"`). May be async; throwing refuses. Default: none.
     */
    validateToken: (token: string, clientId: string) => boolean | Promise<boolean>;
    /**
     * Frame size in bytes, announced in the hello reply: outgoing messages are cut into frames of
     * at most this many bytes, and an incoming frame over `maxMsgSize + 4096` closes its client.
     * 0: never cut, no limit. Default 10,000,000 (trame's `TRAME_WS_MAX_MSG_SIZE`).
     */
    maxMsgSize: number;
    /**
     * Largest size a message may declare before its client authenticated; a larger one closes
     * the client (1009). Default 512 (`WSLINK_AUTH_MSG_SIZE`).
     */
    preAuthMaxMessageSize: number;
    /**
     * Milliseconds a client has, from its socket opening, to complete the hello; one that has
     * not is closed (1008 "No hello in time"). 0: no limit. Default 10,000.
     */
    helloTimeout: number;
    /**
     * Bytes the incomplete incoming messages of all clients may hold together (the sizes their
     * first frames declare). A client whose frame would take more is closed (1013) and its
     * incomplete messages freed; a message declaring more than this alone is too big (1009).
     * What a client holds is freed when it closes. Default 2 GiB (2^31).
     */
    maxIncompleteBytes: number;
    /**
     * The deepest value an incoming message may hold, the message itself at depth 1; a deeper
     * one is undecodable (error -32700 where its id can be read, then 1007). Default 512, the
     * deepest msgpack-python packs; every @msgpack/msgpack client sends at most 100.
     */
    maxMessageDepth: number;
    /**
     * Seconds between WebSocket pings to each client (`WSLINK_HEART_BEAT`); a client that does
     * not answer a ping with its payload by the next one, or that reads none of what waits for it
     * in a heartbeat, is disconnected (1008). 0 turns pings off. Default 30, as the reference
     * server. Deno pings through its own idle timeout, which any frame from the client resets.
     */
    heartbeat: number;
    /**
     * Bytes that may wait in one client's send queue when a message is to be sent to it; a
     * client over it (one that stops reading) is closed with 1008 "Send queue over budget". A
     * message is never cut midway, so a client costs at most this plus one message. Default:
     * 4 × `maxMsgSize`, at least 16 MiB.
     */
    sendBudget: number;
    /**
     * Whether -32001 replies (a method threw) carry the stack trace in `data.trace`, file paths
     * included, as the reference server's do. `false` leaves `trace` out. Default `true`.
     */
    sendStackTraces: boolean;
    /**
     * Most keys one `trame.state.update` or `trame.force.push` may carry; more is refused with
     * -32001 (`StateUpdateError`). 0: no limit. Default 10,000.
     */
    maxStateKeysPerUpdate: number;
    /**
     * Most keys the state may have: an update that would add more is refused with -32001. The
     * server's own changes are never refused. 0: no limit. Default 100,000.
     */
    maxStateKeys: number;
    /**
     * Most bytes the state may take packed (its keys and values, as `trame.state.get` sends
     * them): an update that would grow it beyond is refused with -32001. The server's own
     * changes count but are never refused. 0: no limit. Default 256 MiB.
     */
    maxStateBytes: number;
    /** The name `trame.state.get` returns. Default `"trame"`. */
    name: string;
    /** Initial state, on top of {@link defaultTrameState}. Default `{}`. */
    state: Partial<T & TrameBuiltinState>;
    /** Which adapter to use. Default: detected from the runtime's globals. */
    runtime: RuntimeName;
    /** Receives log lines. Default: warnings and errors to the console. */
    log: Logger;
    /**
     * Called when a client asks the application to exit (`application.exit`, or when the delay
     * of `application.exit.later` ran out). Default: none, and the server closes itself. The
     * process is never exited.
     */
    onExit: (request: ExitRequest) => void;
  }>
>;

// Exit requests that may wait at once (`application.exit.later`); more are refused.
const MAX_PENDING_EXITS = 16;

/** Events of a {@link TrameServer} and their listeners' arguments. */
export interface TrameServerEvents {
  /** A socket opened (before its hello). */
  connect: [client: ServerClient];
  /** A socket closed. */
  disconnect: [client: ServerClient, code: number, reason: string];
  /** `trame.lifecycle.update`: `phase` is `client_connected`, `client_exited`, … */
  lifecycle: [phase: string, client: ServerClient];
  /** `trame.error.client`: an error the client reports. Logged when nobody listens. */
  clientError: [message: unknown, client: ServerClient];
}

/** Options of {@link TrameServer.publish}. */
export type ServerPublishOptions = Readonly<
  Partial<{
    /** Only this client (its `"c…"` id) receives the message. Default: every client. */
    clientId: string;
  }>
>;

/**
 * A running server. Made by {@link serve}.
 */
export class TrameServer<T extends Record<string, unknown> = Record<string, unknown>> {
  /**
   * The shared state. Changes made here are flushed at the end of the tick (or by
   * `state.flush()`), and the keys whose value really changed are published to every client.
   */
  readonly state: State<T & TrameBuiltinState>;
  /** The interface listened on. */
  readonly hostname: string;
  /** The WebSocket path. */
  readonly path: string;
  /** The name `trame.state.get` returns. */
  readonly name: string;
  readonly #core: WslinkCore;
  readonly #heartbeat: number;
  readonly #sendBudget: number;
  readonly #log: Logger;
  readonly #onExit: ServeOptions<T>["onExit"];
  readonly #triggers = new Map<string, TriggerHandler>();
  readonly #events = new Emitter<TrameServerEvents>((event, error) =>
    this.#log("error", `a ${event} listener threw`, error)
  );
  // What each key last looked like when published, to send only real changes.
  readonly #published = new Map<string, unknown>();
  readonly #pendingExits = new Set<() => void>();
  readonly #stateBudget: StateBudget;
  #listener: AdapterListener | undefined;
  #closing: Promise<void> | undefined;
  #resolveFinished!: () => void;
  /** Resolves once the server is closed, whoever closed it. */
  readonly finished: Promise<void> = new Promise((resolve) => this.#resolveFinished = resolve);

  /** Use {@link serve}. */
  constructor(
    config: Required<Omit<ServeOptions<T>, "validateToken" | "onExit" | "runtime">> & {
      validateToken: ServeOptions<T>["validateToken"];
      onExit: ServeOptions<T>["onExit"];
    },
  ) {
    this.hostname = config.hostname;
    this.#heartbeat = config.heartbeat;
    this.#sendBudget = config.sendBudget;
    this.path = config.path;
    this.name = config.name;
    this.#log = config.log;
    this.#onExit = config.onExit;
    const initial = { ...defaultTrameState(), ...config.state } as T & TrameBuiltinState;
    this.#stateBudget = new StateBudget({
      maxKeysPerUpdate: config.maxStateKeysPerUpdate,
      maxKeys: config.maxStateKeys,
      maxBytes: config.maxStateBytes,
    });
    this.state = new State<T & TrameBuiltinState>(initial, {
      onCommit: (changes) => {
        this.#pushStateChange(changes, undefined);
        this.#stateBudget.record(changes);
      },
      onError: (error) => this.#log("error", "state flush failed", error),
      // Never hold a value trame.state.get could not send.
      validate: (key, value) => void stateEntrySize(key, value),
    });
    this.#stateBudget.record(initial);
    for (const [key, value] of Object.entries(initial)) this.#published.set(key, cloneData(value));
    this.#core = new WslinkCore({
      secret: config.secret,
      validateToken: config.validateToken,
      maxMsgSize: config.maxMsgSize,
      preAuthMaxMessageSize: config.preAuthMaxMessageSize,
      sendStackTraces: config.sendStackTraces,
      sendBudget: config.sendBudget,
      helloTimeout: config.helloTimeout,
      maxIncompleteBytes: config.maxIncompleteBytes,
      maxMessageDepth: config.maxMessageDepth,
      log: config.log,
      onConnect: (client) => this.#emit("connect", client),
      onDisconnect: (client, code, reason) => this.#emit("disconnect", client, code, reason),
    });
    registerTrameMethods(this.#core, {
      name: this.name,
      state: this.state as unknown as State<Record<string, unknown>>,
      stateBudget: this.#stateBudget,
      triggers: this.#triggers,
      log: config.log,
      pushStateChange: (changes, skipClientId) => this.#pushStateChange(changes, skipClientId),
      emit: (event, ...args) => this.#emit(event, ...args as TrameServerEvents[typeof event]),
      scheduleExit: (seconds, client) => this.#scheduleExit(seconds, client),
    });
  }

  /** @internal Starts listening; called by {@link serve}. */
  async listen(runtime: RuntimeName | undefined, port: number): Promise<void> {
    const adapter = await loadAdapter(runtime);
    this.#listener = await adapter({
      hostname: this.hostname,
      port,
      path: this.path,
      maxFrameSize: this.#core.maxFrameSize,
      heartbeat: this.#heartbeat,
      sendBudget: this.#sendBudget,
      log: this.#log,
      open: (socket, remoteAddress) => this.#core.open(socket, remoteAddress),
    });
  }

  /** The port listened on (the one picked when asked for 0). */
  get port(): number {
    if (this.#listener === undefined) throw new TrameServerError("closed", "not listening");
    return this.#listener.port;
  }

  /** `ws://hostname:port/path`. */
  get url(): string {
    const host = this.hostname.includes(":") ? `[${this.hostname}]` : this.hostname;
    return `ws://${host}:${this.port}${this.path}`;
  }

  /** Every connected client, authenticated or not. */
  get clients(): ServerClient[] {
    return this.#core.clients;
  }

  /**
   * Registers a raw wslink RPC method. The handler gets the call's `args`, `kwargs` and the
   * calling client; what it returns (or resolves to) is the result, what it throws becomes error
   * -32001. Returns a function that unregisters it. Throws when the name is taken.
   */
  register(method: string, handler: RpcHandler): () => void {
    this.#core.register(method, handler);
    return () => {
      this.#core.unregister(method);
    };
  }

  /**
   * Registers the function `trame.trigger` calls for `name`, replacing any earlier one. State
   * changes it makes are flushed when it returns. Returns a function that removes it.
   */
  trigger(name: string, fn: TriggerHandler): () => void {
    this.#triggers.set(name, fn);
    return () => {
      if (this.#triggers.get(name) === fn) this.#triggers.delete(name);
    };
  }

  /**
   * Publishes `data` on `topic` to every authenticated client, or to `clientId` only. Sent after
   * the reply of the call being handled. Throws when `data` cannot be packed with msgpack.
   */
  publish(topic: string, data: unknown, options: ServerPublishOptions = {}): void {
    this.#core.publish(topic, data, { clientId: options.clientId });
  }

  /** Sends actions (`{type: "method", ref, method, args}`, …) on `trame.actions.topic`. */
  pushActions(actions: readonly unknown[]): void {
    this.#core.publish(ACTIONS_TOPIC, actions);
  }

  /** Listens to an event; returns a function that stops listening. */
  on<E extends keyof TrameServerEvents>(
    event: E,
    listener: (...args: TrameServerEvents[E]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Closes every client (1001 "Server shutdown"), then stops listening. Idempotent: every call
   * returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const cancel of this.#pendingExits) cancel();
      this.#pendingExits.clear();
      await this.#core.close();
      await this.#listener?.close();
      this.#resolveFinished();
    })();
    return this.#closing;
  }

  /** `await using server = await serve()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // Publishes the keys whose value differs from what was last published.
  #pushStateChange(changes: Readonly<Record<string, unknown>>, skipClientId: string | undefined) {
    let toSend: Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(changes)) {
      if (this.#published.has(key) && deepEqual(this.#published.get(key), value)) continue;
      toSend ??= {};
      toSend[key] = value;
      this.#published.set(key, cloneData(value));
    }
    if (toSend !== undefined) this.#core.publish(STATE_TOPIC, toSend, { skipClientId });
  }

  #emit<E extends keyof TrameServerEvents>(event: E, ...args: TrameServerEvents[E]): boolean {
    return this.#events.emit(event, ...args);
  }

  // After the reply is out: the onExit callback, or closing the server. Delays beyond
  // setTimeout's range are waited out in full; at most MAX_PENDING_EXITS wait at once.
  #scheduleExit(seconds: number, client: ServerClient): void {
    if (this.#pendingExits.size >= MAX_PENDING_EXITS) {
      throw new RangeError(`exit refused: ${MAX_PENDING_EXITS} exits are already scheduled`);
    }
    const cancel = setLongTimeout(() => {
      this.#pendingExits.delete(cancel);
      if (this.#onExit === undefined) {
        this.close().catch((error) => this.#log("error", "closing on exit failed", error));
        return;
      }
      try {
        this.#onExit({ seconds, client });
      } catch (error) {
        this.#log("error", "onExit threw", error);
      }
    }, seconds * 1000);
    this.#pendingExits.add(cancel);
  }
}

/**
 * Starts a trame-compatible server on the current runtime (Deno, Bun, or Node with the `ws`
 * package) and resolves once it listens.
 *
 * @example
 * ```ts
 * import { serve } from "@trame-wire/client/server";
 *
 * await using server = await serve({ state: { counter: 0 } });
 * server.trigger("increment", () => {
 *   server.state.set("counter", (server.state.get("counter") as number) + 1);
 *   return server.state.get("counter");
 * });
 * console.assert(server.url.startsWith("ws://127.0.0.1:"));
 * ```
 */
export async function serve<T extends Record<string, unknown> = Record<string, unknown>>(
  options: ServeOptions<T> = {},
): Promise<TrameServer<T>> {
  const maxMsgSize = options.maxMsgSize ?? DEFAULT_MAX_MSG_SIZE;
  const config = {
    port: options.port ?? 0,
    hostname: options.hostname ?? "127.0.0.1",
    path: options.path ?? "/ws",
    secret: options.secret ?? DEFAULT_SECRET,
    validateToken: options.validateToken,
    maxMsgSize,
    preAuthMaxMessageSize: options.preAuthMaxMessageSize ?? PRE_AUTH_MAX_MESSAGE_SIZE,
    helloTimeout: options.helloTimeout ?? 10_000,
    maxIncompleteBytes: options.maxIncompleteBytes ?? 2 ** 31,
    maxMessageDepth: options.maxMessageDepth ?? MAX_MESSAGE_DEPTH,
    heartbeat: options.heartbeat ?? 30,
    sendBudget: options.sendBudget ?? Math.max(4 * maxMsgSize, 16 * 1024 * 1024),
    sendStackTraces: options.sendStackTraces ?? true,
    maxStateKeysPerUpdate: options.maxStateKeysPerUpdate ?? DEFAULT_STATE_LIMITS.maxKeysPerUpdate,
    maxStateKeys: options.maxStateKeys ?? DEFAULT_STATE_LIMITS.maxKeys,
    maxStateBytes: options.maxStateBytes ?? DEFAULT_STATE_LIMITS.maxBytes,
    name: options.name ?? "trame",
    state: options.state ?? {},
    log: options.log ?? consoleLogger,
    onExit: options.onExit,
  };
  const integer = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new TrameServerError(
        "invalid-option",
        `${name} must be an integer from ${min} to ${max}, got ${value}`,
      );
    }
  };
  integer("port", config.port, 0, 65535);
  integer("maxMsgSize", config.maxMsgSize, 0, 0xffff_ffff);
  integer("preAuthMaxMessageSize", config.preAuthMaxMessageSize, 1, 0xffff_ffff);
  integer("helloTimeout", config.helloTimeout, 0, 2 ** 31 - 1);
  integer("maxIncompleteBytes", config.maxIncompleteBytes, 1, Number.MAX_SAFE_INTEGER);
  integer("maxMessageDepth", config.maxMessageDepth, 1, 1_000_000);
  integer("heartbeat", config.heartbeat, 0, 960);
  integer("sendBudget", config.sendBudget, 1, Number.MAX_SAFE_INTEGER);
  integer("maxStateKeysPerUpdate", config.maxStateKeysPerUpdate, 0, Number.MAX_SAFE_INTEGER);
  integer("maxStateKeys", config.maxStateKeys, 0, Number.MAX_SAFE_INTEGER);
  integer("maxStateBytes", config.maxStateBytes, 0, Number.MAX_SAFE_INTEGER);
  if (!config.path.startsWith("/")) {
    throw new TrameServerError("invalid-option", `path must start with "/", got ${config.path}`);
  }
  const server = new TrameServer<T>(config);
  await server.listen(options.runtime, config.port);
  return server;
}

// A copy of plain data (arrays, plain objects, binaries), so that in-place mutations of a
// published value are seen as changes; other objects are kept as they are.
function cloneData(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(cloneData);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  }
  if (value instanceof ArrayBuffer) return value.slice(0);
  if (!isMap(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = cloneData(item);
  return copy;
}
