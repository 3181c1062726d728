// What went wrong, in one line, and the exit code that tells scripts which kind of failure it was.
import { UsageError } from "./args.ts";
import { CLIENT_ERROR, UNAUTHORIZED, WslinkError } from "../session/errors.ts";
import { LauncherError } from "../trame/launcher.ts";

/** The command's exit codes, one per kind of failure. */
export const EXIT_CODES = Object.freeze({
  ok: 0,
  failure: 1,
  usage: 2,
  badUrl: 3,
  connectionRefused: 4,
  authenticationFailed: 5,
  serverError: 6,
  timeout: 7,
});

/** A connection that could not be established (refused, dropped during the handshake). */
export class ConnectionFailedError extends Error {
  constructor(url: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`cannot connect to ${url}: ${detail}`, { cause });
    this.name = "ConnectionFailedError";
  }
}

/** Runs a connection attempt, turning "the socket closed before the handshake" into a clear error. */
export async function connecting<T>(url: string, attempt: Promise<T>): Promise<T> {
  try {
    return await attempt;
  } catch (error) {
    if (error instanceof WslinkError && error.code === CLIENT_ERROR && kindOf(error) === "closed") {
      throw new ConnectionFailedError(url, error);
    }
    throw error;
  }
}

function kindOf(error: WslinkError): unknown {
  return (error.data as { kind?: unknown } | undefined)?.kind;
}

/** The exit code for `error`. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT_CODES.usage;
  if (error instanceof Error && error.name === "BadUrlError") return EXIT_CODES.badUrl;
  if (error instanceof ConnectionFailedError || error instanceof LauncherError) {
    return EXIT_CODES.connectionRefused;
  }
  if (error instanceof WslinkError) {
    if (error.code === UNAUTHORIZED) return EXIT_CODES.authenticationFailed;
    if (error.code === CLIENT_ERROR) {
      return kindOf(error) === "timeout" ? EXIT_CODES.timeout : EXIT_CODES.failure;
    }
    return EXIT_CODES.serverError;
  }
  return EXIT_CODES.failure;
}

/** One line saying what went wrong, for people. */
export function describeFailure(error: unknown): string {
  if (error instanceof WslinkError) {
    if (error.code === UNAUTHORIZED) {
      return `authentication failed: ${error.message} (check --secret)`;
    }
    if (error.code === CLIENT_ERROR) return error.message;
    const data = error.data as { exception?: unknown } | undefined;
    const exception = typeof data?.exception === "string" ? `: ${data.exception}` : "";
    return `server error ${error.code}: ${error.message}${exception}`;
  }
  return error instanceof Error ? error.message : String(error);
}
