/** Why the embedded server refused to do something. */
export type TrameServerErrorCode =
  | "unsupported-runtime"
  | "missing-dependency"
  | "closed"
  | "invalid-option"
  | "already-registered";

/**
 * An error raised by the embedded server itself (never sent over the wire): a runtime it cannot
 * serve on, a missing optional dependency, an invalid option, a call after `close()`.
 */
export class TrameServerError extends Error {
  /** Machine-readable cause. */
  readonly code: TrameServerErrorCode;

  /** Makes the error with its machine-readable `code`. */
  constructor(code: TrameServerErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TrameServerError";
    this.code = code;
  }
}
