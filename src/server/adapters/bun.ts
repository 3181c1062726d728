// Bun: `Bun.serve` with its built-in WebSocket support. Bun's globals are typed here with the
// few members used, so the file type-checks without Bun's own type package.
import type { Adapter, AdapterSocketHandlers } from "./types.ts";

interface BunSocketData {
  handlers?: AdapterSocketHandlers;
  remoteAddress?: string;
  // Frames waiting for Bun's send buffer to drain, in order.
  queue?: Uint8Array[];
}

interface BunSocket {
  data: BunSocketData;
  readonly readyState: number;
  send(data: Uint8Array, compress?: boolean): number;
  close(code?: number, reason?: string): void;
}

interface BunServer {
  readonly port: number;
  upgrade(request: Request, options: { data: BunSocket["data"] }): boolean;
  requestIP(request: Request): { address: string } | null;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

interface BunServeOptions {
  hostname: string;
  port: number;
  fetch(request: Request, server: BunServer): Response | undefined;
  websocket: {
    maxPayloadLength: number;
    open(socket: BunSocket): void;
    message(socket: BunSocket, message: string | Uint8Array): void;
    drain(socket: BunSocket): void;
    close(socket: BunSocket, code: number, reason: string): void;
  };
}

interface BunGlobal {
  serve(options: BunServeOptions): BunServer;
}

// Bun's own default is 16 MiB; its limit is a 32-bit length.
const BUN_MAX_PAYLOAD = 2 ** 32 - 1;

// What `send` returns: -1 when the frame was buffered under backpressure, 0 when it was dropped.
const SENT_UNDER_BACKPRESSURE = -1;
const DROPPED = 0;

// Bun drops frames sent while its buffer is over the backpressure limit instead of queuing
// them, so once a send reports backpressure the rest wait here until Bun calls `drain`.
function sendInOrder(socket: BunSocket, frame: Uint8Array): void {
  const queue = socket.data.queue;
  if (queue !== undefined) {
    queue.push(frame);
    return;
  }
  const status = socket.send(frame, false);
  if (status === SENT_UNDER_BACKPRESSURE) socket.data.queue = [];
  else if (status === DROPPED) socket.close(1011, "send failed");
}

function drainQueue(socket: BunSocket): void {
  const queue = socket.data.queue;
  if (queue === undefined) return;
  let index = 0;
  while (index < queue.length && socket.readyState === 1) {
    const status = socket.send(queue[index++], false);
    if (status === DROPPED) {
      socket.close(1011, "send failed");
      return;
    }
    if (status === SENT_UNDER_BACKPRESSURE) {
      queue.splice(0, index);
      return;
    }
  }
  socket.data.queue = undefined;
}

/** The Bun adapter. */
export const bunAdapter: Adapter = (options) => {
  const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
  const server = bun.serve({
    hostname: options.hostname,
    port: options.port,
    fetch(request, server) {
      if (new URL(request.url).pathname !== options.path) {
        return new Response("Not Found", { status: 404 });
      }
      const remoteAddress = server.requestIP(request)?.address;
      if (server.upgrade(request, { data: { remoteAddress } })) return undefined;
      return new Response("Upgrade Required", { status: 426, headers: { upgrade: "websocket" } });
    },
    websocket: {
      maxPayloadLength: Math.min(options.maxFrameSize, BUN_MAX_PAYLOAD),
      open(socket) {
        socket.data.handlers = options.open({
          send(frame) {
            if (socket.readyState === 1) sendInOrder(socket, frame);
          },
          close(code, reason) {
            if (socket.readyState === 1) socket.close(code, reason);
          },
        }, socket.data.remoteAddress);
      },
      message(socket, message) {
        socket.data.handlers?.message(message);
      },
      drain(socket) {
        drainQueue(socket);
      },
      close(socket, code, reason) {
        socket.data.queue = undefined;
        socket.data.handlers?.close(code, reason);
      },
    },
  });
  return Promise.resolve({
    port: server.port,
    close: async () => {
      await server.stop(true);
    },
  });
};
