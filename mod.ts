/**
 * trame-wire: a fast, dependable client for servers that speak wslink, the WebSocket RPC and
 * pub/sub protocol of trame, ParaView Web and VTK web applications.
 *
 * {@link WslinkSession} is the client: `WslinkSession.connect(url)` opens the runtime's standard
 * `WebSocket`, does the hello handshake, and then offers `call()`, `subscribe()` and typed events;
 * nothing it returns can hang once the connection ends.
 *
 * This module also holds the chunk codec: wslink splits every message into frames with a 12-byte
 * header, and the un-chunker puts them back together with exact accounting of every byte and
 * hard limits on what a header may make it allocate.
 *
 * @example
 * ```ts
 * import { WslinkSession } from "@trame-wire/client";
 * import { serve } from "@trame-wire/client/server";
 *
 * // Any wslink server will do, a trame application for one; here, the embedded one.
 * await using server = await serve({ port: 0, state: { counter: 1 } });
 * await using session = await WslinkSession.connect(server.url);
 * console.log(await session.call("trame.state.get"));
 * ```
 *
 * @example
 * ```ts
 * import { createUnChunker, generateChunks } from "@trame-wire/client";
 * import { encode, decode } from "@msgpack/msgpack";
 *
 * const unchunker = await createUnChunker();
 * let message: Uint8Array | undefined;
 * for (const frame of generateChunks(encode({ hello: "world" }), 8)) {
 *   message = unchunker.push(frame);
 * }
 * console.assert((decode(message!) as { hello: string }).hello === "world");
 * ```
 *
 * @module
 */
export { decodeHeader, encodeHeader, HEADER_LENGTH } from "./src/codec/header.ts";
export type { ChunkHeader } from "./src/codec/header.ts";
export { generateChunks, randomMessageId } from "./src/codec/chunker.ts";
export type { GenerateChunksOptions } from "./src/codec/chunker.ts";
export { CHUNK_ERROR_REASONS, ChunkError } from "./src/codec/chunk_error.ts";
export type { ChunkErrorReason } from "./src/codec/chunk_error.ts";
export { createUnChunker, DEFAULT_UNCHUNKER_LIMITS } from "./src/codec/unchunker.ts";
export type {
  UnChunker,
  UnChunkerEngine,
  UnChunkerLimits,
  UnChunkerOptions,
} from "./src/codec/unchunker.ts";
export { WslinkSession } from "./src/session/session.ts";
export type { BinaryStream } from "./src/session/binary_stream.ts";
export type {
  CallOptions,
  WebSocketConstructor,
  WslinkSessionOptions,
} from "./src/session/options.ts";
export {
  CLIENT_ERROR,
  EXCEPTION_RAISED,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  RESULT_NOT_SERIALIZABLE,
  UNAUTHORIZED,
} from "./src/protocol/error_codes.ts";
export { WslinkError } from "./src/session/errors.ts";
export type { ClientErrorKind } from "./src/session/errors.ts";
export { parseMessageId } from "./src/protocol/ids.ts";
export type { ParsedMessageId } from "./src/protocol/ids.ts";
export { TopicStream } from "./src/session/subscription.ts";
export type {
  OverflowPolicy,
  Subscription,
  TopicStreamOptions,
} from "./src/session/subscription.ts";
export type {
  SessionCloseEvent,
  SessionErrorEvent,
  SessionErrorKind,
  SessionEventListener,
  SessionEventMap,
  SessionProgressEvent,
} from "./src/session/events.ts";
export { TrameClient } from "./src/trame/client.ts";
export type {
  ConnectOptions,
  ReconnectOptions,
  TrameAction,
  TrameClientEventMap,
  TrameClientOptions,
  TrameClientStatus,
} from "./src/trame/client.ts";
export { ClientState } from "./src/trame/client_state.ts";
export type { WaitForOptions } from "./src/trame/client_state.ts";
export { launch, LauncherError } from "./src/trame/launcher.ts";
export type { LaunchOptions, TrameConnectionConfig } from "./src/trame/launcher.ts";
export { StateCascadeError, StateListenerError, StateUpdateError } from "./src/trame/state.ts";
export type { ChangeListener, StateKey, StateUpdateErrorReason } from "./src/trame/state.ts";
export type { TranslatorOptions } from "./src/trame/translator.ts";
