/**
 * Subscriptions to server publishes: a callback ({@link Subscription}) or an async iterable with
 * a bounded buffer ({@link TopicStream}).
 * @module
 */
import { clientError } from "./errors.ts";

/**
 * What a {@link TopicStream} does when a publish arrives and its buffer is full.
 *
 * - `drop-oldest` (default): drop the oldest buffered payload, keep the new one. Right for state
 *   topics, where the newest value matters.
 * - `drop-newest`: drop the new payload, keep the buffer as it is.
 * - `error`: end the stream: the buffered payloads are still delivered, then the iteration throws a
 *   `WslinkError` (code -32099, `data.kind` `"overflow"`).
 */
export type OverflowPolicy = "drop-oldest" | "drop-newest" | "error";

/** Options of `WslinkSession.subscribe()` without a callback. */
export type TopicStreamOptions = Readonly<
  Partial<{
    /** How many payloads may wait to be iterated. Default 1024. */
    bufferSize: number;
    /** What to do when the buffer is full. Default `"drop-oldest"`. */
    overflow: OverflowPolicy;
  }>
>;

/** A live subscription; `unsubscribe()` (or `using`) ends it. Idempotent. */
export interface Subscription extends Disposable {
  /** The topic subscribed to. */
  readonly topic: string;
  /** Whether the subscription still receives publishes. */
  readonly active: boolean;
  /** Stops receiving publishes. Calling it again does nothing. */
  unsubscribe(): void;
}

/**
 * @internal Where the session keeps a subscriber: called with each payload published on its
 * topic.
 */
export interface TopicSubscriber {
  deliver(payload: unknown): void;
  /** The session closed: stop and release. */
  end(): void;
}

/** @internal A callback subscription. */
export class CallbackSubscription implements Subscription, TopicSubscriber {
  readonly topic: string;
  #callback: ((payload: unknown, topic: string) => void) | undefined;
  #detach: () => void;

  constructor(
    topic: string,
    callback: (payload: unknown, topic: string) => void,
    detach: (subscriber: TopicSubscriber) => void,
  ) {
    this.topic = topic;
    this.#callback = callback;
    this.#detach = () => detach(this);
  }

  get active(): boolean {
    return this.#callback !== undefined;
  }

  deliver(payload: unknown): void {
    this.#callback?.(payload, this.topic);
  }

  end(): void {
    this.#callback = undefined;
  }

  unsubscribe(): void {
    if (this.#callback === undefined) return;
    this.#callback = undefined;
    this.#detach();
  }

  [Symbol.dispose](): void {
    this.unsubscribe();
  }
}

/**
 * The publishes of one topic as an async iterable: `for await (const payload of stream)`.
 * Leaving the loop (or `unsubscribe()`) unsubscribes; when the session closes, the payloads
 * already buffered are delivered and then the iteration ends.
 */
export class TopicStream implements Subscription, AsyncIterableIterator<unknown> {
  readonly topic: string;
  /** The buffer's capacity. */
  readonly bufferSize: number;
  /** The overflow policy in force. */
  readonly overflow: OverflowPolicy;
  #buffer: unknown[] = [];
  #waiters: ((result: IteratorResult<unknown>) => void)[] = [];
  #failure: { error: unknown } | undefined;
  #ended = false;
  #dropped = 0;
  #detach: () => void;

  /** Made by `WslinkSession.subscribe()`; `detach` removes it from the session. */
  constructor(
    topic: string,
    options: TopicStreamOptions,
    detach: (subscriber: TopicSubscriber) => void,
  ) {
    this.topic = topic;
    this.bufferSize = options.bufferSize ?? 1024;
    this.overflow = options.overflow ?? "drop-oldest";
    if (!Number.isSafeInteger(this.bufferSize) || this.bufferSize < 1) {
      throw new RangeError(`bufferSize must be a positive integer, got ${this.bufferSize}`);
    }
    if (!["drop-oldest", "drop-newest", "error"].includes(this.overflow)) {
      throw new TypeError(`overflow must be "drop-oldest", "drop-newest" or "error"`);
    }
    this.#detach = () => detach(this);
  }

  get active(): boolean {
    return !this.#ended;
  }

  /** How many payloads the overflow policy dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Buffers `payload` (or hands it to a waiting `next()`), applying the overflow policy. */
  deliver(payload: unknown): void {
    if (this.#ended) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) return waiter({ value: payload, done: false });
    if (this.#buffer.length < this.bufferSize) {
      this.#buffer.push(payload);
      return;
    }
    if (this.overflow === "drop-oldest") {
      this.#buffer.shift();
      this.#buffer.push(payload);
      this.#dropped++;
    } else if (this.overflow === "drop-newest") {
      this.#dropped++;
    } else {
      this.#dropped++;
      this.#failure = {
        error: clientError(
          "overflow",
          `the buffer of ${this.bufferSize} payloads of topic "${this.topic}" overflowed`,
          { topic: this.topic, bufferSize: this.bufferSize },
        ),
      };
      this.unsubscribe();
    }
  }

  /** Ends the stream: buffered payloads are still delivered, then the iteration ends. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter({ value: undefined, done: true });
  }

  /** Stops receiving publishes; the payloads already buffered can still be iterated. */
  unsubscribe(): void {
    if (this.#ended) return;
    this.end();
    this.#detach();
  }

  /** The next payload, waiting for one to be published. */
  next(): Promise<IteratorResult<unknown>> {
    if (this.#buffer.length > 0) {
      return Promise.resolve({ value: this.#buffer.shift(), done: false });
    }
    if (this.#failure !== undefined) {
      const { error } = this.#failure;
      this.#failure = undefined;
      return Promise.reject(error);
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Called by `break` in `for await`: unsubscribes and drops the buffer. */
  return(): Promise<IteratorResult<unknown>> {
    this.unsubscribe();
    this.#buffer = [];
    this.#failure = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The stream itself, for `for await`. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Unsubscribes, for `using`. */
  [Symbol.dispose](): void {
    this.unsubscribe();
  }
}
