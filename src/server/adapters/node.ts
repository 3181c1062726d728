// Node: `node:http` for HTTP and the `ws` package (an optional dependency, loaded on first use)
// for the sockets. `ws` is typed here with the few members used.
import { createServer } from "node:http";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { TrameServerError } from "../errors.ts";
import type { Adapter } from "./types.ts";

interface WsSocket {
  readonly readyState: number;
  send(data: Uint8Array, options: { binary: boolean }): void;
  close(code?: number, reason?: string): void;
  ping(): void;
  terminate(): void;
  on(event: "pong", listener: () => void): void;
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

// Pings every `seconds`; a socket that has not answered the previous ping by then is dropped.
function startHeartbeat(ws: WsSocket, seconds: number): () => void {
  if (seconds <= 0) return () => {};
  let answered = true;
  ws.on("pong", () => (answered = true));
  const timer = setInterval(() => {
    if (!answered) {
      ws.terminate();
      return;
    }
    answered = false;
    ws.ping();
  }, seconds * 1000);
  return () => clearInterval(timer);
}

/** The Node adapter. */
export const nodeAdapter: Adapter = async (options) => {
  const { WebSocketServer } = await loadWs();
  const wss = new WebSocketServer({
    noServer: true,
    // 0 means no limit for `ws`.
    maxPayload: Number.isFinite(options.maxFrameSize) ? options.maxFrameSize : 0,
  });
  const server = createServer((request, response) => {
    const status = new URL(request.url ?? "/", "http://localhost").pathname === options.path
      ? 426
      : 404;
    response.writeHead(status, status === 426 ? { upgrade: "websocket" } : {});
    response.end(status === 426 ? "Upgrade Required" : "Not Found");
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    if (new URL(request.url ?? "/", "http://localhost").pathname !== options.path) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const handlers = options.open({
        send(frame) {
          if (ws.readyState === 1) ws.send(frame, { binary: true });
        },
        close(code, reason) {
          if (ws.readyState === 1) ws.close(code, reason);
        },
      }, request.socket.remoteAddress);
      ws.on("message", (data, isBinary) => {
        handlers.message(isBinary ? toBytes(data) : new TextDecoder().decode(toBytes(data)));
      });
      const stopHeartbeat = startHeartbeat(ws, options.heartbeat);
      ws.on("close", (code, reason) => {
        stopHeartbeat();
        handlers.close(code, new TextDecoder().decode(reason));
      });
      // `ws` closes the socket after an error (a frame over maxPayload, a protocol violation).
      ws.on("error", () => {});
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
