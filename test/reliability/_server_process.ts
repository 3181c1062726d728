// A server in a process of its own (`_server_program.ts`, run by the runtime running the test),
// for the tests that measure its memory or starve it of file descriptors.
import { spawn } from "node:child_process";
import process from "node:process";
import { within } from "../_support.ts";

/** What the server process reports. */
export interface ServerReport {
  readonly url: string;
  /** Resident memory now, in bytes. */
  readonly rss: number;
  /** The largest resident memory since the process started, in bytes. */
  readonly maxRss: number;
  /** The largest resident memory sampled (every 20 ms) since the previous report, in bytes. */
  readonly peakRss: number;
}

/** A running server process. */
export interface ServerProcess {
  /** The first report, sent once listening. */
  readonly started: ServerReport;
  /** What it wrote on standard error so far. */
  readonly stderr: () => string;
  /** Asks for a fresh report. */
  report(): Promise<ServerReport>;
  /** Whether the process is still running. */
  readonly running: () => boolean;
  /** Closes the server and waits (bounded) for the process to exit; kills it after that. */
  stop(): Promise<void>;
}

const isDeno = "Deno" in globalThis;
const script = new URL("./_server_program.ts", import.meta.url).pathname;
const root = new URL("../../", import.meta.url).pathname;

/**
 * Starts a server process; `fileLimit` runs it under `ulimit -n`; `programArgs` go to the program
 * (see `_server_program.ts`).
 */
export async function startServerProcess(
  fileLimit?: number,
  programArgs: readonly string[] = [],
): Promise<ServerProcess> {
  const runtimeArgs = isDeno ? ["run", "-A", script] : [script];
  const program = [process.execPath, ...runtimeArgs, ...programArgs];
  const [command, ...args] = fileLimit === undefined
    ? program
    : ["bash", "-c", `ulimit -n ${fileLimit} && exec "$@"`, "bash", ...program];
  const child = spawn(command, args, {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  }); // No network.
  let stdout = "";
  let stderr = "";
  let exited = false;
  const waiters: ((line: string) => void)[] = [];
  const exit = new Promise<void>((resolve) => {
    child.on("exit", () => {
      exited = true;
      resolve();
    });
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => (stderr += text));
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text: string) => {
    stdout += text;
    let end;
    while ((end = stdout.indexOf("\n")) >= 0) {
      const line = stdout.slice(0, end);
      stdout = stdout.slice(end + 1);
      waiters.shift()?.(line);
    }
  });
  const nextReport = () =>
    within(
      new Promise<ServerReport>((resolve, reject) => {
        waiters.push((line) => resolve(JSON.parse(line)));
        exit.then(() => reject(new Error(`the server process exited: ${stderr}`)));
      }),
      30_000,
      "a report from the server process",
    );
  const started = await nextReport();
  return {
    started,
    stderr: () => stderr,
    running: () => !exited,
    report() {
      child.stdin.write("report\n");
      return nextReport();
    },
    async stop() {
      child.stdin.end();
      try {
        await within(exit, 10_000, "the server process exits");
      } catch (error) {
        child.kill("SIGKILL");
        throw error;
      }
    },
  };
}
