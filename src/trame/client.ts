/**
 * `TrameClient`: drive a trame server from code. Shared state, triggers, actions, reconnect and
 * the launcher, on top of {@link WslinkSession}.
 * @module
 */
import { clientError, isClosedError, type WslinkError } from "../session/errors.ts";
import type { WslinkSessionOptions } from "../session/options.ts";
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

/** Options of {@link TrameClient}; every field is optional. */
export type TrameClientOptions = Readonly<
  Partial<{
    /** The wslink secret; wins over the config's. Default: the config's, else `"wslink-secret"`. */
    secret: string;
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
   * connecting, waits for that attempt.
   */
  connect(): Promise<void> {
    this.#wanted = true;
    if (this.#status === "connected") return Promise.resolve();
    if (this.#connecting !== undefined) return this.#connecting;
    this.#cancelReconnect();
    this.#setStatus("connecting");
    this.#connecting = this.#open().then(
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
   * `application.exit.later` (seconds, default 0), then closes. Stops any reconnecting.
   * Unacknowledged changes stay queued for a later `connect()`.
   */
  async disconnect(options: { exitServerAfter?: number } = {}): Promise<void> {
    this.#wanted = false;
    this.#cancelReconnect();
    const connecting = this.#connecting;
    if (connecting !== undefined) await connecting.catch(() => {});
    const session = this.#session;
    this.#session = undefined;
    if (session !== undefined && !session.closed) {
      try {
        await session.call(TRAME_METHODS.lifecycleUpdate, [LIFECYCLE_PHASES.exited], {}, {
          timeout: 2000,
        });
        if (options.exitServerAfter !== undefined) {
          await session.call(TRAME_METHODS.exitLater, [options.exitServerAfter], {}, {
            timeout: 2000,
          });
        }
      } catch (error) {
        this.#emit("error", { error, context: "disconnect" });
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
   * Rejects with the server's `WslinkError` when it raised, or -32099 when not connected.
   */
  trigger<R = unknown>(
    name: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<R> {
    return this.#call<R>(TRAME_METHODS.trigger, [name, args, kwargs]);
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

  #call<R>(method: string, args: unknown[]): Promise<R> {
    if (this.#session === undefined || this.#status !== "connected") {
      return Promise.reject(this.#notConnected());
    }
    return this.#session.call<R>(method, args);
  }

  #notConnected(): WslinkError {
    return clientError("closed", `the trame client is ${this.#status}`, {
      code: 0,
      reason: "not connected",
    });
  }

  // One full connection: launcher, handshake, subscriptions, state load, lifecycle.
  async #open(): Promise<void> {
    const config = await launch(this.#config, this.#options.launcher);
    // A launcher hands out a session URL (and secret) to reuse on reconnect.
    this.#config = { ...config };
    const session = await WslinkSession.connect(config.sessionURL, {
      ...this.#options.session,
      secret: this.#options.secret ?? config.secret,
    });
    try {
      session.subscribe(STATE_TOPIC, (payload) => this.#onStatePublish(payload));
      session.subscribe(ACTIONS_TOPIC, (payload) => this.#onActionsPublish(payload));
      const reply = await session.call<{ state?: unknown }>(TRAME_METHODS.stateGet);
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
      await session.call(TRAME_METHODS.lifecycleUpdate, [LIFECYCLE_PHASES.connected]);
    } catch (error) {
      await session.close();
      throw error;
    }
    if (!this.#wanted) {
      // disconnect() was called while connecting.
      await session.close();
      throw clientError("closed", "disconnected while connecting", { code: 1000, reason: "" });
    }
    session.on("close", (event) => this.#onSessionClose(session, event));
    this.#session = session;
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
    this.#emit("status", { status, previous });
  }

  #emit<K extends keyof TrameClientEventMap>(type: K, event: TrameClientEventMap[K]): void {
    const heard = this.#events.emit(type, ...[event] as TrameClientEventArgs[K]);
    if (!heard && type === "error") {
      console.error("trame-wire:", (event as TrameClientEventMap["error"]).error);
    }
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
