// Starting the reference Python server (bench/_python_app.py) for the benchmarks that measure
// against it (bench/python_server.ts, bench/stream.ts), and stopping it with all it started.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { WslinkSession } from "../mod.ts";
import type { ServerUsage } from "./_python_client.ts";
import { root } from "./_runner.ts";

const APP = join(root, "bench", "_python_app.py");
const SERVER_START_MS = 60_000;

/** What to do when no command to start the server was given. */
export const PYTHON_SERVER_HELP = "Set TRAME_WIRE_PYTHON_SERVER (or pass --server-command) to a " +
  "command that starts bench/_python_app.py on the reference Python server, with {app} and " +
  "{port} for its path and port, e.g.\n" +
  "  TRAME_WIRE_PYTHON_SERVER='PYTHONPATH=/path/to/wslink/src:/path/to/trame-server/src " +
  "python3 {app} --port {port}'";

/** A free TCP port on 127.0.0.1 (the system's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** The reference server, running. */
export interface PythonServer {
  readonly url: string;
  readonly versions: string;
  stop(): Promise<void>;
}

/** The server runs, but not bench/_python_app.py: waiting longer will not help. */
export class MissingTriggers extends Error {}

// How much of the server's stderr is kept, to show when it fails to start.
const STDERR_KEPT = 8_192;

/**
 * Starts the reference server with `command` (run under `sh -c`; `{app}` becomes the path of
 * bench/_python_app.py, `{port}` the port) and resolves once it accepts a session and answers
 * the benchmark's triggers; rejects with {@link MissingTriggers} when it runs another app.
 */
export async function startPythonServer(command: string, port: number): Promise<PythonServer> {
  const line = command.replaceAll("{app}", APP).replaceAll("{port}", String(port));
  // A process group of its own, so that stopping it stops whatever the command started.
  const child = spawn("sh", ["-c", line], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  child.stderr!.on("data", (chunk: Uint8Array) => {
    stderr = (stderr + new TextDecoder().decode(chunk)).slice(-STDERR_KEPT);
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group is gone already.
    }
  };
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    })
  );
  const stop = async () => {
    if (exited) return;
    signalGroup("SIGTERM");
    const killer = setTimeout(() => signalGroup("SIGKILL"), 5_000);
    await exit;
    clearTimeout(killer);
  };
  const url = `ws://127.0.0.1:${port}/ws`;
  const deadline = performance.now() + SERVER_START_MS;
  while (true) {
    if (exited) throw new Error(`the server command exited: ${line}\n${stderr.trim()}`);
    try {
      const session = await WslinkSession.connect(url, { helloTimeout: 2_000 });
      try {
        const usage = await session.call(
          "trame.trigger",
          ["trame_wire.bench.usage", [], {}],
          {},
          { timeout: 10_000 },
        ) as ServerUsage | null;
        if (usage === null || typeof usage !== "object") {
          await stop();
          throw new MissingTriggers(
            "the server answered without the benchmark's triggers: it must run " +
              `bench/_python_app.py (${APP})`,
          );
        }
        const versions = await session.call("trame.trigger", [
          "trame_wire.bench.versions",
          [],
          {},
        ]) as string;
        return { url, versions, stop };
      } finally {
        await session.close();
      }
    } catch (error) {
      if (error instanceof MissingTriggers) throw error;
      if (performance.now() > deadline) {
        await stop();
        throw new Error(`the server did not accept a session within ${SERVER_START_MS} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
