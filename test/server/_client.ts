// A bare wslink client for the server tests: the runtime's own WebSocket plus the codec, so the
// tests depend on nothing but what they test. Every wait is bounded.
import { generateChunks } from "../../src/codec/chunker.ts";
import { decodeHeader } from "../../src/codec/header.ts";
import { createUnChunker, type UnChunker } from "../../src/codec/unchunker.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import type { TrameServer } from "../../src/server/mod.ts";
import { within } from "../_support.ts";
export { within };

/** A decoded wslink envelope. */
export type Envelope = Record<string, unknown>;

/** One message received, with how it travelled. */
export interface Received {
  readonly message: Envelope;
  /** How many frames carried it. */
  readonly frames: number;
  /** Its msgpack size in bytes. */
  readonly bytes: number;
}

/** How a socket closed. */
export interface Closed {
  readonly code: number;
  readonly reason: string;
}

const codec = createMessageCodec();

/** A raw wslink client. */
export class RawClient {
  /** The id from the hello reply, once authenticated. */
  clientId = "";
  /** Frame size for outgoing messages (0: one frame); set from the hello reply. */
  frameSize = 0;
  /** Resolves when the socket is closed. */
  readonly closed: Promise<Closed>;
  readonly #socket: WebSocket;
  readonly #unchunker: UnChunker;
  readonly #frameCounts = new Map<number, number>();
  readonly #inbox: Received[] = [];
  #waiter: ((received: Received) => void) | undefined;
  #counter = 0;
  #isClosed = false;

  private constructor(socket: WebSocket, unchunker: UnChunker) {
    this.#socket = socket;
    this.#unchunker = unchunker;
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.#isClosed = true;
        resolve({ code: event.code, reason: event.reason });
      });
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") return;
      const frame = new Uint8Array(event.data as ArrayBuffer);
      const { id } = decodeHeader(frame);
      const count = (this.#frameCounts.get(id) ?? 0) + 1;
      this.#frameCounts.set(id, count);
      const bytes = this.#unchunker.push(frame);
      if (bytes === undefined) return;
      this.#frameCounts.delete(id);
      const received = {
        message: codec.decode(bytes) as Envelope,
        frames: count,
        bytes: bytes.byteLength,
      };
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter) waiter(received);
      else this.#inbox.push(received);
    });
  }

  /** Opens a socket to `url`. */
  static async connect(url: string): Promise<RawClient> {
    const unchunker = await createUnChunker({ engine: "js" });
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    const client = new RawClient(socket, unchunker);
    await within(
      new Promise<void>((resolve, reject) => {
        socket.addEventListener("open", () => resolve(), { once: true });
        socket.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), {
          once: true,
        });
      }),
      5000,
      `connect to ${url}`,
    );
    return client;
  }

  /** Opens a socket and authenticates with `secret`. */
  static async authenticated(url: string, secret = "wslink-secret"): Promise<RawClient> {
    const client = await RawClient.connect(url);
    const reply = await client.hello(secret);
    if (reply.error !== undefined) throw new Error(`hello refused: ${JSON.stringify(reply)}`);
    return client;
  }

  /** Whether the socket is closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Sends one raw WebSocket message. */
  sendFrame(frame: Uint8Array | string): void {
    this.#socket.send(frame);
  }

  /** Packs and chunks an envelope at `frameSize` (default: the announced size). */
  send(envelope: Envelope, frameSize = this.frameSize): void {
    const bytes = codec.encode(envelope);
    for (const frame of generateChunks(bytes, frameSize)) this.#socket.send(frame);
  }

  /** Sends `wslink.hello` and returns the reply envelope. */
  async hello(secret = "wslink-secret"): Promise<Envelope> {
    this.send({
      wslink: "1.0",
      id: "system:c0:0",
      method: "wslink.hello",
      args: [{ secret }],
      kwargs: {},
    });
    const reply = (await this.next()).message;
    const result = reply.result as { clientID: string; maxMsgSize: number } | undefined;
    if (result !== undefined) {
      this.clientId = result.clientID;
      this.frameSize = result.maxMsgSize;
    }
    return reply;
  }

  /** Sends a call; returns its id. */
  request(method: string, args: unknown[] = [], kwargs: Envelope = {}): string {
    const id = `rpc:${this.clientId || "none"}:${this.#counter++}`;
    this.send({ wslink: "1.0", id, method, args, kwargs });
    return id;
  }

  /** Sends a call and returns the next message, checking it answers that call. */
  async call(method: string, args: unknown[] = [], kwargs: Envelope = {}): Promise<Envelope> {
    const id = this.request(method, args, kwargs);
    const reply = (await this.next()).message;
    if (reply.id !== id) throw new Error(`expected the reply to ${id}, got ${reply.id}`);
    return reply;
  }

  /** The next message received (in order), waiting at most `ms`. */
  next(ms = 5000): Promise<Received> {
    const queued = this.#inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#waiter !== undefined) throw new Error("one next() at a time");
    return within(
      new Promise<Received>((resolve) => this.#waiter = resolve),
      ms,
      "next message",
    ).finally(() => this.#waiter = undefined);
  }

  /** How many messages are waiting to be read. */
  get queued(): number {
    return this.#inbox.length;
  }

  /** Closes the socket and waits for the close to complete. */
  async close(): Promise<Closed> {
    if (!this.#isClosed) this.#socket.close();
    return await within(this.closed, 5000, "socket close");
  }
}

/** A logger that keeps the lines, for assertions and a quiet test output. */
export function collectingLogger(): {
  lines: string[];
  log: (level: string, message: string) => void;
} {
  const lines: string[] = [];
  return { lines, log: (level, message) => lines.push(`${level}: ${message}`) };
}

/** Resolves with the code and reason of the server's next `count` disconnects, in order. */
export function disconnects(server: TrameServer, count = 1): Promise<[number, string][]> {
  const seen: [number, string][] = [];
  return new Promise((resolve) => {
    const stop = server.on("disconnect", (_client, code, reason) => {
      seen.push([code, reason]);
      if (seen.length === count) {
        stop();
        resolve(seen);
      }
    });
  });
}
