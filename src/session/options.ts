/**
 * Options of `WslinkSession.connect()`; `_resolve_options.ts` applies their defaults.
 * @module
 */

/** A constructor compatible with the standard `WebSocket` (the global one, `ws`, a test fake). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

/** Options of `WslinkSession.connect()`; every field is optional. */
export type WslinkSessionOptions = Readonly<
  Partial<{
    /** The secret sent in the hello. Default `"wslink-secret"`, the reference server's default. */
    secret: string;
    /**
     * Milliseconds from `connect()` (socket opening included) to the hello reply; past it,
     * `connect()` rejects with code -32099 and the socket is closed. Default 10,000.
     */
    helloTimeout: number;
    /**
     * Milliseconds `close()` waits for the server to confirm the close before it drops the
     * connection; 0 drops it at once. Default 1,000. A server busy in a handler may not read the
     * close frame until the handler returns.
     */
    closeTimeout: number;
    /**
     * Default timeout of every call in milliseconds; 0 means none. Default 0: a server method may
     * legitimately run for minutes. A call's own `timeout` overrides it.
     */
    callTimeout: number;
    /**
     * Largest frame this client sends, header included, in bytes; 0 means no cap of its own.
     * The frames sent are at most the smallest of this, the server's `maxMsgSize` and the
     * `WSLINK_MAX_MSG_SIZE` environment variable (when set). At least 13. Default 0.
     */
    maxFrameSize: number;
    /**
     * Bytes the socket may hold unsent (`bufferedAmount`) before a large message waits for it to
     * drain, so a 1 GiB upload never buffers 1 GiB. Default 4 MiB.
     */
    sendHighWaterMark: number;
    /** Largest incoming message accepted, in bytes. Default 1 GiB. */
    maxMessageSize: number;
    /**
     * Largest result `callStream()` accepts, in bytes, from 1 to 4 GiB - 1 (the protocol's
     * limit). Streamed results are never buffered whole, so this is separate from
     * `maxMessageSize`. Default 4 GiB - 1.
     */
    maxStreamSize: number;
    /**
     * Budget for all incomplete incoming messages together, in bytes: their buffers, and for
     * streamed results the frames held ahead of a gap and the bytes not yet read from the
     * stream. Default 2 GiB.
     */
    maxPendingBytes: number;
    /** How many incoming messages may be incomplete at once. Default 1024. */
    maxPendingMessages: number;
    /**
     * The deepest value an incoming message may hold (the message itself at depth 1); a deeper
     * one is refused like any message that does not decode. Default 512, the deepest a Python
     * wslink server can send (msgpack-python's packer stops 511 levels below the root).
     */
    maxMessageDepth: number;
    /**
     * Decode 64-bit integers as `bigint`, so values above 2^53 stay exact. Default `false`. A
     * `bigint` is sent as a 64-bit integer either way.
     */
    useBigInt64: boolean;
    /** The WebSocket implementation. Default: the runtime's global `WebSocket`. */
    WebSocket: WebSocketConstructor;
    /**
     * Whether to ask the server to compress its frames (the permessage-deflate extension).
     * Default `false`: a compressing server spends CPU time on every message it sends, in its one
     * event loop (measured against the reference Python server: a tenth to a quarter of its time
     * per small publish, seven to ten times its time for a large result of random bytes), which
     * costs more than it saves on a local network. Set it for a slow link. Only Bun's own
     * WebSocket lets a client choose; Deno's never asks, Node's global WebSocket always asks, a
     * browser decides by itself, and so does a class given in the `WebSocket` option.
     */
    compression: boolean;
    /** Aborts connecting (not the session once connected): `connect()` rejects with -32099. */
    signal: AbortSignal;
  }>
>;

/** Options of one `WslinkSession.call()` or `callStream()`. */
export type CallOptions = Readonly<
  Partial<{
    /**
     * Milliseconds to wait for the reply (for `callStream()`, its first frame); 0 means none.
     * Default: the session's `callTimeout`.
     */
    timeout: number;
    /**
     * Aborts the call: it rejects with code -32099 and its late reply is dropped. A stream that
     * `callStream()` resolved errors with that same error, and the rest of it is dropped.
     */
    signal: AbortSignal;
  }>
>;
