/**
 * trame-wire: a fast, dependable client for servers that speak wslink, the WebSocket RPC and
 * pub/sub protocol of trame, ParaView Web and VTK web applications.
 *
 * This module holds the chunk codec: wslink splits every message into frames with a 12-byte
 * header, and the un-chunker puts them back together with exact accounting of every byte and
 * hard limits on what a header may make it allocate.
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
