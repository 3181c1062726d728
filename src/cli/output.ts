// Where the commands of the CLI write: its own module, so that the commands and the dispatcher in
// cli.ts do not import each other.

/** Where commands write; swapped in tests. */
export interface CliOutput {
  out(text: string): void;
  error(text: string): void;
  /** Writes bytes to standard output; resolves once they are taken (the buffer may be reused). */
  outBytes(bytes: Uint8Array): Promise<void>;
  /** Whether standard output is a terminal. */
  readonly isTerminal: boolean;
  /** Whether standard error is a terminal (progress goes there when standard output is data). */
  readonly errorIsTerminal: boolean;
}
