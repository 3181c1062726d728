/**
 * The server's log line sink, shared by the core and the runtime adapters.
 * @module
 */

/** Log severities. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Receives the server's log lines. */
export type Logger = (level: LogLevel, message: string, detail?: unknown) => void;

/** The default logger: warnings and errors to the console, the rest dropped. */
export const consoleLogger: Logger = (level, message, detail) => {
  if (level === "error") console.error(`[trame-wire server] ${message}`, detail ?? "");
  else if (level === "warn") console.warn(`[trame-wire server] ${message}`, detail ?? "");
};
