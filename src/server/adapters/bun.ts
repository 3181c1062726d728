// Bun: `Bun.serve` with its built-in WebSocket support. Bun's globals are typed here with the
// few members used, so the file type-checks without Bun's own type package.
import { GuardedSocket } from "./_guard.ts";
import type { Adapter, AdapterSocketHandlers } from "./types.ts";

interface BunSocketData {
  handlers?: AdapterSocketHandlers;
  guarded?: GuardedSocket;
  remoteAddress?: string;
  // Frames waiting for Bun's send buffer to drain, in order, and their bytes.
  queue?: Uint8Array[];
  queuedBytes?: number;
}

interface BunSocket {
  data: BunSocketData;
  readonly readyState: number;
  send(data: Uint8Array, compress?: boolean): number;
  getBufferedAmount(): number;
  ping(data: Uint8Array): number;
  terminate(): void;
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
    backpressureLimit: number;
    idleTimeout: number;
    sendPings: boolean;
    pong(socket: BunSocket, data: Uint8Array): void;
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

// What `send` returns when the frame was not taken at all.
const DROPPED = 0;

// Bun's readyState for an open socket.
const OPEN = 1;

// Bun drops a frame (send returns 0) that would take its buffer past `backpressureLimit`, and
// may call `drain` before the buffer is back under it. So a frame is sent only when it fits
// under the limit (or the buffer is empty); the others wait here, in order, for `drain`.
function fits(socket: BunSocket, frame: Uint8Array, limit: number): boolean {
  const buffered = socket.getBufferedAmount();
  return buffered === 0 || buffered + frame.byteLength <= limit;
}

function sendInOrder(socket: BunSocket, frame: Uint8Array, limit: number): void {
  const queue = socket.data.queue;
  if (queue !== undefined) {
    queue.push(frame);
    socket.data.queuedBytes! += frame.byteLength;
    return;
  }
  if (!fits(socket, frame, limit) || socket.send(frame, false) === DROPPED) {
    socket.data.queue = [frame];
    socket.data.queuedBytes = frame.byteLength;
  }
}

function drainQueue(socket: BunSocket, limit: number): void {
  const queue = socket.data.queue;
  if (queue === undefined) return;
  let sent = 0;
  while (sent < queue.length && socket.readyState === 1) {
    const frame = queue[sent];
    if (!fits(socket, frame, limit)) break;
    if (socket.send(frame, false) === DROPPED) {
      // Nothing buffered and still refused: the connection is gone.
      if (socket.getBufferedAmount() === 0) socket.close(1011, "send failed");
      break;
    }
    socket.data.queuedBytes! -= frame.byteLength;
    sent++;
  }
  if (sent === queue.length) socket.data.queue = undefined;
  else queue.splice(0, sent);
}

// Upgrades requests on `path` to WebSocket; 404 elsewhere, 426 for a plain request on `path`.
function upgradeOnPath(request: Request, server: BunServer, path: string): Response | undefined {
  if (new URL(request.url).pathname !== path) return new Response("Not Found", { status: 404 });
  const remoteAddress = server.requestIP(request)?.address;
  if (server.upgrade(request, { data: { remoteAddress } })) return undefined;
  return new Response("Upgrade Required", { status: 426, headers: { upgrade: "websocket" } });
}

/** The Bun adapter. */
export const bunAdapter: Adapter = (options) => {
  const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
  // Room for two whole frames, so one large message streams without waiting on every frame.
  const backpressureLimit = Math.min(
    Math.max(16 * 1024 * 1024, 2 * options.maxFrameSize + 1024 * 1024),
    2 ** 31,
  );
  const server = bun.serve({
    hostname: options.hostname,
    port: options.port,
    fetch: (request, server) => upgradeOnPath(request, server, options.path),
    websocket: {
      maxPayloadLength: Math.min(options.maxFrameSize, BUN_MAX_PAYLOAD),
      backpressureLimit,
      // Bun's own idle timer counts in steps of 4 s and takes any pong; the guard pings instead.
      idleTimeout: 0,
      sendPings: false,
      open(socket) {
        const remoteAddress = socket.data.remoteAddress;
        const guarded = new GuardedSocket({
          isOpen: () => socket.readyState === OPEN,
          buffered: () =>
            socket.data.queue === undefined
              ? socket.getBufferedAmount()
              : socket.getBufferedAmount() + socket.data.queuedBytes!,
          write: (frame) => sendInOrder(socket, frame, backpressureLimit),
          close: (code, reason) => socket.close(code, reason),
          ping: (payload) => socket.ping(payload) !== DROPPED,
          terminate: () => socket.terminate(),
        }, { ...options, remoteAddress });
        socket.data.guarded = guarded;
        socket.data.handlers = options.open(guarded, remoteAddress);
        guarded.attach(socket.data.handlers);
      },
      message(socket, message) {
        // Bun hands over a Buffer; decoded binaries should be plain Uint8Arrays everywhere.
        const data = typeof message === "string"
          ? message
          : new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
        socket.data.handlers?.message(data);
      },
      pong(socket, data) {
        socket.data.guarded?.pong(data);
      },
      drain(socket) {
        drainQueue(socket, backpressureLimit);
      },
      close(socket, code, reason) {
        socket.data.queue = undefined;
        socket.data.guarded?.closed(code, reason);
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
