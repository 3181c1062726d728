/**
 * The error every failed call rejects with: the server's error object exactly as it was sent, or
 * {@link CLIENT_ERROR} for failures the client detects itself.
 * @module
 */
import { CLIENT_ERROR } from "../protocol/error_codes.ts";

export {
  CLIENT_ERROR,
  EXCEPTION_RAISED,
  METHOD_NOT_FOUND,
  RESULT_NOT_SERIALIZABLE,
  UNAUTHORIZED,
} from "../protocol/error_codes.ts";

/**
 * What kind of client-side failure a {@link CLIENT_ERROR} reports; found in `data.kind`.
 *
 * - `closed`: the connection ended (`data.code`, `data.reason` say how). When it never opened,
 *   `data.status` is the HTTP status the server answered instead of upgrading, and
 *   `data.errorCode` the system's error (`ECONNREFUSED`), where the runtime gives them.
 * - `timeout`: no reply in time (`data.timeout` in milliseconds).
 * - `aborted`: the caller's `AbortSignal` fired (`data.reason` is the signal's reason).
 * - `encode`: the arguments could not be encoded as msgpack (`data.cause`).
 * - `hello-too-large`: the hello would exceed the server's pre-authentication limit.
 * - `protocol`: the server sent something the protocol does not allow.
 * - `overflow`: a subscription's buffer overflowed under the `"error"` policy.
 * - `too-large`: a streamed result is larger than `maxStreamSize` (`data.size`, `data.limit`).
 */
export type ClientErrorKind =
  | "closed"
  | "timeout"
  | "aborted"
  | "encode"
  | "hello-too-large"
  | "protocol"
  | "overflow"
  | "too-large";

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

/** @internal A {@link CLIENT_ERROR} with `data = { kind, ...details }`. */
export function clientError(
  kind: ClientErrorKind,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
): WslinkError {
  return new WslinkError(CLIENT_ERROR, message, { kind, ...details });
}

/** @internal The rejection of something `signal` aborted; `what` names it for the message. */
export function abortedError(signal: AbortSignal, what: string): WslinkError {
  return clientError("aborted", `${what} was aborted`, { reason: signal.reason });
}

/** @internal The rejection of everything pending when the connection closed. */
export function closedError(code: number, reason: string): WslinkError {
  const how = `${code}${reason === "" ? "" : `: ${reason}`}`;
  return clientError("closed", `the connection is closed (${how})`, { code, reason });
}

/**
 * @internal The rejection of everything pending when the socket closed without ever opening:
 * `failure` says why, with the HTTP status or the system's error code where the runtime gives it.
 */
export function openFailedError(
  code: number,
  failure: { reason: string; status?: number; errorCode?: string },
): WslinkError {
  const { reason, status, errorCode } = failure;
  return clientError("closed", `cannot open the connection (${code}: ${reason})`, {
    code,
    reason,
    ...(status === undefined ? {} : { status }),
    ...(errorCode === undefined ? {} : { errorCode }),
  });
}

/** @internal Whether `error` says the connection was closed (or never open). */
export function isClosedError(error: unknown): boolean {
  if (!(error instanceof WslinkError) || error.code !== CLIENT_ERROR) return false;
  return (error.data as { kind?: unknown } | undefined)?.kind === "closed";
}
