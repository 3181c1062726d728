/**
 * The commands of `trame-wire` (the embedded server, a terminal client for any trame server, a
 * benchmark, and the demo), as a function from the command line to an exit code. The process
 * entry point is main.ts.
 *
 *     trame-wire demo
 *     trame-wire serve [--port N] [--secret S] [--max-msg-size N]
 *     trame-wire state URL [keys…] [--json]
 *     trame-wire watch URL [keys…] [--json] [--reconnect]
 *     trame-wire set URL key=value…
 *     trame-wire call URL NAME [ARGS_JSON] [KWARGS_JSON] [--rpc] [--out FILE|-]
 *     trame-wire bench [URL] [--calls-only]
 *     trame-wire load URL --users N [--scenario FILE] …   (src/load/command.ts)
 * @module
 */
import process from "node:process";
import { integerFlag, parseArgs, type ParsedArgs, UsageError } from "./args.ts";
import {
  ConnectionLostError,
  describeFailure,
  EXIT_CODE_HELP,
  EXIT_CODES,
  exitCodeOf,
  NotFoundError,
} from "./failures.ts";
import {
  type ConnectionSettings,
  openClient,
  releaseClient,
  withClient,
  withSession,
} from "./connection.ts";
import { runBench } from "./bench.ts";
import { loadCommand } from "../load/command.ts";
import { runDemo } from "./demo.ts";
import { startDemoServer } from "./demo_app.ts";
import type { TrameClient } from "../trame/client.ts";
import { deepEqual } from "../trame/state.ts";
import { clientError, WslinkError } from "../session/errors.ts";
import { describeValue } from "../protocol/envelope.ts";
import { STATE_TOPIC } from "../trame/protocol.ts";
import type { CliOutput } from "./output.ts";
import { download } from "./download.ts";
import type { BinaryStream } from "../session/binary_stream.ts";
import type { CallOptions } from "../session/options.ts";

export type { CliOutput } from "./output.ts";

/** The default of `--timeout`, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;

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
  load URL --users N           load-test a trame server with many virtual users

Options everywhere: --secret S (default wslink-secret), --timeout MS (default ${DEFAULT_TIMEOUT_MS}:
the limit of connecting and of each call), --help
${EXIT_CODE_HELP}`,
  demo: `Usage: trame-wire demo [--size MiB]

Starts the embedded server, connects a client and shows state sync, a trigger, a
subscription, a server error as a typed error, and a large binary transfer with progress.
  --size N   size of the binary transfer in MiB (default 64)`,
  serve: `Usage: trame-wire serve [--port N] [--host H] [--secret S] [--max-msg-size N]

Starts the embedded trame-compatible server with the demo application (triggers add, echo,
fail, bump, blob, publish, and the bench triggers) and prints its URL. Stops on Ctrl-C.`,
  state: `Usage: trame-wire state URL [keys…] [--json] [--secret S] [--timeout MS]

Prints the server's state (only the named keys when given). A named key the state does not
have is reported on standard error, and the exit code is then 8.`,
  watch: `Usage: trame-wire watch URL [keys…] [--json] [--reconnect] [--secret S] [--timeout MS]

Prints the state, then every change as it happens, until interrupted (exit 0). A named key
the state does not have yet is noted on standard error and watched for. When the server goes
away it says so and exits 4; with --reconnect it reconnects (up to 10 attempts, backing off),
prints what changed meanwhile, and exits 4 only when every attempt failed.`,
  set: `Usage: trame-wire set URL key=value… [--secret S] [--timeout MS]

Sets state keys. Values are parsed as JSON when they parse, else taken as strings.`,
  call: `Usage: trame-wire call URL NAME [ARGS_JSON] [KWARGS_JSON] [--rpc] [--out FILE|-]
                      [--secret S] [--timeout MS]

Calls trigger NAME with ARGS (a JSON array, default []) and KWARGS (a JSON object, default {})
and prints its result as JSON. With --rpc, NAME is a raw wslink method.
With --out, the result must be binary: it is streamed to FILE as it arrives (- for standard
output), with a progress bar on standard error, whatever its size; --timeout then also bounds
each silence of the transfer. A result that is not binary exits 1; a file left incomplete by a
failure is removed.
trame answers null both for a trigger that returns nothing and for a trigger it does not have
(its log then says "Trigger NAME seems to be missing"): a null result is printed, noted on
standard error, and exits 0. A call without an answer within --timeout exits 7.`,
  bench: `Usage: trame-wire bench [URL] [--publishes N] [--calls N] [--size MiB] [--calls-only]
                      [--secret S] [--timeout MS]

Measures small publishes consumed per second (default 100,000), RPC round trips per second
(sequential and 100 in flight, default 5,000 each) and a large message (default 64 MiB),
against the embedded server when no URL is given. Publishes and the large message need the
bench triggers of \`trame-wire serve\`: against another server, bench exits 8 unless
--calls-only (the same as --publishes 0 --size 0), which measures trame.state.get round trips
and works against any trame server. --timeout also bounds each silence while publishes or the
large message arrive.`,
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
        return await stateCommand(rest, output);
      case "watch":
        return await watchCommand(rest, output);
      case "set":
        return await setCommand(rest, output);
      case "call":
        return await callCommand(rest, output);
      case "bench":
        return await benchCommand(rest, output);
      case "load":
        return await loadCommand(rest, output);
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

function timeoutFlag(args: ParsedArgs): number {
  const timeout = integerFlag(args, "timeout", DEFAULT_TIMEOUT_MS);
  if (timeout < 1) throw new UsageError("--timeout must be at least 1 (milliseconds)");
  return timeout;
}

function connectionSettings(args: ParsedArgs, url: string): ConnectionSettings {
  return { url, secret: args.values.get("secret"), timeout: timeoutFlag(args) };
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

async function stateCommand(argv: readonly string[], output: CliOutput): Promise<number> {
  const args = parseArgs(argv, COMMON);
  if (args.booleans.has("help")) return help(output, "state");
  const settings = connectionSettings(args, urlArgument(args, "state"));
  const keys = args.positionals.slice(1);
  const json = args.booleans.has("json");
  const state = await withClient(
    settings,
    output,
    (client) => Promise.resolve(client.state.toObject()),
  );
  const picked = pick(state, keys);
  // `state URL nope` prints no "(no keys)" table: the error below says what happened.
  if (json || keys.length === 0 || Object.keys(picked).length > 0) {
    output.out(formatState(picked, json));
  }
  const missing = keys.filter((key) => !Object.hasOwn(state, key));
  if (missing.length > 0) throw new NotFoundError(`the state has no ${describeKeys(missing)}`);
  return EXIT_CODES.ok;
}

async function watchCommand(argv: readonly string[], output: CliOutput): Promise<number> {
  const args = parseArgs(argv, {
    values: COMMON.values,
    booleans: [...COMMON.booleans, "reconnect"],
  });
  if (args.booleans.has("help")) return help(output, "watch");
  const settings = connectionSettings(args, urlArgument(args, "watch"));
  const keys = args.positionals.slice(1);
  const json = args.booleans.has("json");
  const reconnect = args.booleans.has("reconnect");
  // Listening before anything is printed, so an interrupt is never missed.
  const interrupted = interruption();
  let client: TrameClient | undefined;
  try {
    client = await openClient(settings, output, { reconnect });
    const watcher = new StateWatcher(client, keys, json, output);
    watcher.showInitial();
    const missing = keys.filter((key) => !client!.state.has(key));
    if (missing.length > 0) {
      output.error(`trame-wire: the state has no ${describeKeys(missing)} yet; watching for it\n`);
    }
    await Promise.race([interrupted.signalled, watcher.follow(settings.url, reconnect)]);
    return EXIT_CODES.ok;
  } finally {
    interrupted.dispose();
    if (client !== undefined) await releaseClient(client);
  }
}

/** Prints the watched keys of a client's state: all of it first, then each change. */
class StateWatcher {
  #client: TrameClient;
  #keys: readonly string[];
  #json: boolean;
  #output: CliOutput;
  // What was printed last for each key, to print only what changed across a reconnection.
  #shown: Record<string, unknown> = {};

  constructor(client: TrameClient, keys: readonly string[], json: boolean, output: CliOutput) {
    this.#client = client;
    this.#keys = keys;
    this.#json = json;
    this.#output = output;
  }

  showInitial(): void {
    const state = pick(this.#client.state.toObject(), this.#keys);
    Object.assign(this.#shown, state);
    this.#output.out(formatState(state, this.#json));
  }

  /**
   * Prints changes until the connection is lost for good: then rejects with a
   * {@link ConnectionLostError}. Never resolves otherwise.
   */
  follow(url: string, reconnect: boolean): Promise<never> {
    const client = this.#client;
    return new Promise<never>((_, reject) => {
      const lost = (detail: string) => reject(new ConnectionLostError(url, detail));
      this.#subscribe(reconnect ? undefined : lost);
      if (!reconnect) return;
      client.on("reconnecting", ({ attempt, delay, error }) => {
        const cause = error instanceof Error ? error.message : String(error);
        const what = attempt === 1 ? "connection lost" : `attempt ${attempt - 1} failed`;
        this.#output.error(`trame-wire: ${what} (${cause}); reconnecting in ${delay} ms\n`);
      });
      client.on("reconnected", ({ attempts }) => {
        this.#output.error(`trame-wire: reconnected after ${attempts} attempt(s)\n`);
        this.#subscribe(undefined);
        this.#showDifferences();
      });
      client.on("gave-up", ({ attempts, error }) => {
        const cause = error instanceof Error ? error.message : String(error);
        lost(`gave up reconnecting after ${attempts} attempts (${cause})`);
      });
    });
  }

  // Prints every publish of the current session; `onLost` hears when the server ended it.
  #subscribe(onLost: ((detail: string) => void) | undefined): void {
    const session = this.#client.session;
    session.subscribe(STATE_TOPIC, (payload) => {
      this.#show(pick(payload as Record<string, unknown>, this.#keys));
    });
    if (onLost === undefined) return;
    session.on("close", ({ code, reason, local }) => {
      if (!local) {
        onLost(`the server closed the connection (${code}${reason ? `: ${reason}` : ""})`);
      }
    });
  }

  #showDifferences(): void {
    const current = pick(this.#client.state.toObject(), this.#keys);
    const changed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(current)) {
      if (!Object.hasOwn(this.#shown, key) || !deepEqual(this.#shown[key], value)) {
        changed[key] = value;
      }
    }
    this.#show(changed);
  }

  #show(changes: Record<string, unknown>): void {
    if (Object.keys(changes).length === 0) return;
    Object.assign(this.#shown, changes);
    this.#output.out(
      this.#json ? JSON.stringify(changes, jsonReplacer) + "\n" : formatChanges(changes),
    );
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
  await withClient(connectionSettings(args, url), output, async (client) => {
    client.state.update(values);
    await client.state.flush();
  });
  output.out(`set ${Object.keys(values).join(", ")}\n`);
  return EXIT_CODES.ok;
}

/** A parsed `call` command line. */
interface CallRequest {
  readonly settings: ConnectionSettings;
  readonly name: string;
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
  readonly rpc: boolean;
  /** How messages name the call: `trigger "add"` or `method "trame.state.get"`. */
  readonly what: string;
  readonly out: string | undefined;
}

async function callCommand(argv: readonly string[], output: CliOutput): Promise<number> {
  const args = parseArgs(argv, {
    values: [...COMMON.values, "out"],
    booleans: [...COMMON.booleans, "rpc"],
  });
  if (args.booleans.has("help")) return help(output, "call");
  const request = parseCallRequest(args);
  if (request.out !== undefined) await downloadResult(request, request.out, output);
  else await printResult(request, output);
  return EXIT_CODES.ok;
}

function parseCallRequest(args: ParsedArgs): CallRequest {
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
  const out = args.values.get("out");
  if (out === "") throw new UsageError("--out needs a file name, or - for standard output");
  const rpc = args.booleans.has("rpc");
  return {
    settings: connectionSettings(args, url),
    name,
    args: callArgs,
    kwargs: kwargs as Record<string, unknown>,
    rpc,
    what: `${rpc ? "method" : "trigger"} ${JSON.stringify(name)}`,
    out,
  };
}

/**
 * Rethrows a failed call's error worded for the command line: the library's message names the
 * wslink method (trame.trigger); this one names the call and the flag that would help.
 */
function explainCallFailure(request: CallRequest, error: unknown): never {
  const { what, settings } = request;
  const data = error instanceof WslinkError ? error.data as { kind?: string; value?: unknown } : {};
  if (data?.kind === "protocol" && "value" in data) {
    const type = describeValue(data.value);
    throw clientError(
      "protocol",
      `${what} returned ${type}, not binary (--out takes binary results)`,
      data,
    );
  }
  if (data?.kind !== "timeout") throw error;
  throw clientError(
    "timeout",
    `${what} got no answer within ${settings.timeout} ms (raise --timeout to wait longer)`,
    { timeout: settings.timeout },
  );
}

async function downloadResult(request: CallRequest, out: string, output: CliOutput) {
  const { settings, name, args, kwargs, rpc } = request;
  const limit = { timeout: settings.timeout };
  const receive = (start: (options: CallOptions) => Promise<BinaryStream>) =>
    download(
      (options) =>
        start({ ...options, ...limit }).catch((error) => explainCallFailure(request, error)),
      out,
      settings.timeout,
      output,
      `${rpc ? "" : "trigger "}${name}`,
    );
  await (rpc
    ? withSession(
      settings,
      (session) => receive((options) => session.callStream(name, args, kwargs, options)),
    )
    : withClient(
      settings,
      output,
      (client) => receive((options) => client.triggerStream(name, args, kwargs, options)),
    ));
}

async function printResult(request: CallRequest, output: CliOutput) {
  const { settings, name, args, kwargs, rpc, what } = request;
  const limit = { timeout: settings.timeout };
  const explain = (error: unknown) => explainCallFailure(request, error);
  const result = rpc
    ? await withSession(
      settings,
      (session) => session.call(name, args, kwargs, limit).catch(explain),
    )
    : await withClient(
      settings,
      output,
      (client) => client.trigger(name, args, kwargs, limit).catch(explain),
    );
  output.out(JSON.stringify(result ?? null, jsonReplacer, 2) + "\n");
  if (!rpc && (result === null || result === undefined)) {
    output.error(
      `trame-wire: ${what} answered null: it returned nothing, or the ` +
        `server has no such trigger (trame answers null to both; its log says which)\n`,
    );
  }
}

async function benchCommand(argv: readonly string[], output: CliOutput): Promise<number> {
  const args = parseArgs(argv, {
    values: ["secret", "timeout", "publishes", "calls", "size"],
    booleans: ["calls-only"],
  });
  if (args.booleans.has("help")) return help(output, "bench");
  const url = args.positionals[0];
  if (url !== undefined) checkUrl(url);
  const callsOnly = args.booleans.has("calls-only");
  if (callsOnly && (args.values.has("publishes") || args.values.has("size"))) {
    throw new UsageError("--calls-only measures calls alone: leave out --publishes and --size");
  }
  return await runBench(output, {
    url,
    secret: args.values.get("secret"),
    publishes: callsOnly ? 0 : integerFlag(args, "publishes", 100_000),
    calls: integerFlag(args, "calls", 5_000),
    sizeMiB: callsOnly ? 0 : integerFlag(args, "size", 64),
    timeout: timeoutFlag(args),
  });
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

function describeKeys(keys: readonly string[]): string {
  return `key${keys.length === 1 ? "" : "s"} ${keys.map((key) => JSON.stringify(key)).join(", ")}`;
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
  outBytes: (bytes) =>
    new Promise((resolve, reject) => {
      process.stdout.write(bytes, (error) => error ? reject(error) : resolve());
    }),
  isTerminal: process.stdout.isTTY === true,
  errorIsTerminal: process.stderr.isTTY === true,
};
