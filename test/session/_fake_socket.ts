// An in-memory WebSocket for driving WslinkSession without a network, and a scripted wslink
// server on top of it. Events are delivered in microtasks, in order, as a real socket would.
import { decodeHeader, generateChunks, HEADER_LENGTH } from "../../mod.ts";
import type { WebSocketConstructor } from "../../mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";

export class FakeSocket extends EventTarget {
  readonly url: string;
  binaryType = "blob";
  readyState = 0;
  bufferedAmount = 0;
  /** Copies of the frames the client sent, in order. */
  readonly sent: Uint8Array[] = [];
  /** The close() calls the client made. */
  readonly closeCalls: { code: number | undefined; reason: string | undefined }[] = [];
  onSend: ((frame: Uint8Array) => void) | undefined;

  constructor(url: string) {
    super();
    this.url = url;
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error(`send() in readyState ${this.readyState}`);
    const frame = new Uint8Array(data);
    this.sent.push(frame);
    this.onSend?.(frame);
  }

  close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason });
    if (this.readyState >= 2) return;
    this.readyState = 2;
    queueMicrotask(() => this.drop(code ?? 1005, reason ?? "", true));
  }

  /** Server side: accepts the connection. */
  open(): void {
    if (this.readyState !== 0) return;
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }

  /** Server side: delivers one frame (bytes are copied into an exact-size ArrayBuffer). */
  deliver(data: Uint8Array | string | Blob): void {
    const payload = data instanceof Uint8Array ? new Uint8Array(data).buffer : data;
    queueMicrotask(() => {
      if (this.readyState !== 1) return;
      this.dispatchEvent(new MessageEvent("message", { data: payload }));
    });
  }

  /** Server side (or network): the connection ends. */
  drop(code = 1006, reason = "", wasClean = false): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason, wasClean }));
  }
}

/** A WebSocket constructor whose instances are FakeSockets handed to `onSocket`. */
export function fakeWebSocket(
  onSocket: (socket: FakeSocket) => void,
  { autoOpen = true } = {},
): WebSocketConstructor {
  class ScriptedSocket extends FakeSocket {
    constructor(url: string) {
      super(url);
      onSocket(this);
      if (autoOpen) queueMicrotask(() => this.open());
    }
  }
  return ScriptedSocket as unknown as WebSocketConstructor;
}

export type Message = Record<string, unknown>;

/** The server end of one fake connection. */
export interface Peer {
  readonly socket: FakeSocket;
  /** Encodes `value` and delivers it in frames of at most `maxSize` bytes (0: one frame). */
  send(value: unknown, maxSize?: number): void;
  reply(id: unknown, result: unknown): void;
  fail(id: unknown, code: number, message: string, data?: unknown): void;
  publish(topic: string, payload: unknown): void;
}

export interface FakeServerOptions {
  clientId?: string;
  /** Encode 64-bit integers from bigint (the server's codec). */
  useBigInt64?: boolean;
  maxMsgSize?: number;
  /** Handles every message after the hello (the hello is answered with clientId, maxMsgSize). */
  onMessage?: (message: Message, peer: Peer) => void;
  /** Handles the hello instead of the default answer. */
  onHello?: (message: Message, peer: Peer) => void;
}

/** A scripted wslink server behind fake sockets. */
export function fakeServer(options: FakeServerOptions = {}) {
  const codec = createMessageCodec({ useBigInt64: options.useBigInt64 });
  const received: Message[] = [];
  const peers: Peer[] = [];
  const WebSocket = fakeWebSocket((socket) => {
    const peer: Peer = {
      socket,
      send(value, maxSize = 0) {
        for (const frame of generateChunks(codec.encode(value), maxSize)) socket.deliver(frame);
      },
      reply: (id, result) => peer.send({ wslink: "1.0", id, result }),
      fail: (id, code, message, data) =>
        peer.send({
          wslink: "1.0",
          id,
          error: data === undefined ? { code, message } : { code, message, data },
        }),
      publish: (topic, result) => peer.send({ wslink: "1.0", id: `publish:${topic}:0`, result }),
    };
    peers.push(peer);
    socket.onSend = reassembler((bytes) => {
      const message = codec.decode(bytes) as Message;
      received.push(message);
      if (message.method === "wslink.hello") {
        if (options.onHello) return options.onHello(message, peer);
        return peer.reply(message.id, {
          clientID: options.clientId ?? "c1",
          maxMsgSize: options.maxMsgSize ?? 65536,
        });
      }
      options.onMessage?.(message, peer);
    });
  });
  return { WebSocket, received, peers };
}

/** Puts in-order chunks back together (enough for what our client sends). */
export function reassembler(onMessage: (bytes: Uint8Array) => void): (frame: Uint8Array) => void {
  const partial = new Map<number, { bytes: Uint8Array; received: number }>();
  return (frame) => {
    const header = decodeHeader(frame);
    let message = partial.get(header.id);
    if (message === undefined) {
      message = { bytes: new Uint8Array(header.totalSize), received: 0 };
      partial.set(header.id, message);
    }
    message.bytes.set(frame.subarray(HEADER_LENGTH), header.offset);
    message.received += frame.byteLength - HEADER_LENGTH;
    if (message.received === header.totalSize) {
      partial.delete(header.id);
      onMessage(message.bytes);
    }
  };
}

/** Lets queued microtasks and one macrotask turn run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
