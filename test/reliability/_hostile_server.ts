// A real WebSocket server on 127.0.0.1 (port 0) that answers the hello and then does whatever the
// test's script says: the base for fault injection. Deno.serve, Bun.serve or `ws` under Node.
import { generateChunks } from "../../mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { reassembler } from "../session/_fake_socket.ts";
import { selectTransport, type ServerConnection } from "../session/_real_server.ts";

export type Message = Record<string, unknown>;

/** What a script can do on one connection. */
export interface HostilePeer {
  readonly connection: ServerConnection;
  /** Encodes `value`; returns its frames of at most `maxSize` bytes (0: one frame). */
  framesOf(value: unknown, maxSize?: number): Uint8Array[];
  send(value: unknown, maxSize?: number): void;
  /** Sends `bytes` as one message, whatever they hold, in frames of at most `maxSize` bytes. */
  sendBytes(bytes: Uint8Array, maxSize?: number): void;
  reply(id: unknown, result: unknown): void;
}

export interface HostileServer {
  readonly url: string;
  /** Messages received, every connection together. */
  readonly received: Message[];
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * `onMessage` gets every message but the hello; `answerHello: false` leaves the hello unanswered,
 * and `onHello` answers it instead of the usual reply.
 */
export async function hostileServer(
  onMessage: (message: Message, peer: HostilePeer) => void,
  { answerHello = true, onHello = undefined as ((peer: HostilePeer) => void) | undefined } = {},
): Promise<HostileServer> {
  const transport = await selectTransport();
  const received: Message[] = [];
  let connections = 0;
  const server = await transport((connection) => {
    connections++;
    const codec = createMessageCodec();
    const peer: HostilePeer = {
      connection,
      framesOf: (value, maxSize = 0) => [...generateChunks(codec.encode(value), maxSize)],
      send: (value, maxSize = 0) => peer.sendBytes(codec.encode(value), maxSize),
      sendBytes: (bytes, maxSize = 0) => {
        for (const frame of generateChunks(bytes, maxSize)) connection.send(frame);
      },
      reply: (id, result) => peer.send({ wslink: "1.0", id, result }),
    };
    return reassembler((bytes) => {
      const message = codec.decode(bytes) as Message;
      if (message.method === "wslink.hello") {
        if (onHello !== undefined) onHello(peer);
        else if (answerHello) peer.reply(message.id, { clientID: "c9", maxMsgSize: 0 });
        return;
      }
      received.push(message);
      onMessage(message, peer);
    });
  });
  return {
    url: `ws://127.0.0.1:${server.port}/ws`,
    received,
    get connections() {
      return connections;
    },
    close: server.close,
  };
}
