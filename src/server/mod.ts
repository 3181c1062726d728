/**
 * An embedded trame-compatible server for Deno, Bun and Node: it speaks wslink and the trame
 * layer exactly as the reference Python server does (ids, error codes, chunking, size limits),
 * so front-end tests, demos and small services need nothing else installed.
 *
 * The runtime is detected and served through a small adapter (`Deno.serve`, `Bun.serve`, or
 * `node:http` with the optional `ws` package); the protocol core is the same everywhere.
 *
 * @example
 * ```ts
 * import { serve } from "@trame-wire/client/server";
 *
 * await using server = await serve({ name: "demo", state: { counter: 0 } });
 * server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
 * server.state.onChange(["counter"], (state) => console.log("counter is", state.counter));
 * server.register("my.echo", (args) => args);
 * console.log(`listening on ${server.url}`);
 * ```
 * @module
 */
export { serve, TrameServer } from "./server.ts";
export type {
  ExitRequest,
  ServeOptions,
  ServerPublishOptions,
  TrameServerEvents,
  TriggerHandler,
} from "./server.ts";
export { ACTIONS_TOPIC, defaultTrameState, STATE_TOPIC } from "../trame/protocol.ts";
export type { TrameBuiltinState } from "../trame/protocol.ts";
export { CLOSE_CODES, consoleLogger, WSLINK_ERRORS } from "./core.ts";
export { MESSAGE_OVERHEAD } from "../protocol/defaults.ts";
export type { Logger, LogLevel, RpcHandler, ServerClient } from "./core.ts";
export { TrameServerError } from "./errors.ts";
export { openFile } from "./_stream_sender.ts";
export type { StreamedBytes } from "./_stream_sender.ts";
export type { TrameServerErrorCode } from "./errors.ts";
export { detectRuntime } from "./adapters/detect.ts";
export type {
  Adapter,
  AdapterListener,
  AdapterOptions,
  AdapterSocket,
  AdapterSocketHandlers,
  RuntimeName,
} from "./adapters/types.ts";
export { State, StateCascadeError, StateListenerError, StateUpdateError } from "../trame/state.ts";
export type {
  ChangeListener,
  StateKey,
  StateOptions,
  StateUpdateErrorReason,
} from "../trame/state.ts";
