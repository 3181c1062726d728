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
  notFound: 8,
});

/** The exit codes as `--help` and the README list them. */
export const EXIT_CODE_HELP = `Exit codes: 0 ok, 1 other failure, 2 usage, 3 bad URL,
            4 connection refused or lost, 5 authentication failed, 6 server error,
            7 timeout, 8 not found (a state key, the bench triggers),
            9 load thresholds not met`;

/** A connection that could not be established (refused, dropped during the handshake). */
export class ConnectionFailedError extends Error {
  constructor(url: string, cause: WslinkError) {
    // The close's reason says what happened (`connection refused (…)`, `the server answered HTTP
    // 404 …`); its code adds something only when the server gave one.
    const { code, reason } = cause.data as { code?: unknown; reason?: unknown };
    const detail = typeof reason === "string" && reason !== ""
      ? code === 1006 ? reason : `${reason} (close code ${code})`
      : cause.message;
    super(`cannot connect to ${url}: ${detail}`, { cause });
    this.name = "ConnectionFailedError";
  }
}

/** The connection ended while the command still needed it. */
export class ConnectionLostError extends Error {
  constructor(url: string, detail: string) {
    super(`lost the connection to ${url}: ${detail}`);
    this.name = "ConnectionLostError";
  }
}

/** The server lacks what the command was asked to use (a state key, the bench's triggers). */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotFoundError";
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
  if (
    error instanceof ConnectionFailedError || error instanceof ConnectionLostError ||
    error instanceof LauncherError
  ) {
    return EXIT_CODES.connectionRefused;
  }
  if (error instanceof NotFoundError) return EXIT_CODES.notFound;
  if (error instanceof WslinkError) {
    if (error.code === UNAUTHORIZED) return EXIT_CODES.authenticationFailed;
    if (error.code === CLIENT_ERROR) {
      const kind = kindOf(error);
      if (kind === "timeout") return EXIT_CODES.timeout;
      return kind === "closed" ? EXIT_CODES.connectionRefused : EXIT_CODES.failure;
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
