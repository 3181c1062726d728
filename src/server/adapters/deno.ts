// Deno: `Deno.serve` for HTTP, `Deno.upgradeWebSocket` for the sockets. Deno enforces no
// message size limit of its own here; the core checks every frame.
//
// Two things Deno does not let code do (measured on Deno 2.9.6): ping or see pongs, and cut a
// connection. Its idle timeout pings with an empty payload after idleTimeout / 2 seconds without
// a frame from the peer, and any frame resets it, an unsolicited pong included. A close frame
// waits behind the data queued for a peer that does not read; Deno drops the connection only if
// the peer sends a frame meanwhile. The guard covers both where it matters: a peer that reads
// none of what waits for it for a heartbeat is reported closed and nothing more is queued for it;
// what Deno already holds for it (at most the send budget plus one message) stays until the peer
// reads, sends, or its TCP connection ends.
import { GuardedSocket } from "./_guard.ts";
import type { Adapter, AdapterOptions, AdapterSocketHandlers } from "./types.ts";

// How long to wait before listening again after the accept loop failed (too many open files),
// doubling on each failure in a row up to the maximum.
const RELISTEN_FIRST_MS = 100;
const RELISTEN_MAX_MS = 2_000;
// A listener that lived this long resets the delay.
const RELISTEN_STABLE_MS = 5_000;

function handle(
  options: AdapterOptions,
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
): Response {
  if (new URL(request.url).pathname !== options.path) {
    return new Response("Not Found", { status: 404 });
  }
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("Upgrade Required", { status: 426, headers: { upgrade: "websocket" } });
  }
  // Read before the upgrade: the request is gone after it.
  const remoteAddress = info.remoteAddr.hostname;
  // Deno pings after idleTimeout / 2 seconds without a frame from the peer, and closes (1001)
  // when another idleTimeout / 2 seconds pass without one.
  const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: options.heartbeat });
  socket.binaryType = "arraybuffer";
  let guarded: GuardedSocket | undefined;
  let handlers: AdapterSocketHandlers | undefined;
  // Guarded from its opening: the heartbeat must not take a socket still connecting for one
  // that is closing.
  socket.onopen = () => {
    guarded = new GuardedSocket({
      isOpen: () => socket.readyState === WebSocket.OPEN,
      buffered: () => socket.bufferedAmount,
      write: (frame) => socket.send(frame),
      close(code, reason) {
        try {
          socket.close(code, reason);
        } catch {
          // The WebSocket API's rule for clients (1000 and 3000-4999 only), should Deno apply it.
          socket.close(1000, reason);
        }
      },
    }, { ...options, remoteAddress });
    handlers = options.open(guarded, remoteAddress);
    guarded.attach(handlers);
  };
  socket.onmessage = (event: MessageEvent) => {
    const data = event.data;
    handlers?.message(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
  };
  socket.onclose = (event: CloseEvent) => guarded?.closed(event.code, event.reason);
  // Errors are followed by a close event; nothing else to do.
  socket.onerror = () => {};
  return response;
}

/**
 * The Deno adapter. When the accept loop fails (`Deno.serve` ends on "Too many open files"),
 * it listens again on the same port, after a delay that grows while failures repeat; the
 * sockets already open are not affected.
 */
export const denoAdapter: Adapter = (options) => {
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let port = options.port;
  let closing = false;
  let delay = RELISTEN_FIRST_MS;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let listened = false;
  let resolveListening!: (port: number) => void;
  let rejectListening!: (error: unknown) => void;
  const listening = new Promise<number>((resolve, reject) => {
    resolveListening = resolve;
    rejectListening = reject;
  });

  const listen = () => {
    retry = undefined;
    if (closing) return;
    const started = Date.now();
    try {
      server = Deno.serve({
        hostname: options.hostname,
        port,
        onListen: (address) => {
          port = address.port;
          listened = true;
          resolveListening(port);
        },
      }, (request, info) => handle(options, request, info));
    } catch (error) {
      relistenLater(error, started);
      return;
    }
    server.finished.catch((error) => relistenLater(error, started));
  };

  const relistenLater = (error: unknown, started: number) => {
    server = undefined;
    if (!listened) {
      rejectListening(error); // The first listen: serve() reports why.
      return;
    }
    if (closing) return;
    if (Date.now() - started >= RELISTEN_STABLE_MS) delay = RELISTEN_FIRST_MS;
    options.log("error", `accepting connections failed; listening again in ${delay} ms`, error);
    retry = setTimeout(listen, delay);
    delay = Math.min(delay * 2, RELISTEN_MAX_MS);
  };

  listen();
  return listening.then((port) => ({
    port,
    close: async () => {
      closing = true;
      clearTimeout(retry);
      await server?.shutdown();
    },
  }));
};
