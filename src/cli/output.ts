// Where the commands of the CLI write: its own module, so that the commands and the dispatcher in
// cli.ts do not import each other.

/** Where commands write; swapped in tests. */
export interface CliOutput {
  out(text: string): void;
  error(text: string): void;
  readonly isTerminal: boolean;
}
