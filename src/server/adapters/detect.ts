import { currentRuntime } from "../../util/runtime.ts";
import { TrameServerError } from "../errors.ts";
import type { Adapter, RuntimeName } from "./types.ts";

/** The runtime this code runs on, judged from its globals: Deno, then Bun, then Node. */
export function detectRuntime(): RuntimeName {
  const runtime = currentRuntime();
  if (runtime !== undefined) return runtime;
  throw new TrameServerError(
    "unsupported-runtime",
    "no WebSocket server adapter for this runtime (Deno, Bun and Node are supported)",
  );
}

/** Loads the adapter for `runtime` (default: the detected one). Only that adapter is imported. */
export async function loadAdapter(runtime: RuntimeName = detectRuntime()): Promise<Adapter> {
  switch (runtime) {
    case "deno":
      return (await import("./deno.ts")).denoAdapter;
    case "bun":
      return (await import("./bun.ts")).bunAdapter;
    case "node":
      return (await import("./node.ts")).nodeAdapter;
    default:
      throw new TrameServerError("unsupported-runtime", `unknown runtime ${String(runtime)}`);
  }
}
