// Reads one environment variable through whichever runtime API exists, without ever throwing or
// prompting: no environment (browsers), a denied permission (Deno) and odd hosts all read as unset.

interface RuntimeGlobals {
  Deno?: {
    env?: { get(name: string): string | undefined };
    permissions?: { querySync?(descriptor: { name: "env"; variable: string }): { state: string } };
  };
  Bun?: { env?: Record<string, string | undefined> };
  process?: { env?: Record<string, string | undefined> };
}

/** The value of the environment variable `name`, or `undefined` when unset or unreadable. */
export function readEnvironmentVariable(name: string): string | undefined {
  const runtime = globalThis as RuntimeGlobals;
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
