// Helpers shared by test suites of several areas.
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

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
