/**
 * The state as a `TrameClient` holds it: the shared {@link State} semantics, plus a
 * `flush()` that resolves once the server has acknowledged the changes.
 * @module
 */
import { abortedError, clientError, type WslinkError } from "../session/errors.ts";
import { checkDuration } from "../session/_resolve_options.ts";
import { type ChangeListener, State, type StateKey } from "./state.ts";

/** Options of {@link ClientState.waitFor}. */
export type WaitForOptions = Readonly<
  Partial<{
    /** Milliseconds to wait; 0 means no limit. Default 0. */
    timeout: number;
    /** Aborts the wait: it rejects with code -32099, kind `aborted`. */
    signal: AbortSignal;
  }>
>;

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
  // The rejections of the waitFor() calls still waiting.
  readonly #waits = new Set<(error: WslinkError) => void>();

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

  /**
   * Resolves with the value of `key` once `predicate` holds for it: at once when it already
   * does, else at the first change that makes it hold, from the server or from here. Rejects
   * with a -32099 `WslinkError` of kind `timeout` after `timeout` ms, `aborted` when `signal`
   * aborts, `closed` when the client disconnects (not while it reconnects); or with what
   * `predicate` threw.
   *
   * trame answers a trigger before it publishes the state the trigger changed, so a value the
   * reply announces may not be here yet when the reply is:
   *
   * @example
   * ```ts ignore
   * const counter = await client.trigger<number>("bump");
   * await client.state.waitFor("counter", (value) => value === counter, { timeout: 5000 });
   * ```
   */
  waitFor<K extends StateKey<T>>(
    key: K,
    predicate: (value: T[K]) => boolean,
    options: WaitForOptions = {},
  ): Promise<T[K]> {
    const { timeout = 0, signal } = options;
    try {
      checkDuration("timeout", timeout);
      if (typeof predicate !== "function") throw new TypeError("predicate must be a function");
    } catch (error) {
      return Promise.reject(error);
    }
    const what = `waiting for ${key}`;
    if (signal?.aborted) return Promise.reject(abortedError(signal, what));
    return new Promise<T[K]>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let stopListening = () => {};
      const finish = () => {
        clearTimeout(timer);
        stopListening();
        signal?.removeEventListener("abort", onAbort);
        this.#waits.delete(fail);
      };
      const fail = (error: unknown) => {
        finish();
        reject(error);
      };
      const onAbort = () => fail(abortedError(signal!, what));
      // Whether the wait is over: the value satisfies the predicate, or the predicate threw.
      const settled = (): boolean => {
        try {
          const value = this.get(key);
          if (!predicate(value)) return false;
          finish();
          resolve(value);
        } catch (error) {
          fail(error);
        }
        return true;
      };
      if (settled()) return;
      stopListening = this.onChange(key, () => void settled());
      this.#waits.add(fail);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeout > 0) {
        timer = setTimeout(() => {
          fail(clientError("timeout", `${what}: not there within ${timeout} ms`, { timeout }));
        }, timeout);
      }
    });
  }

  /** Rejects every waitFor() still waiting with `error` (the client disconnected). @internal */
  endWaits(error: WslinkError): void {
    for (const fail of [...this.#waits]) fail(error);
  }

  /** Values that came from the server: listeners run, nothing is sent back. @internal */
  applyRemote(values: Partial<T>): void {
    this.#state.applyRemote(values);
  }
}
