#!/usr/bin/env node
/**
 * The `trame-wire` command: the embedded server, a terminal client for any trame server, a
 * benchmark, and the demo.
 *
 *     trame-wire demo
 *     trame-wire serve [--port N] [--secret S] [--max-msg-size N]
 *     trame-wire state URL [keys…] [--json]
 *     trame-wire watch URL [keys…] [--json]
 *     trame-wire set URL key=value…
 *     trame-wire call URL NAME [ARGS_JSON] [KWARGS_JSON] [--rpc]
 *     trame-wire bench [URL]
 *
 * Runs under Node 24 (`node src/cli/main.ts`), Deno (`deno run -A src/cli/main.ts`) and Bun.
 * @module
 */
import process from "node:process";
import { integerFlag, parseArgs, type ParsedArgs, UsageError } from "./args.ts";
import { connecting, describeFailure, EXIT_CODES, exitCodeOf } from "./failures.ts";
import { runBench } from "./bench.ts";
import { runDemo } from "./demo.ts";
import { startDemoServer } from "./demo_app.ts";
import { TrameClient } from "../trame/client.ts";
import { WslinkSession } from "../session/session.ts";

/** Where commands write; swapped in tests. */
export interface CliOutput {
  out(text: string): void;
  error(text: string): void;
  readonly isTerminal: boolean;
}

const HELP: Record<string, string> = {
  main: `trame-wire: a fast, dependable client for trame and wslink servers

Usage: trame-wire <command> [options]

Commands:
  demo                         run the demo against the embedded server
  serve                        start the embedded trame-compatible server
  state URL [keys…]            print the state
  watch URL [keys…]            print the state, then every change until interrupted
  set URL key=value…           change state keys (values parsed as JSON, else strings)
  call URL NAME [ARGS] [KWARGS] call a trigger (or a raw wslink method with --rpc)
  bench [URL]                  measure throughput (the embedded server when no URL)

Options everywhere: --secret S (default wslink-secret), --help
Exit codes: 0 ok, 1 other failure, 2 usage, 3 bad URL, 4 connection refused,
            5 authentication failed, 6 server error, 7 timeout`,
  demo: `Usage: trame-wire demo [--size MiB]

Starts the embedded server, connects a client and shows state sync, a trigger, a
subscription, a server error as a typed error, and a large binary transfer with progress.
  --size N   size of the binary transfer in MiB (default 64)`,
  serve: `Usage: trame-wire serve [--port N] [--host H] [--secret S] [--max-msg-size N]

Starts the embedded trame-compatible server with the demo application (triggers add, echo,
fail, bump, blob, publish) and prints its URL. Stops on Ctrl-C.`,
  state: `Usage: trame-wire state URL [keys…] [--json] [--secret S] [--timeout MS]

Prints the server's state (only the named keys when given).`,
  watch: `Usage: trame-wire watch URL [keys…] [--json] [--secret S]

Prints the state, then every change as it happens, until interrupted.`,
  set: `Usage: trame-wire set URL key=value… [--secret S] [--timeout MS]

Sets state keys. Values are parsed as JSON when they parse, else taken as strings.`,
  call:
    `Usage: trame-wire call URL NAME [ARGS_JSON] [KWARGS_JSON] [--rpc] [--secret S] [--timeout MS]

Calls trigger NAME with ARGS (a JSON array, default []) and KWARGS (a JSON object, default {})
and prints its result as JSON. With --rpc, NAME is a raw wslink method.`,
  bench: `Usage: trame-wire bench [URL] [--publishes N] [--calls N] [--size MiB] [--secret S]

Measures small publishes consumed per second, RPC round trips per second (sequential and 100
in flight) and large-message throughput, against the embedded server when no URL is given.`,
};

const COMMON = { values: ["secret", "timeout"], booleans: ["json"] };

/** Runs the command line `argv` (without the program name); resolves with the exit code. */
export async function main(argv: readonly string[], output: CliOutput): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "help":
      case "--help":
      case "-h":
        output.out(HELP.main + "\n");
        return command === undefined ? EXIT_CODES.usage : EXIT_CODES.ok;
      case "demo": {
        const args = parseArgs(rest, { values: ["size"] });
        if (args.booleans.has("help")) return help(output, "demo");
        return await runDemo(output, { sizeMiB: integerFlag(args, "size", 64) });
      }
      case "serve":
        return await serveCommand(rest, output);
      case "state":
      case "watch":
        return await stateCommand(command, rest, output);
      case "set":
        return await setCommand(rest, output);
      case "call":
        return await callCommand(rest, output);
      case "bench": {
        const args = parseArgs(rest, {
          values: ["secret", "publishes", "calls", "size"],
        });
        if (args.booleans.has("help")) return help(output, "bench");
        const url = args.positionals[0];
        if (url !== undefined) checkUrl(url);
        return await runBench(output, {
          url,
          secret: args.values.get("secret"),
          publishes: integerFlag(args, "publishes", 100_000),
          calls: integerFlag(args, "calls", 5_000),
          sizeMiB: integerFlag(args, "size", 64),
        });
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}; see trame-wire --help`);
    }
  } catch (error) {
    output.error(`trame-wire: ${describeFailure(error)}\n`);
    return exitCodeOf(error);
  }
}

function help(output: CliOutput, command: string): number {
  output.out(HELP[command] + "\n");
  return EXIT_CODES.ok;
}

/** Refuses anything but a ws:// or wss:// URL, before any connection is tried. */
export function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadUrlError(url, "not a URL");
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new BadUrlError(url, "the URL must start with ws:// or wss://");
  }
}

/** A URL the command cannot use. */
export class BadUrlError extends Error {
  constructor(url: string, detail: string) {
    super(`bad URL ${JSON.stringify(url)}: ${detail}`);
    this.name = "BadUrlError";
  }
}

function urlArgument(args: ParsedArgs, command: string): string {
  const url = args.positionals[0];
  if (url === undefined) {
    throw new UsageError(`${command} needs a URL; see trame-wire ${command} --help`);
  }
  checkUrl(url);
  return url;
}

function sessionOptions(args: ParsedArgs) {
  const timeout = integerFlag(args, "timeout", 10_000);
  return { helloTimeout: timeout, callTimeout: timeout };
}

async function serveCommand(argv: readonly string[], output: CliOutput): Promise<number> {
  const args = parseArgs(argv, { values: ["port", "host", "secret", "max-msg-size"] });
  if (args.booleans.has("help")) return help(output, "serve");
  const server = await startDemoServer({
    port: integerFlag(args, "port", 0),
    hostname: args.values.get("host") ?? "127.0.0.1",
    secret: args.values.get("secret"),
    maxMsgSize: args.values.has("max-msg-size") ? integerFlag(args, "max-msg-size", 0) : undefined,
  });
  const interrupted = interruption();
  output.out(`trame-wire server listening on ${server.url}\n`);
  await interrupted.signalled;
  await server.close();
  output.out("server stopped\n");
  return EXIT_CODES.ok;
}

async function stateCommand(
  command: "state" | "watch",
  argv: readonly string[],
  output: CliOutput,
): Promise<number> {
  const args = parseArgs(argv, COMMON);
  if (args.booleans.has("help")) return help(output, command);
  const url = urlArgument(args, command);
  const keys = args.positionals.slice(1);
  const json = args.booleans.has("json");
  const client = new TrameClient(url, {
    secret: args.values.get("secret"),
    session: sessionOptions(args),
  });
  // Listening before anything is printed, so an interrupt is never missed.
  const interrupted = command === "watch" ? interruption() : undefined;
  try {
    await connecting(url, client.connect());
    const state = client.state.toObject();
    output.out(formatState(pick(state, keys), json));
    if (command === "state") return EXIT_CODES.ok;
    const closed = new Promise<void>((resolve) => {
      client.on("status", ({ status }) => {
        if (status === "disconnected") resolve();
      });
    });
    // Every change from the server, printed as it arrives.
    const session = client.session;
    session.subscribe("trame.state.topic", (payload) => {
      const changes = pick(payload as Record<string, unknown>, keys);
      if (Object.keys(changes).length === 0) return;
      output.out(json ? JSON.stringify(changes, jsonReplacer) + "\n" : formatChanges(changes));
    });
    await Promise.race([interrupted!.signalled, closed]);
    return EXIT_CODES.ok;
  } finally {
    interrupted?.dispose();
    await client.disconnect();
  }
}

async function setCommand(argv: readonly string[], output: CliOutput): Promise<number> {
  const args = parseArgs(argv, COMMON);
  if (args.booleans.has("help")) return help(output, "set");
  const url = urlArgument(args, "set");
  const assignments = args.positionals.slice(1);
  if (assignments.length === 0) throw new UsageError("set needs at least one key=value");
  const values: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const equals = assignment.indexOf("=");
    if (equals <= 0) throw new UsageError(`expected key=value, got ${JSON.stringify(assignment)}`);
    values[assignment.slice(0, equals)] = parseValue(assignment.slice(equals + 1));
  }
  const client = new TrameClient(url, {
    secret: args.values.get("secret"),
    session: sessionOptions(args),
  });
  await connecting(url, client.connect());
  try {
    client.state.update(values);
    await client.state.flush();
    output.out(`set ${Object.keys(values).join(", ")}\n`);
    return EXIT_CODES.ok;
  } finally {
    await client.disconnect();
  }
}

async function callCommand(argv: readonly string[], output: CliOutput): Promise<number> {
  const args = parseArgs(argv, { values: COMMON.values, booleans: [...COMMON.booleans, "rpc"] });
  if (args.booleans.has("help")) return help(output, "call");
  const url = urlArgument(args, "call");
  const name = args.positionals[1];
  if (name === undefined) {
    throw new UsageError("call needs a trigger name (or a method with --rpc)");
  }
  const callArgs = parseJsonArgument(args.positionals[2], "ARGS_JSON", []);
  const kwargs = parseJsonArgument(args.positionals[3], "KWARGS_JSON", {});
  if (!Array.isArray(callArgs)) throw new UsageError("ARGS_JSON must be a JSON array");
  if (kwargs === null || typeof kwargs !== "object" || Array.isArray(kwargs)) {
    throw new UsageError("KWARGS_JSON must be a JSON object");
  }
  const options = sessionOptions(args);
  const secret = args.values.get("secret");
  let result: unknown;
  if (args.booleans.has("rpc")) {
    const session = await connecting(url, WslinkSession.connect(url, { ...options, secret }));
    try {
      result = await session.call(name, callArgs, kwargs as Record<string, unknown>);
    } finally {
      await session.close();
    }
  } else {
    const client = new TrameClient(url, { secret, session: options });
    await connecting(url, client.connect());
    try {
      result = await client.trigger(name, callArgs, kwargs as Record<string, unknown>);
    } finally {
      await client.disconnect();
    }
  }
  output.out(JSON.stringify(result ?? null, jsonReplacer, 2) + "\n");
  return EXIT_CODES.ok;
}

/** Parses a command-line value as JSON, else keeps it as a string. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parseJsonArgument(text: string | undefined, name: string, fallback: unknown): unknown {
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${name} is not valid JSON: ${text}`);
  }
}

function pick(values: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  if (keys.length === 0) return values;
  const picked: Record<string, unknown> = {};
  for (const key of keys) if (Object.hasOwn(values, key)) picked[key] = values[key];
  return picked;
}

/** JSON for terminal output: binaries as a short description, bigints as numbers' text. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (typeof value === "bigint") return value.toString();
  return value;
}

function formatState(state: Record<string, unknown>, json: boolean): string {
  if (json) return JSON.stringify(state, jsonReplacer, 2) + "\n";
  const keys = Object.keys(state).sort();
  if (keys.length === 0) return "(no keys)\n";
  const width = Math.max(...keys.map((key) => key.length));
  return keys.map((key) => `${key.padEnd(width)}  ${JSON.stringify(state[key], jsonReplacer)}`)
    .join("\n") + "\n";
}

function formatChanges(changes: Record<string, unknown>): string {
  const time = new Date().toISOString().slice(11, 23);
  return Object.entries(changes)
    .map(([key, value]) => `${time} ${key} = ${JSON.stringify(value, jsonReplacer)}\n`)
    .join("");
}

/** The first Ctrl-C (SIGINT) or SIGTERM; `dispose()` stops listening. */
function interruption(): { readonly signalled: Promise<void>; dispose(): void } {
  let dispose = () => {};
  const signalled = new Promise<void>((resolve) => {
    const stop = () => {
      dispose();
      resolve();
    };
    dispose = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return { signalled, dispose };
}

/** The process's standard streams as a {@link CliOutput}. */
export const processOutput: CliOutput = {
  out: (text) => void process.stdout.write(text),
  error: (text) => void process.stderr.write(text),
  isTerminal: process.stdout.isTTY === true,
};

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), processOutput);
}
