/**
 * The state as a `TrameClient` holds it: the shared {@link State} semantics, plus a
 * `flush()` that resolves once the server has acknowledged the changes.
 * @module
 */
import { type ChangeListener, State, type StateKey } from "./state.ts";

/** What the client state needs from its owner: sending, and waiting for what was sent. */
export interface StateTransport {
  /** Takes changed local keys and values to send to the server. */
  commit(changes: Readonly<Record<string, unknown>>): void;
  /** Resolves when everything committed so far is acknowledged (rejects when it cannot be). */
  settled(): Promise<void>;
  /** Reports errors that have no caller to go to (automatic flushes, async listeners). */
  reportError(error: unknown): void;
  /** The server's name of a local key (`trame__client_only` lists server names). */
  serverKey(key: string): string;
}

/**
 * The client's view of the trame shared state, typed by `T`.
 *
 * Changes made in the same tick are coalesced and sent as one `trame.state.update`; values that
 * came from the server run the change listeners but are never sent back.
 *
 * @example
 * ```ts ignore
 * const client = new TrameClient<{ counter: number }>("ws://127.0.0.1:8080/ws");
 * await client.connect();
 * client.state.onChange("counter", (state) => console.log("counter is", state.counter));
 * client.state.set("counter", client.state.get("counter") + 1);
 * await client.state.flush(); // the server has it now
 * ```
 */
export class ClientState<T extends Record<string, unknown> = Record<string, unknown>> {
  readonly #state: State<T>;
  readonly #transport: StateTransport;

  /** Made by `TrameClient`; not meant to be built by hand. */
  constructor(transport: StateTransport) {
    this.#transport = transport;
    this.#state = new State<T>({}, {
      onCommit: (changes) => transport.commit(changes),
      onError: (error) => transport.reportError(error),
    });
  }

  /** The value of `key` (the pending one when a change is not flushed yet). */
  get<K extends StateKey<T>>(key: K): T[K] {
    return this.#state.get(key);
  }

  /** Sets `key`; sent with the other changes of this tick. Its current value is not a change. */
  set<K extends StateKey<T>>(key: K, value: T[K]): void {
    this.#state.set(key, value);
  }

  /** Sets several keys at once. */
  update(values: Partial<T>): void {
    this.#state.update(values);
  }

  /** Whether `key` has a value. */
  has(key: StateKey<T>): boolean {
    return this.#state.has(key);
  }

  /** Sets `key` only when it has no value yet; returns the value it ends up with. */
  setDefault<K extends StateKey<T>>(key: K, value: T[K]): T[K] {
    return this.#state.setDefault(key, value);
  }

  /** A shallow copy of the whole state (pending changes flushed locally first). */
  toObject(): T {
    return this.#state.toObject();
  }

  /** Marks keys as changed after mutating their values in place, so they are sent. */
  dirty(...keys: StateKey<T>[]): void {
    this.#state.dirty(...keys);
  }

  /** Makes pending values of `keys` current without sending them or running listeners. */
  clean(...keys: StateKey<T>[]): void {
    this.#state.clean(...keys);
  }

  /** Whether any of `keys` has an unflushed change. */
  isDirty(...keys: StateKey<T>[]): boolean {
    return this.#state.isDirty(...keys);
  }

  /** Whether all of `keys` have unflushed changes. */
  isDirtyAll(...keys: StateKey<T>[]): boolean {
    return this.#state.isDirtyAll(...keys);
  }

  /** The keys changed by the flush that is running the listeners (or ran last). */
  get modifiedKeys(): ReadonlySet<StateKey<T>> {
    return this.#state.modifiedKeys;
  }

  /** Adds keys to `trame__client_only`: no client sends them back to the server. */
  clientOnly(...keys: string[]): void {
    this.#state.clientOnly(...keys.map((key) => this.#transport.serverKey(key)));
  }

  /** Runs `fn`; keys it sets do not run change listeners (they are still sent). */
  suppressChangeListeners<R>(keys: readonly StateKey<T>[], fn: () => R): R {
    return this.#state.suppressChangeListeners(keys, fn);
  }

  /**
   * Calls `callback` with the whole state once per flush in which any of `keys` changed, from
   * this client or from the server. Returns the unsubscribe function.
   */
  onChange(keys: StateKey<T> | readonly StateKey<T>[], callback: ChangeListener<T>): () => void {
    return this.#state.onChange(keys, callback);
  }

  /** Runs `fn` and sends everything it changed as one update. */
  batch<R>(fn: () => R): R {
    return this.#state.batch(fn);
  }

  /**
   * Flushes pending changes (listeners run, changes are sent) and resolves once the server has
   * acknowledged every change sent so far. Rejects with the server's `WslinkError` when it
   * refused an update, or with code -32099 when not connected (the changes are kept and sent on
   * the next connection).
   */
  async flush(): Promise<void> {
    this.#state.flush();
    await this.#transport.settled();
  }

  /** Values that came from the server: listeners run, nothing is sent back. @internal */
  applyRemote(values: Partial<T>): void {
    this.#state.applyRemote(values);
  }
}
