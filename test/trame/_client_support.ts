// Helpers of the TrameClient tests: a quiet embedded server, a record of the state updates the
// server receives, and bounded waits that leave no timer behind.
import { serve, type ServeOptions, type TrameServer } from "../../src/server/mod.ts";
export { within } from "../_support.ts";

/** Polls `predicate` every few milliseconds until it holds; throws after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 3000,
  what = "a condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(5);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A server on 127.0.0.1 (port 0 unless given) whose log lines are kept, not printed. */
export async function quietServer(
  options: ServeOptions = {},
): Promise<{ server: TrameServer; logs: string[] }> {
  const logs: string[] = [];
  const server = await serve({
    ...options,
    log: (level, message) => logs.push(`${level}: ${message}`),
  });
  return { server, logs };
}

/**
 * Records every `trame.state.update` the server receives, as the `{key: value}` map it applies:
 * the server's handler hands each update to `state.applyRemote` exactly once, so wrapping that
 * method sees each received update, even one that changes nothing.
 */
export function recordUpdates(server: TrameServer): Record<string, unknown>[] {
  const received: Record<string, unknown>[] = [];
  const state = server.state;
  const applyRemote = state.applyRemote.bind(state);
  state.applyRemote = (values) => {
    received.push({ ...values });
    applyRemote(values);
  };
  return received;
}

/** The bytes of a 0..255 counting pattern, offset by `seed`. */
export function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 31 + seed) & 0xff;
  return bytes;
}
