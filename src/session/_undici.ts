// Node's standard WebSocket is undici's, and it keeps two things to itself: why a connection failed
// (its error event has an empty message whether the port was closed or the server answered 404)
// and its TCP socket (there is no `terminate()`, and a close the server never answers keeps the
// process alive). undici's diagnostics channels, a documented interface of undici, say both: the
// request a WebSocket makes is published synchronously while its constructor runs, and later
// events about that request (its socket, the status of its response, its error) name the same
// request object. Nothing here runs outside Node.
import { currentRuntime } from "../util/runtime.ts";

/** What undici said about one WebSocket's connection. */
export interface UndiciTrace {
  /** The TCP (or TLS) socket under the WebSocket, once the upgrade request was written. */
  readonly socket: { destroy(): void } | undefined;
  /** The network error of the upgrade request (`connect ECONNREFUSED …`), with its `code`. */
  readonly error: { readonly message: string; readonly code?: string } | undefined;
  /** The HTTP status the server answered the upgrade with, when it was not 101. */
  readonly status: { readonly code: number; readonly text: string } | undefined;
  /** Stops following the connection (it opened or failed): the later events are not needed. */
  settle(): void;
}

interface MutableTrace extends UndiciTrace {
  socket: { destroy(): void } | undefined;
  error: { message: string; code?: string } | undefined;
  status: { code: number; text: string } | undefined;
}

interface Channel {
  subscribe(listener: (message: unknown) => void): void;
  unsubscribe(listener: (message: unknown) => void): boolean;
}

interface DiagnosticsChannels {
  channel(name: string): Channel;
}

interface Published {
  readonly request?: object;
  readonly socket?: { destroy(): void };
  readonly error?: { message?: unknown; code?: unknown };
  readonly response?: { statusCode?: unknown; statusText?: unknown };
}

// Connections being followed, by their undici request object.
const following = new Map<object, MutableTrace>();

const listeners: [string, (message: unknown) => void][] = [
  ["undici:client:sendHeaders", (message) => {
    const { request, socket } = message as Published;
    const trace = request && following.get(request);
    if (trace !== undefined && socket !== undefined) trace.socket = socket;
  }],
  ["undici:request:headers", (message) => {
    const { request, response } = message as Published;
    const trace = request && following.get(request);
    const code = Number(response?.statusCode);
    if (trace !== undefined && code !== 101 && Number.isInteger(code)) {
      trace.status = { code, text: String(response?.statusText ?? "") };
    }
  }],
  ["undici:request:error", (message) => {
    const { request, error } = message as Published;
    const trace = request && following.get(request);
    if (trace === undefined || error === undefined) return;
    const code = typeof error.code === "string" ? error.code : undefined;
    trace.error = { message: String(error.message ?? error), ...(code ? { code } : {}) };
  }],
];

let channels: DiagnosticsChannels | null | undefined;

function diagnosticsChannels(): DiagnosticsChannels | undefined {
  if (channels === undefined) {
    channels = null;
    if (currentRuntime() === "node") {
      try {
        const process = (globalThis as {
          process?: { getBuiltinModule?: (name: string) => unknown };
        }).process;
        const module = process?.getBuiltinModule?.("node:diagnostics_channel");
        if (typeof (module as DiagnosticsChannels | undefined)?.channel === "function") {
          channels = module as DiagnosticsChannels;
        }
      } catch {
        // No diagnostics channels: the WebSocket is used as it is.
      }
    }
  }
  return channels ?? undefined;
}

/**
 * Runs `create` (which makes a WebSocket) and, when it is undici's, follows its connection until
 * {@link UndiciTrace.settle}. Elsewhere (Deno, Bun, browsers, the `ws` package) the trace is
 * `undefined`. The channels are listened to only while some connection is being followed.
 */
export function traceUndiciWebSocket<W>(create: () => W): { socket: W; trace?: UndiciTrace } {
  const diagnostics = diagnosticsChannels();
  if (diagnostics === undefined) return { socket: create() };
  let request: object | undefined;
  const onCreate = (message: unknown) => {
    request = (message as Published).request ?? request;
  };
  const created = diagnostics.channel("undici:request:create");
  created.subscribe(onCreate);
  let socket: W;
  try {
    socket = create();
  } finally {
    created.unsubscribe(onCreate);
  }
  if (request === undefined) return { socket };
  const key = request;
  const trace: MutableTrace = {
    socket: undefined,
    error: undefined,
    status: undefined,
    settle: () => {
      if (!following.delete(key) || following.size > 0) return;
      for (const [name, listener] of listeners) diagnostics.channel(name).unsubscribe(listener);
    },
  };
  if (following.size === 0) {
    for (const [name, listener] of listeners) diagnostics.channel(name).subscribe(listener);
  }
  following.set(key, trace);
  return { socket, trace };
}
