// Helpers of the reliability tests: unhandled-rejection watch, a timer census, typed-error checks.
import assert from "node:assert/strict";
import { WslinkError } from "../../mod.ts";
export { withTimerCensus } from "../_support.ts";

interface ProcessLike {
  on(event: string, listener: (reason: unknown) => void): void;
  off(event: string, listener: (reason: unknown) => void): void;
}

/**
 * Records unhandled rejections while `body` runs (where the runtime has `process.on`), and fails
 * when there was any. A rejection is reported a turn after it happened, so it waits a little.
 */
export async function noUnhandledRejections<T>(body: () => Promise<T>): Promise<T> {
  const process = (globalThis as { process?: ProcessLike }).process;
  const seen: unknown[] = [];
  const listener = (reason: unknown) => void seen.push(reason);
  process?.on("unhandledRejection", listener);
  try {
    const result = await body();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(seen, [], "unhandled rejections");
    return result;
  } finally {
    process?.off("unhandledRejection", listener);
  }
}

/** Asserts `error` is a WslinkError -32099 whose `data.kind` is `kind`. */
export function assertClientError(error: unknown, kind: string): WslinkError {
  assert.ok(error instanceof WslinkError, `expected a WslinkError, got ${error}`);
  assert.equal(error.code, -32099, error.message);
  assert.equal((error.data as { kind?: unknown }).kind, kind, error.message);
  return error;
}

/** Settles every promise; returns what each did. */
export function settleAll<T>(promises: Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(promises);
}
