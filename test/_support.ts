// Helpers shared by test suites of several areas.
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { WebSocketConstructor } from "../mod.ts";

/** Rejects when `promise` takes more than `ms` milliseconds; clears its timer either way. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Answers one launcher request. */
export type LauncherHandler = (body: unknown, response: ServerResponse) => void;

/** A launcher handler replying `status` with `value` as JSON. */
export const launcherReply = (status: number, value: unknown): LauncherHandler => (_, response) => {
  response.writeHead(status, { "content-type": "application/json", connection: "close" });
  response.end(JSON.stringify(value));
};

/**
 * Runs `body` with a launcher on 127.0.0.1 that answers each POST with the next handler (the
 * last one repeats); `requests` holds the parsed JSON bodies received.
 */
export async function withLauncher(
  handlers: LauncherHandler[],
  body: (url: string, requests: unknown[]) => Promise<void>,
): Promise<void> {
  const requests: unknown[] = [];
  const launcher = createServer((request, response) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => {
      const parsed = JSON.parse(text);
      requests.push(parsed);
      handlers[Math.min(requests.length - 1, handlers.length - 1)](parsed, response);
    });
  });
  await new Promise<void>((resolve) => launcher.listen(0, "127.0.0.1", resolve));
  const { port } = launcher.address() as AddressInfo;
  try {
    await body(`http://127.0.0.1:${port}/launch`, requests);
  } finally {
    launcher.closeAllConnections();
    await new Promise((resolve) => launcher.close(resolve));
  }
}

/**
 * Counts the timers created through the global setTimeout and setInterval, and not yet fired
 * (a timeout) or cleared, while `body` runs; `body` gets a function returning the current count.
 * Runtimes share one id space for both kinds, and either clear function clears either kind.
 */
export async function withTimerCensus<T>(body: (live: () => number) => Promise<T>): Promise<T> {
  const real = {
    setTimeout: globalThis.setTimeout,
    clearTimeout: globalThis.clearTimeout,
    setInterval: globalThis.setInterval,
    clearInterval: globalThis.clearInterval,
  };
  const live = new Set<unknown>();
  globalThis.setTimeout =
    ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const handle: unknown = real.setTimeout(
        (...inner: unknown[]) => {
          live.delete(timerKey(handle));
          callback(...inner);
        },
        ms,
        ...args,
      );
      live.add(timerKey(handle));
      return handle;
    }) as typeof setTimeout;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const handle: unknown = real.setInterval(...args);
    live.add(timerKey(handle));
    return handle;
  }) as typeof setInterval;
  const clear = (realClear: (handle?: never) => void) => (handle?: unknown) => {
    if (handle !== undefined && handle !== null) live.delete(timerKey(handle));
    realClear(handle as never);
  };
  globalThis.clearTimeout = clear(real.clearTimeout) as typeof clearTimeout;
  globalThis.clearInterval = clear(real.clearInterval) as typeof clearInterval;
  try {
    return await body(() => live.size);
  } finally {
    Object.assign(globalThis, real);
  }
}

// A timer handle is a Timeout object that converts to its number id ([Symbol.toPrimitive]) on the
// three runtimes here, a plain number in browsers; the id is what the clear functions match.
function timerKey(handle: unknown): unknown {
  return typeof handle === "object" && handle !== null && Symbol.toPrimitive in handle
    ? Number(handle)
    : handle;
}

/** What went through a session's real socket, seen from the client side. */
export interface Wire {
  /** The runtime's WebSocket, recording: pass it in the session's `WebSocket` option. */
  readonly WebSocket: WebSocketConstructor;
  /** The byte length of every frame sent, in order. */
  readonly sentSizes: number[];
  /** How many frames arrived. */
  readonly received: number;
  /** The largest `bufferedAmount` right after a send: what the socket held unsent. */
  readonly maxBuffered: number;
  /**
   * The largest count of frames sent less frames received. When every message fits in one frame
   * and each call gets one reply, this is the most calls the session had outstanding at once.
   */
  readonly maxOutstanding: number;
}

/** A {@link Wire} over the runtime's own WebSocket. */
export function recordingWire(): Wire {
  const sentSizes: number[] = [];
  let received = 0;
  let maxBuffered = 0;
  let maxOutstanding = 0;
  class RecordingWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      // Added before the session's own listener: counted before the call settles.
      this.addEventListener("message", () => received++);
    }
    override send(data: Parameters<WebSocket["send"]>[0]): void {
      super.send(data);
      sentSizes.push(
        typeof data === "string" ? data.length : data instanceof Blob ? data.size : data.byteLength,
      );
      maxBuffered = Math.max(maxBuffered, this.bufferedAmount);
      maxOutstanding = Math.max(maxOutstanding, sentSizes.length - received);
    }
  }
  return {
    WebSocket: RecordingWebSocket,
    sentSizes,
    get received() {
      return received;
    },
    get maxBuffered() {
      return maxBuffered;
    },
    get maxOutstanding() {
      return maxOutstanding;
    },
  };
}
