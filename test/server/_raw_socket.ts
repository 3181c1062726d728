// A WebSocket client written on `node:net`, for the hostile-peer tests: it can stop reading, send
// unsolicited pongs, leave pings unanswered and send any frame, which no WebSocket library allows.
// Runs unchanged on Deno, Bun and Node. Every wait is bounded.
import { connect, type Socket } from "node:net";
import { generateChunks } from "../../src/codec/chunker.ts";
import { HEADER_LENGTH } from "../../src/codec/header.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { within } from "../_support.ts";

/** One frame received, its payload unmasked. */
export interface RawFrame {
  readonly opcode: number;
  readonly payload: Uint8Array;
}

/** How the TCP connection ended, and the close frame received before, if any. */
export interface RawEnd {
  readonly closeCode: number | undefined;
  readonly closeReason: string | undefined;
}

export const OPCODES = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A client-side WebSocket over a raw TCP socket. */
export class RawSocket {
  /** Bytes of frames received (headers included). */
  receivedBytes = 0;
  /** Binary and text frames received (kept only with `keepMessages`), and how many came. */
  readonly messages: RawFrame[] = [];
  messageCount = 0;
  /** Payloads of the pings received. */
  readonly pings: Uint8Array[] = [];
  /** Answer pings with a pong carrying the same payload (a conforming client). */
  autoPong = true;
  /** Keep received messages in `messages` (false: only count them). */
  keepMessages = true;
  /** Resolves once the TCP connection is closed, whoever closed it. */
  readonly ended: Promise<RawEnd>;
  readonly #socket: Socket;
  #pending: Uint8Array = new Uint8Array(0);
  #closeCode: number | undefined;
  #closeReason: string | undefined;
  #isEnded = false;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket, head: Uint8Array) {
    this.#socket = socket;
    this.ended = new Promise((resolve) => {
      socket.on("close", () => {
        this.#isEnded = true;
        resolve({ closeCode: this.#closeCode, closeReason: this.#closeReason });
        for (const waiter of this.#waiters) waiter();
      });
    });
    socket.on("error", () => {});
    socket.on("data", (chunk: Uint8Array) => this.#take(chunk));
    if (head.byteLength > 0) this.#take(head);
  }

  /** Connects to a `ws://host:port/path` URL and completes the opening handshake. */
  static async open(url: string): Promise<RawSocket> {
    const { hostname, port, pathname } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const head = await within(
      new Promise<Uint8Array>((resolve, reject) => {
        let received: Uint8Array = new Uint8Array(0);
        const onData = (chunk: Uint8Array) => {
          received = concat(received, chunk);
          const text = new TextDecoder("latin1").decode(received);
          const end = text.indexOf("\r\n\r\n");
          if (end < 0) return;
          socket.off("data", onData);
          if (!text.startsWith("HTTP/1.1 101")) {
            socket.destroy();
            reject(new Error(`upgrade refused: ${text.slice(0, text.indexOf("\r\n"))}`));
            return;
          }
          resolve(received.subarray(end + 4));
        };
        socket.on("data", onData);
        socket.once("error", reject);
        socket.once("connect", () => {
          socket.write(
            `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
              `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
              `Sec-WebSocket-Version: 13\r\n\r\n`,
          );
        });
      }),
      10_000,
      `WebSocket handshake with ${url}`,
    );
    return new RawSocket(socket, head);
  }

  /** Whether the TCP connection is closed. */
  get isEnded(): boolean {
    return this.#isEnded;
  }

  /** Sends one frame (masked, as a client must). Returns false when the TCP socket is full. */
  sendFrame(opcode: number, payload: Uint8Array = new Uint8Array(0), fin = true): boolean {
    if (this.#isEnded) return false;
    return this.#socket.write(frameOf(opcode, payload, fin));
  }

  /** Writes bytes as they are (frames built by the caller). Returns false when the socket is full. */
  sendRaw(bytes: Uint8Array): boolean {
    if (this.#isEnded) return false;
    return this.#socket.write(bytes);
  }

  /** Writes bytes as they are, and waits (bounded) until the socket takes more. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.sendRaw(bytes)) return;
    await within(
      new Promise<void>((resolve) => {
        this.#socket.once("drain", resolve);
        this.ended.then(() => resolve());
      }),
      30_000,
      "the server reads what was sent",
    );
  }

  /** Waits (bounded) until `count` binary or text messages have arrived in all. */
  async received(count: number, ms = 10_000): Promise<void> {
    let check = () => {};
    try {
      await within(
        new Promise<void>((resolve, reject) => {
          check = () => {
            if (this.messageCount >= count) resolve();
            else if (this.#isEnded) reject(new Error(`ended after ${this.messageCount} messages`));
          };
          this.#waiters.add(check);
          check();
        }),
        ms,
        `${count} messages (${this.messageCount} so far)`,
      );
    } finally {
      this.#waiters.delete(check);
    }
  }

  /** Sends a pong nobody asked for. */
  pong(payload: Uint8Array = new Uint8Array(0)): boolean {
    return this.sendFrame(OPCODES.pong, payload);
  }

  /** Sends a binary message. */
  send(bytes: Uint8Array): boolean {
    return this.sendFrame(OPCODES.binary, bytes);
  }

  /** Stops reading from the socket: the server's data piles up in its send queue. */
  pause(): void {
    this.#socket.pause();
  }

  /** Reads again. */
  resume(): void {
    this.#socket.resume();
  }

  /** Sends a close frame and waits (bounded) for the connection to end. */
  async close(code = 1000): Promise<RawEnd> {
    if (!this.#isEnded) {
      this.sendFrame(OPCODES.close, new Uint8Array([code >> 8, code & 0xff]));
      this.#socket.resume();
    }
    try {
      return await within(this.ended, 5_000, "close handshake");
    } finally {
      this.#socket.destroy();
    }
  }

  /** Drops the TCP connection without a close frame. */
  destroy(): void {
    this.#socket.destroy();
  }

  #take(chunk: Uint8Array): void {
    this.#pending = this.#pending.byteLength === 0 ? chunk : concat(this.#pending, chunk);
    let offset = 0;
    for (;;) {
      const frame = parseFrame(this.#pending, offset);
      if (frame === undefined) break;
      offset = frame.end;
      this.receivedBytes += frame.size;
      this.#handle(frame.opcode, frame.payload);
    }
    this.#pending = offset === 0 ? this.#pending : this.#pending.slice(offset);
  }

  #handle(opcode: number, payload: Uint8Array): void {
    if (opcode === OPCODES.ping) {
      this.pings.push(payload);
      if (this.autoPong) this.pong(payload);
    } else if (opcode === OPCODES.close) {
      if (payload.byteLength >= 2) {
        this.#closeCode = (payload[0] << 8) | payload[1];
        this.#closeReason = new TextDecoder().decode(payload.subarray(2));
      } else this.#closeCode = 1005;
      if (!this.#isEnded) this.#socket.end(frameOf(OPCODES.close, payload.subarray(0, 2), true));
    } else if (opcode === OPCODES.binary || opcode === OPCODES.text) {
      this.messageCount++;
      if (this.keepMessages) this.messages.push({ opcode, payload });
      for (const waiter of this.#waiters) waiter();
    }
  }
}

/** WebSocket frames (masked, as from a client) of `payloads`, end to end, for `RawSocket.write`. */
export function framed(
  payloads: readonly Uint8Array[],
  opcode: number = OPCODES.binary,
): Uint8Array {
  const frames = payloads.map((payload) => frameOf(opcode, payload, true));
  const bytes = new Uint8Array(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
  let offset = 0;
  for (const frame of frames) {
    bytes.set(frame, offset);
    offset += frame.byteLength;
  }
  return bytes;
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(first.byteLength + second.byteLength);
  bytes.set(first);
  bytes.set(second, first.byteLength);
  return bytes;
}

function frameOf(opcode: number, payload: Uint8Array, fin: boolean): Uint8Array {
  const length = payload.byteLength;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = new Uint8Array(2 + lengthBytes + 4 + length);
  const view = new DataView(frame.buffer);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (lengthBytes === 0) frame[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, length);
  } else {
    frame[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(length));
  }
  const maskAt = 2 + lengthBytes;
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, maskAt);
  for (let index = 0; index < length; index++) {
    frame[maskAt + 4 + index] = payload[index] ^ mask[index & 3];
  }
  return frame;
}

// An unmasked server frame at `offset`, or undefined when it has not fully arrived.
function parseFrame(
  bytes: Uint8Array,
  offset: number,
): { opcode: number; payload: Uint8Array; end: number; size: number } | undefined {
  if (bytes.byteLength - offset < 2) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const opcode = bytes[offset] & 0x0f;
  let length = bytes[offset + 1] & 0x7f;
  let at = offset + 2;
  if (length === 126) {
    if (bytes.byteLength - at < 2) return undefined;
    length = view.getUint16(at);
    at += 2;
  } else if (length === 127) {
    if (bytes.byteLength - at < 8) return undefined;
    length = Number(view.getBigUint64(at));
    at += 8;
  }
  if (bytes.byteLength - at < length) return undefined;
  return {
    opcode,
    payload: bytes.slice(at, at + length),
    end: at + length,
    size: at + length - offset,
  };
}

const codec = createMessageCodec();

/** The wslink frames of one envelope, at most `frameSize` bytes each (0: one frame). */
export function wslinkFrames(envelope: Record<string, unknown>, frameSize = 0): Uint8Array[] {
  return [...generateChunks(codec.encode(envelope), frameSize)];
}

/** The envelope a single-frame wslink message carries. */
export function envelopeOf(frame: RawFrame): Record<string, unknown> {
  return codec.decode(frame.payload.subarray(HEADER_LENGTH)) as Record<string, unknown>;
}

/** Sends `wslink.hello` with `secret` and returns the reply (the next message). */
export async function helloOver(
  socket: RawSocket,
  secret = "wslink-secret",
): Promise<Record<string, unknown>> {
  const before = socket.messageCount;
  for (const frame of wslinkFrames(helloEnvelope(secret))) socket.send(frame);
  await socket.received(before + 1);
  return envelopeOf(socket.messages[socket.messages.length - 1]);
}

/** A `wslink.hello` envelope. */
export function helloEnvelope(secret: string): Record<string, unknown> {
  return {
    wslink: "1.0",
    id: "system:c0:0",
    method: "wslink.hello",
    args: [{ secret }],
    kwargs: {},
  };
}

/** Sends a call with no reply awaited. */
export function callOver(socket: RawSocket, method: string, args: unknown[] = [], id = 0): void {
  const envelope = { wslink: "1.0", id: `rpc:c:${id}`, method, args, kwargs: {} };
  for (const frame of wslinkFrames(envelope)) socket.send(frame);
}
