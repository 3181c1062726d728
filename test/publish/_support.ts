// Helpers of the publishing tests: run a command to completion and collect its output.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

/** The repository root, as a path. */
export const root: string = new URL("../../", import.meta.url).pathname;

/** What a finished command left. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` with `args` in `cwd` (default: the root); kills it after `timeout` ms. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; timeout?: number; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...options.env },
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 120_000);
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (text: string) => (stdout += text));
    child.stderr.on("data", (text: string) => (stderr += text));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A failure message that shows what the command printed. */
export function explain(result: Run): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/**
 * The machine's own Node (the first `node` on PATH outside any node_modules/.bin) when it is
 * older than 22, as the suite's Node 24 is not: for the tests of what an older Node gets.
 * Undefined when there is none.
 */
export function olderSystemNode(): { path: string; version: string } | undefined {
  for (const directory of (process.env.PATH ?? "").split(":")) {
    if (directory === "" || /node_modules\/\.bin\/?$/.test(directory)) continue;
    const path = join(directory, "node");
    if (!existsSync(path)) continue;
    const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
    const major = Number(version.match(/^v(\d+)\./)?.[1]);
    return major < 22 ? { path, version } : undefined;
  }
  return undefined;
}
