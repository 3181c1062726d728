// What this code runs on, judged once from the runtime's globals, and the few runtime services
// that differ between Deno, Bun, Node and browsers: environment variables and unref'd timers.
// Internal: nothing here is part of the public API.

/** A runtime with a WebSocket server the embedded server can use. */
export type ServerRuntimeName = "deno" | "bun" | "node";

interface RuntimeGlobals {
  Deno?: {
    upgradeWebSocket?: unknown;
    env?: { get(name: string): string | undefined };
    permissions?: { querySync?(descriptor: { name: "env"; variable: string }): { state: string } };
    unrefTimer?: (id: number) => void;
  };
  Bun?: { serve?: unknown; env?: Record<string, string | undefined> };
  process?: { versions?: { node?: string }; env?: Record<string, string | undefined> };
}

const runtime = globalThis as RuntimeGlobals;

/**
 * The server-capable runtime this code runs on: Deno, then Bun, then Node (Deno and Bun also
 * define `process`, so the order matters); `undefined` elsewhere (a browser, a worker).
 */
export function currentRuntime(): ServerRuntimeName | undefined {
  if (typeof runtime.Deno?.upgradeWebSocket === "function") return "deno";
  if (typeof runtime.Bun?.serve === "function") return "bun";
  if (typeof runtime.process?.versions?.node === "string") return "node";
  return undefined;
}

/**
 * The value of the environment variable `name`, or `undefined` when unset or unreadable. Never
 * throws or prompts: no environment (browsers), a denied permission (Deno) and odd hosts all
 * read as unset.
 */
export function readEnvironmentVariable(name: string): string | undefined {
  try {
    if (runtime.Deno?.env !== undefined) {
      // Ask first: reading an env var that is not granted would prompt on a terminal.
      const permission = runtime.Deno.permissions?.querySync?.({ name: "env", variable: name });
      if (permission !== undefined && permission.state !== "granted") return undefined;
      return runtime.Deno.env.get(name);
    }
    if (runtime.Bun?.env !== undefined) return runtime.Bun.env[name];
    return runtime.process?.env?.[name];
  } catch {
    return undefined;
  }
}

/** `timer`, made not to keep the process alive (Node and Bun: `unref()`; Deno: `unrefTimer`). */
export function unrefTimer<T>(timer: T): T {
  if (typeof timer === "number") runtime.Deno?.unrefTimer?.(timer);
  else (timer as { unref?: () => void }).unref?.();
  return timer;
}
