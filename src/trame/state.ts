/**
 * The trame shared state: a key/value store whose changes are collected, flushed in batches, and
 * announced to change listeners, with the semantics of trame-server's `State`. It knows nothing
 * about the network: its owner (the embedded server, the TrameClient) learns what to send through
 * the `onCommit` hook and feeds values received from a peer through {@link State.applyRemote}.
 *
 * @example
 * ```ts
 * import { State } from "@trame-wire/client/server";
 *
 * const sent: Record<string, unknown>[] = [];
 * const state = new State<{ count: number; label: string }>({ count: 0, label: "" }, {
 *   onCommit: (changes) => sent.push({ ...changes }),
 * });
 * const stop = state.onChange(["count"], (values) => state.set("label", `n=${values.count}`));
 * state.set("count", 1);
 * state.flush();
 * console.assert(state.get("label") === "n=1");
 * console.assert(sent.length === 2); // {count: 1}, then the listener's {label: "n=1"}
 * stop();
 * ```
 * @module
 */
import { isMap } from "../protocol/envelope.ts";
import { CLIENT_ONLY_KEY, UNSENDABLE_STATE_KEY } from "./protocol.ts";

/** The names of a state's keys. */
export type StateKey<T> = keyof T & string;

/**
 * A change listener: receives the whole state (after the flush that triggered it). What it returns
 * is ignored, except that a rejected promise goes to `onError`.
 */
export type ChangeListener<T> = (state: Readonly<T>) => unknown;

/** Options for {@link State}; every field is optional. */
export type StateOptions<T> = Readonly<
  Partial<{
    /**
     * Called once per flush pass with the keys whose new value must be sent to peers, and those
     * values. Values applied with {@link State.applyRemote} are left out (they came from the peer),
     * unless a listener changed them again. Never called with an empty object. Default: none.
     */
    onCommit: (changes: Readonly<Partial<T>>) => void;
    /**
     * Where errors go that cannot be thrown to a caller: those of automatic flushes and the
     * rejections of asynchronous listeners. Default: `console.error`.
     */
    onError: (error: unknown) => void;
    /**
     * Flush automatically once the current synchronous code is done (in a microtask) after a
     * change, so that changes made together are sent together. Default `true`.
     */
    autoFlush: boolean;
    /**
     * Largest number of flush passes one flush may make while listeners keep changing the state,
     * before it gives up with a {@link StateCascadeError}. Default 100.
     */
    maxCascade: number;
    /**
     * Checks each key and value set on this side (`set`, `update`, `setDefault`, `dirty`, the
     * initial values) before it is taken; what it throws, the setter throws, and nothing of
     * that call is set. Values from {@link State.applyRemote} are their owner's to check.
     * Default: none. The key `__proto__` is refused whatever this says.
     */
    validate: (key: string, value: unknown) => void;
  }>
>;

/** Why a state change was refused. */
export type StateUpdateErrorReason =
  /** The key `__proto__`, which no msgpack client could read. */
  | "unsendable-key"
  /** A value nesting deeper than the server can send it. */
  | "too-deep"
  /** More keys than the server accepts in one update, or in its whole state. */
  | "too-many-keys"
  /** More bytes than the server accepts in its whole state. */
  | "too-large";

/** A state change was refused; nothing of the call that made it was applied. */
export class StateUpdateError extends Error {
  /** Machine-readable cause. */
  readonly reason: StateUpdateErrorReason;

  /** Makes the error with its machine-readable `reason`. */
  constructor(reason: StateUpdateErrorReason, message: string) {
    super(message);
    this.name = "StateUpdateError";
    this.reason = reason;
  }
}

/** Throws a {@link StateUpdateError} for the key no msgpack client can read. */
export function assertSendableKey(key: string): void {
  if (key === UNSENDABLE_STATE_KEY) {
    throw new StateUpdateError(
      "unsendable-key",
      `the state key ${key} is refused: msgpack decoders refuse a map with it, so no client ` +
        "could read the state",
    );
  }
}

/** A change listener threw during a flush. The flush itself completed. */
export class StateListenerError extends Error {
  /** Every error thrown by listeners during the flush, in order. */
  readonly errors: readonly unknown[];

  /** Makes the error from the listeners' errors, in order. */
  constructor(errors: readonly unknown[]) {
    super(
      `${errors.length} state change listener(s) threw: ${String(errors[0])}`,
      { cause: errors[0] },
    );
    this.name = "StateListenerError";
    this.errors = errors;
  }
}

/** Listeners kept changing the state: the flush stopped after `maxCascade` passes. */
export class StateCascadeError extends Error {
  /** The keys still pending when the flush gave up. */
  readonly pendingKeys: readonly string[];

  /** Makes the error after `passes` flush passes with `pendingKeys` still changing. */
  constructor(passes: number, pendingKeys: readonly string[]) {
    super(
      `state listeners still changing ${pendingKeys.join(", ")} after ${passes} flush passes`,
    );
    this.name = "StateCascadeError";
    this.pendingKeys = pendingKeys;
  }
}

interface Listener<T> {
  readonly keys: ReadonlySet<string>;
  readonly callback: ChangeListener<T>;
}

/**
 * The shared state. `T` types the keys and values: `State<{ counter: number }>`.
 *
 * Changes are pending until a flush (automatic at the end of the tick unless `autoFlush` is
 * off, or explicit with {@link State.flush}); setting a key to a value deep-equal to its current
 * one (plain objects, arrays, `Uint8Array` bytes) is not a change. A flush makes the pending
 * values current, reports them through `onCommit`, then runs once every listener watching at
 * least one of the changed keys; changes those listeners make are flushed in further passes.
 *
 * Values are stored as given, never copied: after mutating a stored object in place, call
 * {@link State.dirty} so the change is flushed.
 */
export class State<T extends Record<string, unknown> = Record<string, unknown>> {
  #current = new Map<string, unknown>();
  #pending = new Map<string, unknown>();
  // Pending keys whose value came from a peer: run listeners, do not send.
  #remote = new Set<string>();
  // Pending keys that will run listeners (not suppressed when they were set).
  #listenerKeys = new Set<string>();
  #suppressed: ReadonlySet<string>[] = [];
  #listeners = new Set<Listener<T>>();
  #modified: ReadonlySet<string> = new Set();
  #flushing = false;
  #batchDepth = 0;
  #flushScheduled = false;
  #onCommit: StateOptions<T>["onCommit"];
  #onError: (error: unknown) => void;
  #autoFlush: boolean;
  #maxCascade: number;
  #validate: ((key: string, value: unknown) => void) | undefined;

  /** Creates a state holding `initial` as its current (already flushed) values. */
  constructor(initial: Partial<T> = {}, options: StateOptions<T> = {}) {
    this.#onCommit = options.onCommit;
    this.#onError = options.onError ?? ((error) => console.error(error));
    this.#autoFlush = options.autoFlush ?? true;
    this.#maxCascade = options.maxCascade ?? 100;
    this.#validate = options.validate;
    const entries = Object.entries(initial);
    this.#check(entries);
    for (const [key, value] of entries) this.#current.set(key, value);
  }

  /** The value of `key`: the pending one when there is one, else the current one. */
  get<K extends StateKey<T>>(key: K): T[K] {
    return (this.#pending.has(key) ? this.#pending.get(key) : this.#current.get(key)) as T[K];
  }

  /** Sets `key`. Setting it back to its current value cancels a pending change. */
  set<K extends StateKey<T>>(key: K, value: T[K]): void {
    this.#check([[key, value]]);
    this.#stage(key, value, false);
    this.#scheduleFlush();
  }

  /** Sets several keys at once. */
  update(values: Partial<T>): void {
    const entries = Object.entries(values);
    this.#check(entries);
    for (const [key, value] of entries) this.#stage(key, value, false);
    this.#scheduleFlush();
  }

  /** Whether `key` has a current or pending value. */
  has(key: StateKey<T>): boolean {
    return this.#current.has(key) || this.#pending.has(key);
  }

  /** Sets `key` to `value` only when it has no value yet; returns the value it ends up with. */
  setDefault<K extends StateKey<T>>(key: K, value: T[K]): T[K] {
    if (this.#current.has(key)) return this.#current.get(key) as T[K];
    if (this.#pending.has(key)) return this.#pending.get(key) as T[K];
    this.#check([[key, value]]);
    this.#pending.set(key, value);
    this.#noteListenerKey(key);
    this.#scheduleFlush();
    return value;
  }

  /** Flushes, then returns a shallow copy of the whole state. */
  toObject(): T {
    this.flush();
    return Object.fromEntries(this.#current) as T;
  }

  /** The current values, pending ones included, without flushing. */
  snapshot(): T {
    const values = Object.fromEntries(this.#current);
    for (const [key, value] of this.#pending) values[key] = value;
    return values as T;
  }

  /** Marks keys as changed (after an in-place mutation), so the next flush sends them. */
  dirty(...keys: StateKey<T>[]): void {
    this.#check(keys.map((key) => [key, this.get(key)]));
    for (const key of keys) {
      if (!this.#pending.has(key)) this.#pending.set(key, this.#current.get(key));
      this.#remote.delete(key);
      this.#noteListenerKey(key);
    }
    this.#scheduleFlush();
  }

  /**
   * Makes the pending values of `keys` current without sending them or running listeners.
   * As in trame-server, it also forgets which other pending keys were to run listeners.
   */
  clean(...keys: StateKey<T>[]): void {
    this.#listenerKeys.clear();
    for (const key of keys) {
      if (!this.#pending.has(key)) continue;
      this.#current.set(key, this.#pending.get(key));
      this.#pending.delete(key);
      this.#remote.delete(key);
    }
  }

  /** Whether any of `keys` has a pending change. */
  isDirty(...keys: StateKey<T>[]): boolean {
    return keys.some((key) => this.#pending.has(key));
  }

  /** Whether every one of `keys` has a pending change. */
  isDirtyAll(...keys: StateKey<T>[]): boolean {
    return keys.every((key) => this.#pending.has(key));
  }

  /** The keys changed by the flush pass that is running the listeners (or ran last). */
  get modifiedKeys(): ReadonlySet<StateKey<T>> {
    return this.#modified as ReadonlySet<StateKey<T>>;
  }

  /** Whether a flush is running. */
  get flushing(): boolean {
    return this.#flushing;
  }

  /**
   * Adds `keys` to `trame__client_only` (the names clients never send back) and flushes when
   * that changed the list.
   */
  clientOnly(...keys: string[]): void {
    const list = this.#current.get(CLIENT_ONLY_KEY);
    const pendingList = this.#pending.get(CLIENT_ONLY_KEY);
    const names: string[] = [];
    for (const source of [pendingList, list]) {
      if (!Array.isArray(source)) continue;
      for (const name of source) if (!names.includes(name)) names.push(name);
    }
    let added = false;
    for (const key of keys) {
      if (names.includes(key)) continue;
      names.push(key);
      added = true;
    }
    if (!added) return;
    this.#stage(CLIENT_ONLY_KEY, names, false);
    if (this.#batchDepth === 0) this.flush();
  }

  /**
   * Runs `fn`; keys set during it do not run change listeners (they are still sent). No keys:
   * every key is suppressed. Covers only what `fn` does synchronously.
   */
  suppressChangeListeners<R>(keys: readonly StateKey<T>[], fn: () => R): R {
    this.#suppressed.push(new Set(keys));
    try {
      return fn();
    } finally {
      this.#suppressed.pop();
    }
  }

  /**
   * Calls `callback` after each flush that changed at least one of `keys` (once per flush pass,
   * however many of them changed), with the whole state. Returns the unsubscribe function.
   */
  onChange(
    keys: StateKey<T> | readonly StateKey<T>[],
    callback: ChangeListener<T>,
  ): () => void {
    const listener: Listener<T> = {
      keys: new Set(typeof keys === "string" ? [keys] : keys),
      callback,
    };
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Applies values received from a peer: they become current, listeners run, and `onCommit`
   * does not report them (so they are not sent back). Flushes right away unless a
   * {@link State.batch} is open. Values equal to the current ones change nothing.
   */
  applyRemote(values: Partial<T>): void {
    const entries = Object.entries(values);
    for (const [key] of entries) assertSendableKey(key);
    for (const [key, value] of entries) this.#stage(key, value, true);
    if (this.#batchDepth === 0) this.flush();
  }

  /**
   * Runs `fn` with automatic flushing held back, then flushes once (also when `fn` throws).
   * Returns what `fn` returns.
   */
  batch<R>(fn: () => R): R {
    this.#batchDepth++;
    try {
      return fn();
    } finally {
      this.#batchDepth--;
      if (this.#batchDepth === 0) this.flush();
    }
  }

  /**
   * Makes every pending change current, reports it through `onCommit`, and runs the listeners,
   * pass after pass while they change the state. Returns the keys flushed. Does nothing when
   * called from inside a flush (a listener): the running flush picks the changes up.
   * Throws {@link StateListenerError} after the flush when a listener threw.
   */
  flush(): Set<StateKey<T>> {
    const flushed = new Set<StateKey<T>>();
    if (this.#flushing) return flushed;
    this.#flushing = true;
    const errors: unknown[] = [];
    try {
      let passes = 0;
      while (this.#pending.size > 0) {
        if (passes === this.#maxCascade) {
          throw new StateCascadeError(passes, [...this.#pending.keys()]);
        }
        passes++;
        this.#flushPass(flushed, errors);
      }
    } finally {
      this.#flushing = false;
    }
    if (errors.length > 0) throw new StateListenerError(errors);
    return flushed;
  }

  #flushPass(flushed: Set<StateKey<T>>, errors: unknown[]): void {
    const pending = this.#pending;
    const remote = this.#remote;
    const listenerKeys = this.#listenerKeys;
    this.#pending = new Map();
    this.#remote = new Set();
    this.#listenerKeys = new Set();
    this.#modified = new Set(pending.keys());

    let changes: Record<string, unknown> | undefined;
    for (const [key, value] of pending) {
      flushed.add(key as StateKey<T>);
      if (remote.has(key)) continue;
      changes ??= {};
      changes[key] = value;
    }
    for (const [key, value] of pending) this.#current.set(key, value);
    if (changes !== undefined && this.#onCommit !== undefined) {
      try {
        this.#onCommit(changes as Partial<T>);
      } catch (error) {
        errors.push(error);
      }
    }

    const toRun: Listener<T>[] = [];
    for (const listener of this.#listeners) {
      for (const key of listenerKeys) {
        if (listener.keys.has(key)) {
          toRun.push(listener);
          break;
        }
      }
    }
    if (toRun.length === 0) return;
    const values = Object.freeze(Object.fromEntries(this.#current)) as Readonly<T>;
    for (const listener of toRun) {
      try {
        const result = listener.callback(values);
        if (result instanceof Promise) result.catch(this.#onError);
      } catch (error) {
        errors.push(error);
      }
    }
  }

  // Refuses the whole call when one of its keys or values is refused.
  #check(entries: readonly (readonly [string, unknown])[]): void {
    for (const [key, value] of entries) {
      assertSendableKey(key);
      this.#validate?.(key, value);
    }
  }

  #stage(key: string, value: unknown, remote: boolean): void {
    if (this.#current.has(key) && deepEqual(value, this.#current.get(key))) {
      // Back to the current value: nothing to flush for this key.
      this.#pending.delete(key);
      this.#remote.delete(key);
      this.#listenerKeys.delete(key);
      return;
    }
    this.#pending.set(key, value);
    if (remote) this.#remote.add(key);
    else this.#remote.delete(key);
    this.#noteListenerKey(key);
  }

  #noteListenerKey(key: string): void {
    if (!this.#isSuppressed(key)) this.#listenerKeys.add(key);
  }

  #isSuppressed(key: string): boolean {
    for (const keys of this.#suppressed) {
      if (keys.size === 0 || keys.has(key)) return true;
    }
    return false;
  }

  #scheduleFlush(): void {
    if (!this.#autoFlush || this.#flushScheduled || this.#flushing) return;
    if (this.#batchDepth > 0 || this.#pending.size === 0) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      if (this.#batchDepth > 0) return;
      try {
        this.flush();
      } catch (error) {
        this.#onError(error);
      }
    });
  }
}

/**
 * Structural equality for state values: primitives by `Object.is` (except `0` and `-0`, equal),
 * arrays item by item, binaries (typed arrays, `DataView`s, `ArrayBuffer`s) byte by byte whatever
 * their type (they all travel as msgpack `bin`), plain objects key by key.
 * Other objects (class instances, maps) are equal only to themselves.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let index = 0; index < a.length; index++) {
      if (!deepEqual(a[index], b[index])) return false;
    }
    return true;
  }
  const aBytes = bytesOf(a);
  if (aBytes !== undefined) {
    const bBytes = bytesOf(b);
    if (bBytes === undefined || aBytes.byteLength !== bBytes.byteLength) return false;
    for (let index = 0; index < aBytes.byteLength; index++) {
      if (aBytes[index] !== bBytes[index]) return false;
    }
    return true;
  }
  if (!isMap(a) || !isMap(b)) return false;
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  for (const key of aKeys) {
    if (!Object.hasOwn(b, key) || !deepEqual(a[key], b[key])) return false;
  }
  return true;
}

function bytesOf(value: object): Uint8Array | undefined {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  return undefined;
}
