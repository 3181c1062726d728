/**
 * The error every failed call rejects with: the server's error object exactly as it was sent, or
 * {@link CLIENT_ERROR} for failures the client detects itself.
 * @module
 */

/** `-32000`: a hello with a wrong or missing secret, or any call before a successful hello. */
export const UNAUTHORIZED: -32000 = -32000;
/** `-32001`: the server method raised; `data` is `{ method, exception, trace }`. */
export const EXCEPTION_RAISED: -32001 = -32001;
/** `-32002`: the method's result could not be serialized; `data` is the method name. */
export const RESULT_NOT_SERIALIZABLE: -32002 = -32002;
/** `-32601`: an unknown method (`data` is its name) or an unknown `system:` method. */
export const METHOD_NOT_FOUND: -32601 = -32601;
/** `-32099`: raised by this client: not connected, closed, timed out, aborted, refused locally. */
export const CLIENT_ERROR: -32099 = -32099;

/**
 * What kind of client-side failure a {@link CLIENT_ERROR} reports; found in `data.kind`.
 *
 * - `closed`: the connection ended (`data.code`, `data.reason` say how).
 * - `timeout`: no reply in time (`data.timeout` in milliseconds).
 * - `aborted`: the caller's `AbortSignal` fired (`data.reason` is the signal's reason).
 * - `encode`: the arguments could not be encoded as msgpack (`data.cause`).
 * - `hello-too-large`: the hello would exceed the server's pre-authentication limit.
 * - `protocol`: the server sent something the protocol does not allow.
 * - `overflow`: a subscription's buffer overflowed under the `"error"` policy.
 */
export type ClientErrorKind =
  | "closed"
  | "timeout"
  | "aborted"
  | "encode"
  | "hello-too-large"
  | "protocol"
  | "overflow";

/**
 * An error from a wslink server, or from this client (code {@link CLIENT_ERROR}).
 *
 * @example
 * ```ts
 * import { METHOD_NOT_FOUND, WslinkError } from "@trame-wire/client";
 * const error = new WslinkError(METHOD_NOT_FOUND, "Unregistered method called", "no.such");
 * console.assert(error.code === -32601 && error.data === "no.such");
 * ```
 */
export class WslinkError extends Error {
  /** The protocol's error code: one of the constants in this module, or whatever the server sent. */
  readonly code: number;
  /** The server's `data`, as decoded; for {@link CLIENT_ERROR}, `{ kind, ... }`. */
  readonly data: unknown;

  /** Makes the error from a protocol `code`, `message` and optional `data`. */
  constructor(code: number, message: string, data?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = "WslinkError";
    this.code = code;
    this.data = data;
  }
}

/** A {@link CLIENT_ERROR} with `data = { kind, ...details }`. */
export function clientError(
  kind: ClientErrorKind,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
): WslinkError {
  return new WslinkError(CLIENT_ERROR, message, { kind, ...details });
}
