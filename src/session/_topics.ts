// The topics a session's subscribers listen to, and the fan-out of each publish to them.
import { type ParsedMessageId, parseMessageId } from "../protocol/ids.ts";
import {
  CallbackSubscription,
  TopicStream,
  type TopicStreamOptions,
  type TopicSubscriber,
} from "./subscription.ts";

/** What a subscription callback looks like. */
export type TopicCallback = (payload: unknown, topic: string) => void;

/** Hears of a subscriber that threw on the publish `message` of `topic`. */
export type SubscriberErrorHandler = (
  error: unknown,
  message: Record<string, unknown>,
  topic: string,
) => void;

/** Subscribers by topic. */
export class TopicRegistry {
  readonly #subscribers = new Map<string, Set<TopicSubscriber>>();
  readonly #onSubscriberError: SubscriberErrorHandler;
  #ended = false;
  // Publish ids repeat (`publish:{topic}:0`): each new one is parsed once.
  #lastPublishId = "";
  #lastPublishParsed: ParsedMessageId | undefined;

  /** `onSubscriberError` hears of a subscriber's callback that threw. */
  constructor(onSubscriberError: SubscriberErrorHandler) {
    this.#onSubscriberError = onSubscriberError;
  }

  /** Adds a subscriber to `topic`: a callback, or a stream with `options`. */
  subscribe(
    topic: string,
    callbackOrOptions?: TopicCallback | TopicStreamOptions,
  ): CallbackSubscription | TopicStream {
    const detach = (subscriber: TopicSubscriber) => {
      const subscribers = this.#subscribers.get(topic);
      subscribers?.delete(subscriber);
      if (subscribers?.size === 0) this.#subscribers.delete(topic);
    };
    const subscriber = typeof callbackOrOptions === "function"
      ? new CallbackSubscription(topic, callbackOrOptions, detach)
      : new TopicStream(topic, callbackOrOptions ?? {}, detach);
    if (this.#ended) {
      subscriber.end();
      return subscriber;
    }
    let subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined) this.#subscribers.set(topic, subscribers = new Set());
    subscribers.add(subscriber);
    return subscriber;
  }

  /**
   * Hands the payload (`result`) of the publish `message` with id `id` to its topic's
   * subscribers. Returns false when the id names no topic.
   */
  publish(id: string, message: Record<string, unknown>): boolean {
    if (id !== this.#lastPublishId) {
      this.#lastPublishId = id;
      this.#lastPublishParsed = parseMessageId(id);
    }
    const topic = this.#lastPublishParsed?.name;
    if (topic === undefined) return false;
    const subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined) return true;
    // Subscribers added or removed by a subscriber's callback take effect from the next publish:
    // a lone subscriber is taken before it runs, several are copied first.
    if (subscribers.size === 1) this.#deliver(subscribers.values().next().value!, message, topic);
    else for (const subscriber of [...subscribers]) this.#deliver(subscriber, message, topic);
    return true;
  }

  /** Ends every subscription (the session closed); later ones start ended. */
  end(): void {
    this.#ended = true;
    for (const subscribers of this.#subscribers.values()) {
      for (const subscriber of subscribers) subscriber.end();
    }
    this.#subscribers.clear();
  }

  #deliver(subscriber: TopicSubscriber, message: Record<string, unknown>, topic: string): void {
    try {
      subscriber.deliver(message.result);
    } catch (error) {
      this.#onSubscriberError(error, message, topic);
    }
  }
}
