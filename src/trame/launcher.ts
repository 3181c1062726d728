/**
 * The trame launcher ("session manager") handshake: POST the client's config as JSON to
 * `sessionManagerURL`; the reply extends the config with at least `sessionURL` (the ws:// or
 * wss:// URL to open) and usually a one-time `secret`.
 * @module
 */

/** A connection config, as trame and ParaView Web launchers exchange it. */
export interface TrameConnectionConfig {
  /** The WebSocket URL to open. With it, no launcher is asked. */
  sessionURL?: string;
  /** The launcher to POST this config to when there is no `sessionURL`. */
  sessionManagerURL?: string;
  /** The wslink secret (the launcher usually hands out a one-time one). */
  secret?: string;
  /** Anything else the launcher wants (application name, …), sent as-is. */
  [key: string]: unknown;
}

/** Options for {@link launch}. */
export type LaunchOptions = Readonly<
  Partial<{
    /**
     * Delays in milliseconds before each retry when the launcher answers HTTP 503 (busy).
     * Default `[1000, 2000, 4000]`: three retries. `[]` means no retry.
     */
    retryDelays: readonly number[];
    /** Aborts the launch (pending request and waits). */
    signal: AbortSignal;
    /** The `fetch` to use. Default: the global one. */
    fetch: typeof fetch;
  }>
>;

/** The launcher could not give a session: names the URL and, where there was one, the status. */
export class LauncherError extends Error {
  /** The launcher URL that failed. */
  readonly url: string;
  /** The HTTP status of the last reply, or `undefined` when no reply came. */
  readonly status: number | undefined;

  /** Makes the error for the launcher at `url`, with the last HTTP `status` if any. */
  constructor(url: string, status: number | undefined, detail: string, options?: ErrorOptions) {
    super(`launcher ${url} failed: ${detail}`, options);
    this.name = "LauncherError";
    this.url = url;
    this.status = status;
  }
}

const DEFAULT_RETRY_DELAYS: readonly number[] = [1000, 2000, 4000];

/**
 * Resolves a config to one with a `sessionURL`: returns it unchanged when it has one, else asks
 * the launcher at `sessionManagerURL` and merges its reply into the config.
 *
 * @example
 * ```ts ignore
 * import { launch } from "@trame-wire/client";
 * const config = await launch({ sessionManagerURL: "http://127.0.0.1:9000/paraview", app: "cone" });
 * console.log(config.sessionURL, config.secret);
 * ```
 */
export async function launch(
  config: TrameConnectionConfig,
  options: LaunchOptions = {},
): Promise<TrameConnectionConfig & { sessionURL: string }> {
  if (typeof config.sessionURL === "string") {
    return config as TrameConnectionConfig & { sessionURL: string };
  }
  const url = config.sessionManagerURL;
  if (typeof url !== "string") {
    throw new TypeError("a connection config needs a sessionURL or a sessionManagerURL");
  }
  const retryDelays = options.retryDelays ?? DEFAULT_RETRY_DELAYS;
  const fetchFunction = options.fetch ?? globalThis.fetch;
  for (let attempt = 0;; attempt++) {
    let response: Response;
    try {
      response = await fetchFunction(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(config),
        signal: options.signal,
      });
    } catch (error) {
      throw new LauncherError(url, undefined, `no reply (${describe(error)})`, { cause: error });
    }
    if (response.status === 503 && attempt < retryDelays.length) {
      await response.body?.cancel();
      await sleep(retryDelays[attempt], options.signal, url);
      continue;
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      throw new LauncherError(
        url,
        response.status,
        `HTTP ${response.status}${attempt > 0 ? ` after ${attempt + 1} attempts` : ""}${
          text ? `: ${text.slice(0, 200)}` : ""
        }`,
      );
    }
    let reply: unknown;
    try {
      reply = await response.json();
    } catch (error) {
      throw new LauncherError(url, response.status, "the reply is not JSON", { cause: error });
    }
    if (reply === null || typeof reply !== "object" || Array.isArray(reply)) {
      throw new LauncherError(url, response.status, "the reply is not a JSON object");
    }
    const merged: TrameConnectionConfig = { ...config, ...reply };
    if (typeof merged.sessionURL !== "string") {
      throw new LauncherError(url, response.status, "the reply has no sessionURL");
    }
    return merged as TrameConnectionConfig & { sessionURL: string };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(milliseconds: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new LauncherError(url, 503, "aborted", { cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(
        new LauncherError(url, 503, "aborted while waiting to retry", { cause: signal?.reason }),
      );
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, milliseconds);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
