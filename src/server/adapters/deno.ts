// Deno: `Deno.serve` for HTTP, `Deno.upgradeWebSocket` for the sockets. Deno enforces no
// message size limit of its own here; the core checks every frame.
import type { Adapter, AdapterSocketHandlers } from "./types.ts";

/** The Deno adapter. */
export const denoAdapter: Adapter = (options) => {
  let resolveListening!: (port: number) => void;
  const listening = new Promise<number>((resolve) => resolveListening = resolve);
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: ({ port }) => resolveListening(port),
  }, (request, info) => {
    if (new URL(request.url).pathname !== options.path) {
      return new Response("Not Found", { status: 404 });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Upgrade Required", { status: 426, headers: { upgrade: "websocket" } });
    }
    // Read before the upgrade: the request is gone after it.
    const remote = info.remoteAddr as Deno.NetAddr;
    // Deno pings every idleTimeout seconds and closes a socket whose pong does not come back.
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: options.heartbeat,
    });
    socket.binaryType = "arraybuffer";
    let handlers: AdapterSocketHandlers | undefined;
    socket.onopen = () => {
      handlers = options.open({
        send(frame) {
          if (socket.readyState === WebSocket.OPEN) socket.send(frame);
        },
        close(code, reason) {
          if (socket.readyState >= WebSocket.CLOSING) return;
          try {
            socket.close(code, reason);
          } catch {
            // The WebSocket API accepts only 1000 and 3000-4999 from this side.
            socket.close(1000, reason);
          }
        },
      }, remote.hostname);
    };
    socket.onmessage = (event: MessageEvent) => {
      const data = event.data;
      handlers?.message(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
    };
    socket.onclose = (event: CloseEvent) => handlers?.close(event.code, event.reason);
    // Errors are followed by a close event; nothing else to do.
    socket.onerror = () => {};
    return response;
  });
  return listening.then((port) => ({
    port,
    close: () => server.shutdown(),
  }));
};
