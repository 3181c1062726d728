/**
 * `TrameClient`: drive a trame server from code. Shared state, triggers, actions, reconnect and
 * the launcher, on top of {@link WslinkSession}.
 * @module
 */
import { abortedError, clientError, isClosedError, WslinkError } from "../session/errors.ts";
import type { CallOptions, WslinkSessionOptions } from "../session/options.ts";
import { checkDuration, DEFAULT_CLOSE_TIMEOUT_MS } from "../session/_resolve_options.ts";
import type { BinaryStream } from "../session/binary_stream.ts";
import { WslinkSession } from "../session/session.ts";
import type { SessionCloseEvent } from "../session/events.ts";
import { ClientState } from "./client_state.ts";
import { launch, type LaunchOptions, type TrameConnectionConfig } from "./launcher.ts";
import {
  ACTIONS_TOPIC,
  CLIENT_ONLY_KEY,
  LIFECYCLE_PHASES,
  STATE_TOPIC,
  TRAME_METHODS,
} from "./protocol.ts";
import { KeyTranslator } from "./translator.ts";
import { isMap } from "../protocol/envelope.ts";
import { jitteredExponentialDelay } from "../util/backoff.ts";
import { Emitter } from "../util/emitter.ts";

/** Where the client stands. */
export type TrameClientStatus = "disconnected" | "connecting" | "connected";

/** Backoff between reconnect attempts: `min(maxDelay, initialDelay * factor^(n-1))`, jittered. */
export type ReconnectOptions = Readonly<
  Partial<{
    /** Attempts before giving up. Default 10. */
    retries: number;
    /** Milliseconds before the first attempt. Default 250. */
    initialDelay: number;
    /** Longest wait between attempts, in milliseconds. Default 10,000. */
    maxDelay: number;
    /** Growth of the delay from one attempt to the next. Default 2. */
    factor: number;
    /** Share of each delay that is random, from 0 (none) to 1 (all). Default 0.5. */
    jitter: number;
  }>
>;

/** Options of {@link TrameClient.connect}. */
export type ConnectOptions = Readonly<
  Partial<{
    /**
     * Milliseconds the whole of `connect()` may take (launcher, hello, initial state, lifecycle);
     * 0 means no limit. Default: the client's `connectTimeout`.
     */
    timeout: number;
    /** Aborts connecting: `connect()` rejects with code -32099, kind `aborted`. */
    signal: AbortSignal;
  }>
>;

// How long `connect()` may take by default, in milliseconds.
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** Options of {@link TrameClient}; every field is optional. */
export type TrameClientOptions = Readonly<
  Partial<{
    /** The wslink secret; wins over the config's. Default: the config's, else `"wslink-secret"`. */
    secret: string;
    /**
     * Milliseconds each connection attempt may take, `connect()` and every reconnect attempt:
     * launcher, hello, initial state and lifecycle together; 0 means no limit. Default 30,000.
     */
    connectTimeout: number;
    /** Prefix of this client's keys on the server (trame's translator), e.g. `"child_"`. */
    prefix: string;
    /** Explicit key translations, local name → server name. */
    translations: Readonly<Record<string, string>>;
    /** Reconnect after the connection drops: `true` for the defaults. Default off. */
    reconnect: boolean | ReconnectOptions;
    /** Options of the launcher request, when the config has a `sessionManagerURL`. */
    launcher: LaunchOptions;
    /** Options of the underlying {@link WslinkSession} (timeouts, limits, WebSocket class). */
    session: Omit<WslinkSessionOptions, "secret">;
  }>
>;

/** Every event of a {@link TrameClient}, by type. */
export interface TrameClientEventMap {
  /** The status changed. */
  status: { readonly status: TrameClientStatus; readonly previous: TrameClientStatus };
  /** The connection dropped; attempt `attempt` starts after `delay` milliseconds. */
  reconnecting: { readonly attempt: number; readonly delay: number; readonly error?: unknown };
  /** Connected again after `attempts` attempts, state reloaded and offline changes sent. */
  reconnected: { readonly attempts: number };
  /** Every attempt failed; the client is disconnected. `error` is the last failure. */
  "gave-up": { readonly attempts: number; readonly error: unknown };
  /** Something failed with no caller to tell: a state update, a listener, an action handler. */
  error: { readonly error: unknown; readonly context: string };
}

/** A trame action as `trame.actions.topic` publishes it. */
export interface TrameAction {
  /** The action's kind. */
  readonly type: string;
  /** The name of the client-side object it targets, when it has one. */
  readonly ref?: string;
  /** The method to call on it, when it has one. */
  readonly method?: string;
  /** The method's arguments, when it has any. */
  readonly args?: unknown[];
  /** Any other field the server sent. */
  readonly [key: string]: unknown;
}

// The client's events as the emitter takes them: one argument each.
type TrameClientEventArgs = { [K in keyof TrameClientEventMap]: [event: TrameClientEventMap[K]] };

/**
 * A client of a trame server.
 *
 * `connect()` opens the session, loads the full state (it is there when `connect()` resolves),
 * subscribes to state and action publishes and announces the client. State changes made in one
 * tick go out as one `trame.state.update`; changes from the server run listeners and are never
 * echoed back.
 *
 * @example
 * ```ts ignore
 * import { TrameClient } from "@trame-wire/client";
 * await using client = new TrameClient<{ count: number }>("ws://127.0.0.1:8080/ws");
 * await client.connect();
 * console.log(client.state.get("count"));
 * console.log(await client.trigger("add", [1, 2]));
 * ```
 */
export class TrameClient<T extends Record<string, unknown> = Record<string, unknown>>
  implements AsyncDisposable {
  /** The shared state. */
  readonly state: ClientState<T>;
  #config: TrameConnectionConfig;
  #options: TrameClientOptions;
  #translator: KeyTranslator;
  #status: TrameClientStatus = "disconnected";
  #session: WslinkSession | undefined;
  #connecting: Promise<void> | undefined;
  // The attempt under way, which disconnect() cuts short.
  #attempt: ConnectAttempt | undefined;
  readonly #events = new Emitter<TrameClientEventArgs>((type, error) => {
    if (type !== "error") this.#emit("error", { error, context: `${type} listener` });
  });
  #actionCallbacks = new Set<(actions: TrameAction[]) => void>();
  // Local changes not yet acknowledged by the server, by local key: sent when connected.
  #outbox = new Map<string, unknown>();
  #inFlight = new Set<Promise<void>>();
  #wanted = false; // Whether the user wants a connection (connect() and no disconnect() since).
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #cancelReconnectWait: (() => void) | undefined;

  /**
   * Makes a client; nothing is opened until {@link TrameClient.connect}.
   *
   * @param urlOrConfig the `ws://`/`wss://` URL, or a launcher config with `sessionURL` or
   * `sessionManagerURL` (and optionally `secret`).
   */
  constructor(urlOrConfig: string | TrameConnectionConfig, options: TrameClientOptions = {}) {
    this.#config = typeof urlOrConfig === "string"
      ? { sessionURL: urlOrConfig }
      : { ...urlOrConfig };
    this.#options = options;
    checkDuration("connectTimeout", options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS);
    this.#translator = new KeyTranslator(options);
    this.state = new ClientState<T>({
      commit: (changes) => this.#commit(changes),
      settled: () => this.#settled(),
      reportError: (error) => this.#emit("error", { error, context: "state" }),
      serverKey: (key) => this.#translator.toServer(key),
    });
  }

  /** `"disconnected"`, `"connecting"` or `"connected"`; a `status` event marks every change. */
  get status(): TrameClientStatus {
    return this.#status;
  }

  /** The wslink session, for raw calls. Throws a -32099 `WslinkError` when not connected. */
  get session(): WslinkSession {
    if (this.#session === undefined || this.#status !== "connected") throw this.#notConnected();
    return this.#session;
  }

  /** Adds an event listener; returns a function that removes it. */
  on<K extends keyof TrameClientEventMap>(
    type: K,
    listener: (event: TrameClientEventMap[K]) => void,
  ): () => void {
    return this.#events.on(type, listener);
  }

  /**
   * Connects: handshake, `trame.state.get`, subscriptions, `trame.lifecycle.update
   * ("client_connected")`. Resolves with the state loaded. A no-op while connected; while
   * connecting, waits for that attempt (and its time limit).
   *
   * Rejects with a -32099 `WslinkError` of kind `timeout` when it took longer than `timeout`
   * (default `connectTimeout`, 30 s), `aborted` when `signal` aborted, `closed` when the
   * connection failed or `disconnect()` was called meanwhile; or with the server's error (-32000
   * for a wrong secret), or a `LauncherError`.
   */
  connect(options: ConnectOptions = {}): Promise<void> {
    try {
      checkDuration("timeout", options.timeout ?? 0);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#wanted = true;
    if (this.#status === "connected") return Promise.resolve();
    if (this.#connecting !== undefined) return this.#connecting;
    this.#cancelReconnect();
    this.#setStatus("connecting");
    this.#connecting = this.#open(options).then(
      () => {
        this.#connecting = undefined;
        this.#setStatus("connected");
        this.#sendOutbox();
      },
      (error) => {
        this.#connecting = undefined;
        this.#wanted = false;
        this.#setStatus("disconnected");
        throw error;
      },
    );
    return this.#connecting;
  }

  /**
   * Disconnects: sends `trame.lifecycle.update("client_exited")` and, with `exitServerAfter`,
   * `application.exit.later` (seconds), then closes the session. Stops any reconnecting and cuts
   * a connection attempt short. Unacknowledged changes stay queued for a later `connect()`.
   *
   * Prompt whatever the server does: the goodbye is sent, not waited for (the server reads it
   * before the close); the session's `closeTimeout` (1 s by default) bounds the wait for the
   * server to confirm the close, and, with `exitServerAfter`, for its answer to the exit request,
   * whose failure becomes an `error` event (context `disconnect`).
   */
  async disconnect(options: { exitServerAfter?: number } = {}): Promise<void> {
    this.#wanted = false;
    this.#cancelReconnect();
    this.#attempt?.cancel();
    const connecting = this.#connecting;
    if (connecting !== undefined) await connecting.catch(() => {});
    const session = this.#session;
    this.#session = undefined;
    if (session !== undefined && !session.closed) {
      // trame answers the goodbye with null: nothing to wait for, and a busy server would not.
      session.call(TRAME_METHODS.lifecycleUpdate, [LIFECYCLE_PHASES.exited]).catch(() => {});
      if (options.exitServerAfter !== undefined) {
        const exit = session.call(TRAME_METHODS.exitLater, [options.exitServerAfter], {}, {
          timeout: this.#closeTimeout,
        });
        // With no time to wait (closeTimeout 0), the request goes out unwatched.
        if (this.#closeTimeout > 0) {
          await exit.catch((error) => this.#emit("error", { error, context: "disconnect" }));
        } else exit.catch(() => {});
      }
      await session.close();
    }
    this.#setStatus("disconnected");
  }

  /** Disconnects; for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  /**
   * Calls the server function registered as trigger `name` and resolves with what it returns.
   * Rejects with the server's `WslinkError` when it raised, or -32099 when not connected, when
   * no reply came within `timeout` (default: the session's `callTimeout`, none unless set) or
   * when `signal` aborted it.
   *
   * trame replies before it publishes the state changes the trigger made: when the reply
   * arrives, `state` may not have them yet. Wait for them with {@link ClientState.waitFor}.
   */
  trigger<R = unknown>(
    name: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: CallOptions = {},
  ): Promise<R> {
    return this.#call<R>(TRAME_METHODS.trigger, [name, args, kwargs], options);
  }

  /**
   * Calls trigger `name`, whose result must be binary, and resolves at the first frame of the
   * reply with a {@link BinaryStream} of its bytes, handed over as they arrive (see
   * `WslinkSession.callStream()`): a result may be far larger than `maxMessageSize`, and is never
   * held whole in memory. `options` bound the wait for the first frame (`timeout`) and abort the
   * call or the stream (`signal`).
   *
   * @example
   * ```ts
   * import { TrameClient } from "@trame-wire/client";
   * import { serve } from "@trame-wire/client/server";
   *
   * await using server = await serve({ port: 0 });
   * server.trigger("export", () => new Blob(["a,b\n1,2\n"]));
   * await using client = new TrameClient(server.url);
   * await client.connect();
   * const stream = await client.triggerStream("export");
   * console.log(stream.size, await new Response(stream).text());
   * ```
   */
  triggerStream(
    name: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: CallOptions = {},
  ): Promise<BinaryStream> {
    if (this.#session === undefined || this.#status !== "connected") {
      return Promise.reject(this.#notConnected());
    }
    return this.#session.callStream(TRAME_METHODS.trigger, [name, args, kwargs], {}, options);
  }

  /** Asks the server to publish the current values of `keys` to every client, this one included. */
  async forcePush(...keys: string[]): Promise<void> {
    await this.#call(TRAME_METHODS.forcePush, keys.map((key) => this.#translator.toServer(key)));
  }

  /** Sends a client-side error message to the server's log (`trame.error.client`). */
  async reportError(message: string): Promise<void> {
    await this.#call(TRAME_METHODS.errorClient, [message]);
  }

  /** Calls `callback` with every list of actions the server pushes. Returns an unsubscribe. */
  onActions(callback: (actions: TrameAction[]) => void): () => void {
    const registration = (actions: TrameAction[]) => callback(actions);
    this.#actionCallbacks.add(registration);
    return () => void this.#actionCallbacks.delete(registration);
  }

  #call<R>(method: string, args: unknown[], options: CallOptions = {}): Promise<R> {
    if (this.#session === undefined || this.#status !== "connected") {
      return Promise.reject(this.#notConnected());
    }
    return this.#session.call<R>(method, args, {}, options);
  }

  get #closeTimeout(): number {
    return this.#options.session?.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS;
  }

  #notConnected(): WslinkError {
    return clientError("closed", `the trame client is ${this.#status}`, {
      code: 0,
      reason: "not connected",
    });
  }

  // One full connection: launcher, handshake, subscriptions, state load, lifecycle; within the
  // attempt's time limit, and cut short by its signal or by disconnect().
  async #open(options: ConnectOptions = {}): Promise<void> {
    const timeout = options.timeout ?? this.#options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const attempt = new ConnectAttempt(timeout, options.signal);
    this.#attempt = attempt;
    let session: WslinkSession | undefined;
    try {
      const launcher = this.#options.launcher;
      attempt.step = "the launcher";
      const config = await launch(this.#config, {
        ...launcher,
        signal: attempt.signalWith(launcher?.signal),
      });
      // A launcher hands out a session URL (and secret) to reuse on reconnect.
      this.#config = { ...config };
      attempt.step = "the hello";
      session = await WslinkSession.connect(config.sessionURL, {
        ...this.#options.session,
        secret: this.#options.secret ?? config.secret,
        signal: attempt.signalWith(this.#options.session?.signal),
      });
      session.subscribe(STATE_TOPIC, (payload) => this.#onStatePublish(payload));
      session.subscribe(ACTIONS_TOPIC, (payload) => this.#onActionsPublish(payload));
      const calls = { signal: attempt.signal };
      attempt.step = TRAME_METHODS.stateGet;
      const reply = await session.call<{ state?: unknown }>(TRAME_METHODS.stateGet, [], {}, calls);
      const serverState = reply?.state;
      if (!isMap(serverState)) {
        throw clientError("protocol", `${TRAME_METHODS.stateGet} did not return a state object`);
      }
      try {
        this.#applyServerValues(serverState);
      } catch (error) {
        // A listener threw: the state is loaded all the same, the connection is fine.
        this.#emit("error", { error, context: TRAME_METHODS.stateGet });
      }
      attempt.step = TRAME_METHODS.lifecycleUpdate;
      await session.call(TRAME_METHODS.lifecycleUpdate, [LIFECYCLE_PHASES.connected], {}, calls);
      // disconnect() may have been called as the last reply came in.
      if (!this.#wanted) attempt.cancel();
      attempt.check();
    } catch (error) {
      await session?.close();
      throw attempt.explain(error, this.#config.sessionURL ?? this.#config.sessionManagerURL);
    } finally {
      attempt.end();
      if (this.#attempt === attempt) this.#attempt = undefined;
    }
    const connected = session;
    connected.on("close", (event) => this.#onSessionClose(connected, event));
    this.#session = connected;
  }

  // Server values become current, except keys with local changes still to send (ours win).
  #applyServerValues(values: Record<string, unknown>): void {
    const local = this.#translator.recordToLocal(values);
    for (const key of this.#outbox.keys()) delete local[key];
    this.state.applyRemote(local as Partial<T>);
  }

  #onStatePublish(payload: unknown): void {
    if (!isMap(payload)) {
      this.#emit("error", {
        error: clientError("protocol", "a state publish that is not a map"),
        context: STATE_TOPIC,
      });
      return;
    }
    try {
      this.#applyServerValues(payload);
    } catch (error) {
      this.#emit("error", { error, context: STATE_TOPIC });
    }
  }

  #onActionsPublish(payload: unknown): void {
    const actions = (Array.isArray(payload) ? payload : [payload]) as TrameAction[];
    for (const callback of [...this.#actionCallbacks]) {
      try {
        callback(actions);
      } catch (error) {
        this.#emit("error", { error, context: ACTIONS_TOPIC });
      }
    }
  }

  // Called by the state after each local flush pass with the keys that changed here.
  #commit(changes: Readonly<Record<string, unknown>>): void {
    for (const [key, value] of Object.entries(changes)) this.#outbox.set(key, value);
    if (this.#status === "connected") this.#sendOutbox();
  }

  #sendOutbox(): void {
    const session = this.#session;
    if (session === undefined || this.#outbox.size === 0) return;
    const sent = new Map(this.#outbox);
    this.#outbox.clear();
    const update = this.#serverUpdate(sent);
    if (update.length === 0) return;
    const request: Promise<void> = session.call(TRAME_METHODS.stateUpdate, [update]).then(
      () => {},
      (error: unknown) => {
        if (isClosedError(error)) {
          // Lost with the connection: queue again, unless a newer local value is queued.
          for (const [key, value] of sent) if (!this.#outbox.has(key)) this.#outbox.set(key, value);
        } else {
          this.#emit("error", { error, context: TRAME_METHODS.stateUpdate });
        }
        throw error;
      },
    ).finally(() => this.#inFlight.delete(request));
    // Whoever awaits flush() sees the failure; nobody else should get an unhandled rejection.
    request.catch(() => {});
    this.#inFlight.add(request);
  }

  // Builds `[{key, value}]` in server names, leaving out client-only keys and `_filter` names.
  #serverUpdate(changes: ReadonlyMap<string, unknown>): { key: string; value: unknown }[] {
    const clientOnlyList = this.state.get(CLIENT_ONLY_KEY as keyof T & string);
    const clientOnly = new Set(Array.isArray(clientOnlyList) ? clientOnlyList : []);
    const update: { key: string; value: unknown }[] = [];
    for (const [key, value] of changes) {
      const serverKey = this.#translator.toServer(key);
      if (clientOnly.has(serverKey)) continue;
      update.push({ key: serverKey, value: applyFilter(value) });
    }
    return update;
  }

  async #settled(): Promise<void> {
    if (this.#status !== "connected" && this.#outbox.size > 0) {
      throw clientError("closed", "not connected: the changes are queued for the next connection", {
        code: 0,
        reason: "not connected",
      });
    }
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #onSessionClose(session: WslinkSession, event: SessionCloseEvent): void {
    if (this.#session !== session) return;
    this.#session = undefined;
    if (!this.#wanted || event.local) {
      this.#setStatus("disconnected");
      return;
    }
    const reconnect = this.#options.reconnect;
    if (reconnect === undefined || reconnect === false) {
      this.#wanted = false;
      this.#setStatus("disconnected");
      return;
    }
    this.#setStatus("connecting");
    void this.#reconnectLoop(reconnect === true ? {} : reconnect, event);
  }

  async #reconnectLoop(options: ReconnectOptions, cause: SessionCloseEvent): Promise<void> {
    const retries = options.retries ?? 10;
    const backoff = {
      initialDelay: options.initialDelay ?? 250,
      maxDelay: options.maxDelay ?? 10_000,
      factor: options.factor ?? 2,
      jitter: options.jitter ?? 0.5,
    };
    let lastError: unknown = clientError("closed", `connection closed: ${cause.reason}`, {
      code: cause.code,
      reason: cause.reason,
    });
    for (let attempt = 1; attempt <= retries; attempt++) {
      const delay = jitteredExponentialDelay(attempt, backoff);
      this.#emit("reconnecting", { attempt, delay, error: lastError });
      if (!(await this.#waitToReconnect(delay))) return;
      try {
        this.#connecting = this.#open();
        await this.#connecting;
        this.#connecting = undefined;
        this.#setStatus("connected");
        this.#sendOutbox();
        this.#emit("reconnected", { attempts: attempt });
        return;
      } catch (error) {
        this.#connecting = undefined;
        lastError = error;
        if (!this.#wanted) return;
      }
    }
    this.#wanted = false;
    this.#setStatus("disconnected");
    this.#emit("gave-up", { attempts: retries, error: lastError });
  }

  // Resolves true after `delay`, or false at once when disconnect() cancels the wait.
  #waitToReconnect(delay: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (!this.#wanted) {
        resolve(false);
        return;
      }
      this.#cancelReconnectWait = () => resolve(false);
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = undefined;
        this.#cancelReconnectWait = undefined;
        resolve(this.#wanted);
      }, delay);
    });
  }

  #cancelReconnect(): void {
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const cancel = this.#cancelReconnectWait;
    this.#cancelReconnectWait = undefined;
    cancel?.();
  }

  #setStatus(status: TrameClientStatus): void {
    const previous = this.#status;
    if (previous === status) return;
    this.#status = status;
    if (status === "disconnected") {
      this.state.endWaits(clientError("closed", "the trame client disconnected", {
        code: 0,
        reason: "disconnected",
      }));
    }
    this.#emit("status", { status, previous });
  }

  #emit<K extends keyof TrameClientEventMap>(type: K, event: TrameClientEventMap[K]): void {
    const heard = this.#events.emit(type, ...[event] as TrameClientEventArgs[K]);
    if (!heard && type === "error") reportUnheard(event as TrameClientEventMap["error"]);
  }
}

/**
 * An `error` event nobody listens to goes to the console: a failure of the connection or the
 * server (a `WslinkError`) as one line, since its stack says nothing; anything else (a listener
 * of the application that threw) with its stack, which says where.
 */
function reportUnheard({ error, context }: TrameClientEventMap["error"]): void {
  if (error instanceof WslinkError) console.error(`trame-wire: ${context}: ${error.message}`);
  else console.error(`trame-wire: ${context}:`, error);
}

/**
 * One connection attempt's time limit and cancellation: its `signal` aborts when the time is up,
 * when the caller's signal aborts, or on `cancel()` (disconnect); `explain` then turns what the
 * interrupted step threw into the error that says which of these happened.
 */
class ConnectAttempt {
  /** What the attempt waits for, named in the timeout's message. */
  step = "";
  readonly #controller = new AbortController();
  readonly #timeout: number;
  readonly #callerSignal: AbortSignal | undefined;
  readonly #onCallerAbort = () => this.#stop("aborted");
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped: "timeout" | "aborted" | "cancelled" | undefined;

  constructor(timeout: number, signal: AbortSignal | undefined) {
    this.#timeout = timeout;
    this.#callerSignal = signal;
    if (timeout > 0) this.#timer = setTimeout(() => this.#stop("timeout"), timeout);
    if (signal?.aborted) this.#stop("aborted");
    else signal?.addEventListener("abort", this.#onCallerAbort, { once: true });
  }

  /** Aborts when the attempt is over early. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** This attempt's signal, combined with `other` when there is one. */
  signalWith(other: AbortSignal | undefined): AbortSignal {
    return other === undefined ? this.signal : AbortSignal.any([this.signal, other]);
  }

  /** Ends the attempt early: disconnect() was called. */
  cancel(): void {
    this.#stop("cancelled");
  }

  /** Throws when the attempt was stopped (a step may have finished just as it was). */
  check(): void {
    if (this.#stopped !== undefined) throw new Error("stopped");
  }

  /** The error `connect()` rejects with, given what the step threw. */
  explain(error: unknown, url = "the server"): unknown {
    switch (this.#stopped) {
      case "timeout":
        return clientError(
          "timeout",
          `connecting to ${url} got no answer within ${this.#timeout} ms (waiting for ${this.step})`,
          { timeout: this.#timeout },
        );
      case "aborted":
        return abortedError(this.#callerSignal!, `connecting to ${url}`);
      case "cancelled":
        return clientError("closed", "disconnected while connecting", { code: 1000, reason: "" });
      default:
        return error;
    }
  }

  /** Clears the timer and the caller's listener. */
  end(): void {
    clearTimeout(this.#timer);
    this.#callerSignal?.removeEventListener("abort", this.#onCallerAbort);
  }

  #stop(why: "timeout" | "aborted" | "cancelled"): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = why;
    this.end();
    this.#controller.abort(why);
  }
}

// trame's upload convention: `{ _filter: [names], ... }` travels without those names.
function applyFilter(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.some(hasFilter)
      ? value.map((item) => (hasFilter(item) ? filtered(item) : item))
      : value;
  }
  return hasFilter(value) ? filtered(value) : value;
}

function hasFilter(value: unknown): value is { _filter: unknown[] } & Record<string, unknown> {
  return value !== null && typeof value === "object" && !ArrayBuffer.isView(value) &&
    Array.isArray((value as { _filter?: unknown })._filter);
}

function filtered(
  value: { _filter: unknown[] } & Record<string, unknown>,
): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...value };
  for (const name of value._filter) if (typeof name === "string") delete copy[name];
  return copy;
}
