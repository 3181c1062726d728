// A WebSocket server written on raw TCP (node:net, on every runtime) that performs the upgrade,
// answers the wslink hello and the methods it is given, and then reads everything but never
// answers a close frame and never closes the connection itself: a peer that does not complete
// the closing handshake, as the Python server does while a handler runs (it reads nothing more
// until the handler returns). Runnable as a program too:
// `RUNTIME test/session/_deaf_server.ts` prints its URL on the first line and runs until killed.
import { createHash } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { generateChunks } from "../../mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { reassembler } from "./_fake_socket.ts";

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;

/** Results by method name; a method without one is never answered, and nothing after it. */
export type DeafServerReplies = Readonly<Record<string, (args: unknown[]) => unknown>>;

export interface DeafServer {
  readonly url: string;
  /** Close frames received (their code), every connection together. */
  readonly closeFrames: number[];
  /** The methods called (the hello included), every connection together. */
  readonly methods: string[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections the client ended (its FIN or reset), not counting those close() destroyed. */
  readonly dropped: number;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

const HELLO_ONLY: DeafServerReplies = {
  "wslink.hello": () => ({ clientID: "d1", maxMsgSize: 0 }),
};

/** Starts the server on 127.0.0.1, port 0; by default it answers the hello and nothing else. */
export async function deafServer(replies: DeafServerReplies = HELLO_ONLY): Promise<DeafServer> {
  const sockets = new Set<Socket>();
  const closeFrames: number[] = [];
  const methods: string[] = [];
  let connections = 0;
  let dropped = 0;
  let closing = false;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    let upgraded = false;
    let busy = false;
    let buffered: Uint8Array = new Uint8Array(0);
    const codec = createMessageCodec();
    const onMessage = reassembler((bytes) => {
      const message = codec.decode(bytes) as Record<string, unknown>;
      const method = String(message.method);
      methods.push(method);
      const answer = replies[method];
      // Busy in a handler that never returns: nothing more is answered.
      if (busy || answer === undefined) {
        busy = true;
        return;
      }
      const args = Array.isArray(message.args) ? message.args : [];
      const reply = { wslink: "1.0", id: message.id, result: answer(args) };
      for (const chunk of generateChunks(codec.encode(reply), 0)) {
        socket.write(frame(OPCODE_BINARY, chunk));
      }
    });
    socket.on("data", (data: Uint8Array) => {
      buffered = concat(buffered, data);
      if (!upgraded) {
        const text = new TextDecoder().decode(buffered);
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        const key = /^sec-websocket-key:\s*(\S+)/im.exec(text)?.[1] ?? "";
        const accept = createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        upgraded = true;
        buffered = buffered.subarray(new TextEncoder().encode(text.slice(0, end + 4)).byteLength);
      }
      for (let parsed = parseFrame(buffered); parsed; parsed = parseFrame(buffered)) {
        buffered = buffered.subarray(parsed.length);
        if (parsed.opcode === OPCODE_CLOSE) {
          const payload = parsed.payload;
          closeFrames.push(payload.byteLength >= 2 ? (payload[0] << 8) | payload[1] : 1005);
        } else if (parsed.opcode === OPCODE_BINARY) onMessage(parsed.payload);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      if (!closing) dropped++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    closeFrames,
    methods,
    get connections() {
      return connections;
    },
    get dropped() {
      return dropped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An unmasked server frame with FIN set. */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.byteLength;
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const bytes = new Uint8Array(head + length);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x80 | opcode;
  if (head === 2) bytes[1] = length;
  else if (head === 4) {
    bytes[1] = 126;
    view.setUint16(2, length);
  } else {
    bytes[1] = 127;
    view.setBigUint64(2, BigInt(length));
  }
  bytes.set(payload, head);
  return bytes;
}

/** The first whole frame in `bytes` (unmasked), or undefined when it is not all there yet. */
function parseFrame(
  bytes: Uint8Array,
): { opcode: number; payload: Uint8Array; length: number } | undefined {
  if (bytes.byteLength < 2) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const masked = (bytes[1] & 0x80) !== 0;
  let length = bytes[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.byteLength < 4) return undefined;
    length = view.getUint16(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.byteLength < 10) return undefined;
    length = Number(view.getBigUint64(2));
    offset = 10;
  }
  const maskOffset = offset;
  if (masked) offset += 4;
  if (bytes.byteLength < offset + length) return undefined;
  const payload = bytes.slice(offset, offset + length);
  if (masked) {
    for (let index = 0; index < length; index++) {
      payload[index] ^= bytes[maskOffset + (index & 3)];
    }
  }
  return { opcode: bytes[0] & 0x0f, payload, length: offset + length };
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  if (head.byteLength === 0) return new Uint8Array(tail);
  const joined = new Uint8Array(head.byteLength + tail.byteLength);
  joined.set(head);
  joined.set(tail, head.byteLength);
  return joined;
}

if (import.meta.main) {
  const server = await deafServer();
  console.log(server.url);
}
