// The one typed event emitter of the library (sessions, trame clients, the server): listeners by
// event type, called in the order they were added, each registration independent (adding one
// function twice calls it twice). Internal: each owner exposes its own `on()`.

// Listeners are stored untyped; `on` and `emit` keep each type's arguments straight.
type StoredListener = (...args: unknown[]) => void;

/** Event types mapped to their listeners' argument lists. */
export type EventArgs<M> = { [K in keyof M]: unknown[] };

/** A typed emitter; a listener that throws is handed to `onListenerError`, and the rest run. */
export class Emitter<M extends EventArgs<M>> {
  readonly #listeners = new Map<keyof M, Set<StoredListener>>();
  readonly #onListenerError: (type: keyof M, error: unknown) => void;

  constructor(onListenerError: (type: keyof M, error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Adds `listener`; returns a function that removes this registration. */
  on<K extends keyof M>(type: K, listener: (...args: M[K]) => void): () => void {
    let listeners = this.#listeners.get(type);
    if (listeners === undefined) this.#listeners.set(type, listeners = new Set());
    const registration = ((...args: M[K]) => listener(...args)) as unknown as StoredListener;
    listeners.add(registration);
    return () => void listeners.delete(registration);
  }

  /** Calls every listener of `type`; returns whether there was any. */
  emit<K extends keyof M>(type: K, ...args: M[K]): boolean {
    const listeners = this.#listeners.get(type);
    if (listeners === undefined || listeners.size === 0) return false;
    for (const listener of [...listeners]) {
      try {
        (listener as unknown as (...args: M[K]) => void)(...args);
      } catch (error) {
        this.#onListenerError(type, error);
      }
    }
    return true;
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
