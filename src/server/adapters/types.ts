/**
 * The one interface between the protocol core and a runtime's HTTP/WebSocket server. An adapter
 * listens, upgrades requests on one path, and hands each socket to `open`; the core never learns
 * which runtime it runs on.
 * @module
 */
import type { Logger } from "../log.ts";

/** What the core may do with one accepted WebSocket. */
export interface AdapterSocket {
  /**
   * Bytes accepted by `send` and not yet handed to the operating system (the runtime's buffer and
   * the adapter's own queue); 0 once closed. What a sender that waits for room looks at.
   */
  readonly bufferedAmount: number;
  /**
   * Sends one message's frames, in order, as binary frames. Returns false when they were not
   * sent: the socket is closing or closed, or more than the send budget was still queued, in
   * which case the adapter has closed the socket (1008) and reported it closed. Never throws.
   */
  send(frames: readonly Uint8Array[]): boolean;
  /**
   * Starts the closing handshake. A peer that does not complete it within a few seconds is cut
   * (where the runtime can) and reported closed with 1006.
   */
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
  /**
   * Seconds between heartbeats. At each one a socket is dropped (1008) when bytes were queued for
   * it at the previous heartbeat and none was written since, or when the previous ping's random
   * payload did not come back in a pong; then it is pinged with a fresh payload. Deno lets no
   * code ping or see pongs: there, its own idle timeout pings instead. 0: no heartbeat.
   */
  readonly heartbeat: number;
  /**
   * Bytes that may be queued for one socket when a message is sent to it; over this, the message
   * is refused and the socket closed (1008). A message is never cut midway, so a socket holds at
   * most this plus one message.
   */
  readonly sendBudget: number;
  /** Receives the adapter's log lines (sockets dropped, accept errors). */
  readonly log: Logger;
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
