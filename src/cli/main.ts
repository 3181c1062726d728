#!/usr/bin/env node
/**
 * The `trame-wire` command's entry point: runs the command line and exits with its code.
 *
 *     deno run -A src/cli/main.ts --help
 *     bun src/cli/main.ts --help
 *     node src/cli/main.ts --help      (Node 22.18 or later; bin/trame-wire.js checks first)
 * @module
 */
import process from "node:process";
import { main, processOutput } from "./cli.ts";

const code = await main(process.argv.slice(2), processOutput);
// Everything written reaches its pipe or file before the process ends.
await Promise.all(
  [process.stdout, process.stderr].map((stream) =>
    new Promise<void>((resolve) => stream.write("", () => resolve()))
  ),
);
// Exiting explicitly: a connection the command gave up on (a server busy with a call that
// timed out never confirms the close) must not keep the process alive.
process.exit(code);
