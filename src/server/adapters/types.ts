/**
 * The one interface between the protocol core and a runtime's HTTP/WebSocket server. An adapter
 * listens, upgrades requests on one path, and hands each socket to `open`; the core never learns
 * which runtime it runs on.
 * @module
 */

/** What the core may do with one accepted WebSocket. */
export interface AdapterSocket {
  /** Sends one binary frame. Must not throw once the socket is closing; drop the frame instead. */
  send(frame: Uint8Array): void;
  /** Starts the closing handshake (or drops the connection when it cannot be done cleanly). */
  close(code: number, reason: string): void;
}

/** What the adapter reports about one socket, after `open` returned them. */
export interface AdapterSocketHandlers {
  /** A whole WebSocket message arrived: bytes for binary frames, a string for text frames. */
  message(data: Uint8Array | string): void;
  /** The socket is closed, whoever closed it. Called exactly once. */
  close(code: number, reason: string): void;
}

/** What an adapter needs to listen. */
export interface AdapterOptions {
  /** Interface to bind. */
  readonly hostname: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  /** The only path that upgrades to WebSocket; other paths get HTTP 404. */
  readonly path: string;
  /**
   * Largest incoming WebSocket message the runtime should accept, when it can enforce a limit
   * itself (`Infinity`: none). The core checks it again on every frame.
   */
  readonly maxFrameSize: number;
  /** Seconds between pings to each client; one that stops answering is dropped. 0: no pings. */
  readonly heartbeat: number;
  /** Called once per upgraded socket, when it is open. */
  open(socket: AdapterSocket, remoteAddress: string | undefined): AdapterSocketHandlers;
}

/** A listening adapter. */
export interface AdapterListener {
  /** The port actually bound. */
  readonly port: number;
  /** Stops listening and releases the server; sockets should already be closed. */
  close(): Promise<void>;
}

/** Starts a server on one runtime. */
export type Adapter = (options: AdapterOptions) => Promise<AdapterListener>;

/** The runtimes with an adapter. */
export type RuntimeName = "deno" | "bun" | "node";
