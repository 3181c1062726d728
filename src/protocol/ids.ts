/**
 * Message ids of the wslink protocol: `system:c0:0` for the hello, `rpc:{clientId}:{n}` for calls,
 * `publish:{topic}:{n}` for server publishes.
 * @module
 */

/** A message id split into its parts. */
export interface ParsedMessageId {
  /** The text before the first `:` (`"rpc"`, `"publish"`, `"system"`, or anything else). */
  readonly type: string;
  /** What lies between the first and the last `:`: the client id, or the topic (may hold `:`). */
  readonly name: string;
  /**
   * The text after the last `:`. For publishes the reference server always sends `0`, so it says
   * nothing about loss or order.
   */
  readonly counter: string;
}

/**
 * Splits a message id as the protocol says: type before the first `:`, counter after the last
 * `:`, and the name (client id or topic, which may contain dots and colons) in between. Returns
 * `undefined` when the id has fewer than two colons.
 *
 * @example
 * ```ts
 * import { parseMessageId } from "@trame-wire/client";
 * const id = parseMessageId("publish:viewer:image.ready:0");
 * console.assert(id?.type === "publish" && id.name === "viewer:image.ready" && id.counter === "0");
 * ```
 */
export function parseMessageId(id: string): ParsedMessageId | undefined {
  const first = id.indexOf(":");
  const last = id.lastIndexOf(":");
  if (first < 0 || last === first) return undefined;
  return { type: id.slice(0, first), name: id.slice(first + 1, last), counter: id.slice(last + 1) };
}

/** The id of the hello handshake. */
export const HELLO_ID = "system:c0:0";

/** The id of call number `counter` on the connection of `clientId`. */
export function callId(clientId: string, counter: number): string {
  return `rpc:${clientId}:${counter}`;
}

/**
 * The id of a publish on `topic`. The counter is always `0`, as the reference server sends it
 * (clients read it as meaningless).
 */
export function publishId(topic: string): string {
  return `publish:${topic}:0`;
}

/** Whether `id` is a publish's: `publish:{topic}:{n}`. */
export function isPublishId(id: string): boolean {
  return id.startsWith("publish:");
}

/** The type of an id (the text before its first `:`, the whole id when it has none). */
export function messageIdType(id: string): string {
  const colon = id.indexOf(":");
  return colon < 0 ? id : id.slice(0, colon);
}
