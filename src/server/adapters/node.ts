// Node: `node:http` for HTTP and the `ws` package (an optional dependency, loaded on first use)
// for the sockets. `ws` is typed here with the few members used.
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { TrameServerError } from "../errors.ts";
import { GuardedSocket } from "./_guard.ts";
import type { Adapter, AdapterOptions } from "./types.ts";

// `ws`'s readyState for an open socket.
const OPEN = 1;

interface WsSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array, options: { binary: boolean }): void;
  close(code?: number, reason?: string): void;
  ping(data: Uint8Array): void;
  terminate(): void;
  on(event: "pong", listener: (data: Uint8Array) => void): void;
  on(event: "message", listener: (data: WsData, isBinary: boolean) => void): void;
  on(event: "close", listener: (code: number, reason: Uint8Array) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
}

type WsData = Uint8Array | ArrayBuffer | Uint8Array[];

interface WsServer {
  handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Uint8Array,
    callback: (socket: WsSocket) => void,
  ): void;
  close(callback?: () => void): void;
  readonly clients: Set<WsSocket>;
}

interface WsModule {
  WebSocketServer: new (options: { noServer: true; maxPayload: number }) => WsServer;
}

async function loadWs(): Promise<WsModule> {
  try {
    // A literal specifier, so that `deno publish` can map it to the package's `ws` dependency;
    // the optional dependency is loaded only here, on first use under Node.
    const module = await import("ws") as unknown as WsModule & { default?: WsModule };
    return module.WebSocketServer ? module : module.default!;
  } catch (error) {
    throw new TrameServerError(
      "missing-dependency",
      'the Node adapter needs the optional "ws" package: npm install ws',
      { cause: error },
    );
  }
}

function toBytes(data: WsData): Uint8Array {
  if (Array.isArray(data)) {
    const total = data.reduce((sum, part) => sum + part.byteLength, 0);
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const part of data) {
      bytes.set(part, offset);
      offset += part.byteLength;
    }
    return bytes;
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Answers plain HTTP requests: 426 on the WebSocket path, 404 elsewhere. */
function answerPlainRequest(path: string) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const status = new URL(request.url ?? "/", "http://localhost").pathname === path ? 426 : 404;
    response.writeHead(status, status === 426 ? { upgrade: "websocket" } : {});
    response.end(status === 426 ? "Upgrade Required" : "Not Found");
  };
}

/** Wraps one upgraded `ws` socket in the shared guard and wires its events to the core. */
function acceptSocket(ws: WsSocket, request: IncomingMessage, options: AdapterOptions): void {
  const remoteAddress = request.socket.remoteAddress;
  const guarded = new GuardedSocket({
    isOpen: () => ws.readyState === OPEN,
    buffered: () => ws.bufferedAmount,
    write: (frame) => ws.send(frame, { binary: true }),
    close: (code, reason) => ws.close(code, reason),
    ping: (payload) => {
      ws.ping(payload);
      return true;
    },
    terminate: () => ws.terminate(),
  }, { ...options, remoteAddress });
  const handlers = options.open(guarded, remoteAddress);
  guarded.attach(handlers);
  ws.on("message", (data, isBinary) => {
    handlers.message(isBinary ? toBytes(data) : new TextDecoder().decode(toBytes(data)));
  });
  ws.on("pong", (data) => guarded.pong(data));
  ws.on("close", (code, reason) => guarded.closed(code, new TextDecoder().decode(reason)));
  // `ws` closes the socket after an error (a frame over maxPayload, a protocol violation).
  ws.on("error", () => {});
}

function listen(server: Server, options: AdapterOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** The Node adapter. */
export const nodeAdapter: Adapter = async (options) => {
  const { WebSocketServer } = await loadWs();
  const wss = new WebSocketServer({
    noServer: true,
    // 0 means no limit for `ws`.
    maxPayload: Number.isFinite(options.maxFrameSize) ? options.maxFrameSize : 0,
  });
  const server = createServer(answerPlainRequest(options.path));
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    if (new URL(request.url ?? "/", "http://localhost").pathname !== options.path) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => acceptSocket(ws, request, options));
  });
  await listen(server, options);
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        // Sockets whose closing handshake is still pending (peers that do not read) are cut:
        // the HTTP server waits for them otherwise.
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
