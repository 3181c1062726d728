/**
 * The wslink envelope, `{wslink: "1.0", id, method, args, kwargs}` for a request and
 * `{wslink: "1.0", id, result}` or `{wslink: "1.0", id, error}` for a reply: building one, and
 * reading one that arrived. Both ends use this module; neither builds an envelope by hand.
 * @module
 */

/** The protocol version every envelope carries in its `wslink` field. */
export const PROTOCOL_VERSION = "1.0";

/** The method of the hello, the first message of every connection. */
export const HELLO_METHOD = "wslink.hello";

/** An error as a reply carries it. */
export interface WireError {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/**
 * Whether `value` is a msgpack map as decoded: a plain object (its prototype `Object.prototype`
 * or `null`), so not an array, a binary, a `Map`, a `Date` or any other class instance.
 */
export function isMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A short name of the type of `value`, for error messages. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "binary";
  return typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
}

/** What `value` is, with its article, for messages: `a map`, `an array`, `binary`, `null`, … */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (isMap(value)) return "a map";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "binary";
  const type = typeof value === "object" ? value.constructor?.name ?? "object" : typeof value;
  return /^[aeiou]/i.test(type) ? `an ${type}` : `a ${type}`;
}

/** A request envelope: a call of `method`, the hello included. */
export function requestEnvelope(
  id: string,
  method: string,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  return { wslink: PROTOCOL_VERSION, id, method, args, kwargs };
}

/** A reply envelope with a result; publishes are results too, with a `publish:` id. */
export function resultEnvelope(id: string, result: unknown): Record<string, unknown> {
  return { wslink: PROTOCOL_VERSION, id, result };
}

/** A reply envelope with an error. */
export function errorEnvelope(id: string, error: WireError): Record<string, unknown> {
  return { wslink: PROTOCOL_VERSION, id, error };
}

/** What a reply says, once checked: a result, the server's error, or neither (malformed). */
export type ReplyOutcome =
  | { readonly kind: "result"; readonly result: unknown }
  | { readonly kind: "error"; readonly error: WireError }
  | {
    readonly kind: "malformed";
    readonly problem: string;
    readonly detail: Readonly<Record<string, unknown>>;
  };

/** Reads the reply `message` (a map with a string id that is not a publish). */
export function readReply(message: Record<string, unknown>): ReplyOutcome {
  const error = message.error;
  if (error !== undefined && error !== null) {
    if (isMap(error) && typeof error.code === "number" && typeof error.message === "string") {
      return {
        kind: "error",
        error: { code: error.code, message: error.message, data: error.data },
      };
    }
    return { kind: "malformed", problem: "the server sent a malformed error", detail: { error } };
  }
  if ("result" in message) return { kind: "result", result: message.result };
  return {
    kind: "malformed",
    problem: "the reply has neither result nor error",
    detail: { message },
  };
}

/** What a request says, once checked. */
export type RequestOutcome =
  | { readonly kind: "notification" }
  | { readonly kind: "invalid"; readonly problem: string }
  | {
    readonly kind: "request";
    readonly id: string;
    /** Not checked: an unknown method (whatever its type) is the dispatcher's to report. */
    readonly method: unknown;
    readonly args: unknown[];
    readonly kwargs: Record<string, unknown>;
  };

/**
 * Reads the request `message` as the reference server does: a message without an id is a
 * notification; one without a string id or a method is invalid; missing or malformed `args` and
 * `kwargs` read as empty.
 */
export function readRequest(message: unknown): RequestOutcome {
  if (!isMap(message)) return { kind: "invalid", problem: "a message must be a map" };
  if (!("id" in message)) return { kind: "notification" };
  const id = message.id;
  if (typeof id !== "string" || !("method" in message)) {
    return { kind: "invalid", problem: "an envelope needs a string id and a method" };
  }
  return {
    kind: "request",
    id,
    method: message.method,
    args: Array.isArray(message.args) ? message.args : [],
    kwargs: isMap(message.kwargs) ? message.kwargs : {},
  };
}
