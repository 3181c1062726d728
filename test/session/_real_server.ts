// A minimal scripted wslink server on 127.0.0.1 (port 0) for the end-to-end tests, on whichever
// runtime runs them: Deno.serve, Bun.serve, or the `ws` package under Node. Test-only; it gives
// way to the embedded server (src/server/) once that exists.
import { generateChunks } from "../../mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { reassembler } from "./_fake_socket.ts";

/** The server end of one connection. */
export interface ServerConnection {
  /** Sends a binary frame, or a text frame for a string. */
  send(frame: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
}

export interface RealServer {
  readonly url: string;
  /** The largest frame any client sent. */
  readonly largestFrame: number;
  close(): Promise<void>;
}

type Message = Record<string, unknown>;
export type Transport = (
  onConnection: (connection: ServerConnection) => (frame: Uint8Array) => void,
) => Promise<{ port: number; close(): Promise<void> }>;

/** Starts a server that speaks enough wslink for a round trip; frames are at most maxMsgSize. */
export async function startWslinkServer(maxMsgSize = 1000): Promise<RealServer> {
  let largestFrame = 0;
  const transport = await selectTransport();
  const server = await transport((connection) => {
    const codec = createMessageCodec();
    const send = (value: unknown) => {
      for (const frame of generateChunks(codec.encode(value), maxMsgSize)) connection.send(frame);
    };
    const assemble = reassembler((bytes) => {
      const message = codec.decode(bytes) as Message;
      const { id, method } = message;
      const args = message.args as unknown[];
      if (method === "wslink.hello") {
        return send({ wslink: "1.0", id, result: { clientID: "c7", maxMsgSize } });
      }
      if (method === "add") {
        return send({ wslink: "1.0", id, result: (args as number[]).reduce((a, b) => a + b, 0) });
      }
      if (method === "echo") return send({ wslink: "1.0", id, result: args });
      if (method === "publish") {
        send({ wslink: "1.0", id, result: true });
        return send({ wslink: "1.0", id: `publish:${args[0]}:0`, result: args[1] });
      }
      if (method === "hang-up") return connection.close(4001, "asked to hang up");
      send({
        wslink: "1.0",
        id,
        error: { code: -32601, message: "Unregistered method called", data: method },
      });
    });
    return (frame) => {
      largestFrame = Math.max(largestFrame, frame.byteLength);
      assemble(frame);
    };
  });
  return {
    url: `ws://127.0.0.1:${server.port}/ws`,
    get largestFrame() {
      return largestFrame;
    },
    close: server.close,
  };
}

interface DenoServerSocket {
  binaryType: string;
  onopen: (() => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
}

interface RuntimeGlobals {
  Deno?: {
    serve(
      options: { hostname: string; port: number; onListen(): void },
      handler: (request: Request) => Response,
    ): { addr: { port: number }; shutdown(): Promise<void> };
    upgradeWebSocket(request: Request): { socket: DenoServerSocket; response: Response };
  };
  Bun?: {
    serve(options: unknown): { port: number; stop(force: boolean): Promise<void> | void };
  };
}

export async function selectTransport(): Promise<Transport> {
  const runtime = globalThis as RuntimeGlobals;
  if (runtime.Deno) return denoTransport(runtime.Deno);
  if (runtime.Bun) return bunTransport(runtime.Bun);
  return await nodeTransport();
}

function denoTransport(deno: NonNullable<RuntimeGlobals["Deno"]>): Transport {
  return (onConnection) => {
    const sockets = new Set<DenoServerSocket>();
    const server = deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      const { socket, response } = deno.upgradeWebSocket(request);
      socket.binaryType = "arraybuffer";
      sockets.add(socket);
      socket.onopen = () => {
        const onFrame = onConnection({
          send: (frame) => socket.send(frame),
          close: (code, reason) => socket.close(code, reason),
        });
        socket.onmessage = (event) => onFrame(new Uint8Array(event.data as ArrayBuffer));
      };
      return response;
    });
    return Promise.resolve({
      port: server.addr.port,
      close: async () => {
        for (const socket of sockets) socket.close();
        await server.shutdown();
      },
    });
  };
}

interface BunSocket {
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
}

function bunTransport(bun: NonNullable<RuntimeGlobals["Bun"]>): Transport {
  return (onConnection) => {
    const handlers = new Map<BunSocket, (frame: Uint8Array) => void>();
    const server = bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request: Request, server: { upgrade(request: Request): boolean }) {
        return server.upgrade(request)
          ? undefined
          : new Response("WebSocket only", { status: 400 });
      },
      websocket: {
        open(socket: BunSocket) {
          handlers.set(
            socket,
            onConnection({
              send: (frame) => socket.send(frame),
              close: (code, reason) => socket.close(code, reason),
            }),
          );
        },
        message(socket: BunSocket, data: Uint8Array | string) {
          if (typeof data !== "string") handlers.get(socket)?.(new Uint8Array(data));
        },
        close(socket: BunSocket) {
          handlers.delete(socket);
        },
      },
    });
    return Promise.resolve({ port: server.port, close: async () => await server.stop(true) });
  };
}

async function nodeTransport(): Promise<Transport> {
  const { WebSocketServer } = await import("ws");
  return (onConnection) =>
    new Promise((resolve, reject) => {
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
      server.on("error", reject);
      server.on("connection", (socket) => {
        const onFrame = onConnection({
          send: (frame) => socket.send(frame),
          close: (code, reason) => socket.close(code, reason),
        });
        socket.on("message", (data: Uint8Array, isBinary: boolean) => {
          if (isBinary) onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        });
      });
      server.on("listening", () => {
        const address = server.address();
        resolve({
          port: typeof address === "object" && address !== null ? address.port : 0,
          close: () =>
            new Promise<void>((done) => {
              for (const client of server.clients) client.terminate();
              server.close(() => done());
            }),
        });
      });
    });
}
