// What the benchmark runners (bench/e2e.ts, bench/python_server.ts, bench/stream.ts) share:
// where things are, how each runtime runs a script, server and client processes, command-line
// options, medians, tables, and the rewriting of their own section of bench/RESULTS.md.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import type { Runtime } from "./_e2e_shared.ts";

/** The repository's root directory. */
export const root = new URL("..", import.meta.url).pathname;

/** The path of a program installed in node_modules/.bin. */
export const bin = (name: string): string => join(root, "node_modules", ".bin", name);

/** The command line that runs `bench/{script}` under `runtime`. */
export function runtimeCommand(runtime: Runtime, script: string): string[] {
  const path = join(root, "bench", script);
  switch (runtime) {
    case "deno":
      return [bin("deno"), "run", "-A", path];
    case "bun":
      return [bin("bun"), path];
    case "node":
      return [bin("node"), path];
  }
}

/** The value after `--{name}` on the command line, or `fallback`. */
export function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? fallback : process.argv[index + 1];
}

/** The median of `values` (NaN when there are none). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A rate rounded with thousands separators ("–" for NaN). */
export const rate = (value: number): string =>
  Number.isNaN(value) ? "–" : Math.round(value).toLocaleString("en-US");

/** A Markdown table, first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const align = header.map((_, index) => index === 0 ? "---" : "--:");
  return [header, align, ...rows].map((row) => `| ${row.join(" | ")} |`).join("\n");
}

/** The version of the reference wslink client installed. */
export function referenceVersion(): string {
  const manifest = JSON.parse(
    readFileSync(join(root, "node_modules", "wslink", "package.json"), "utf8"),
  ) as { version: string };
  return manifest.version;
}

/**
 * Replaces what lies between the `begin` and `end` markers of the file at `path` with `section`,
 * or appends `heading` and the marked section when the markers are missing; then `deno fmt`
 * aligns the tables (written unaligned) and wraps the prose.
 */
export function writeResultsSection(
  path: string,
  markers: { begin: string; end: string },
  heading: string,
  section: string,
): void {
  const text = readFileSync(path, "utf8");
  const block = `${markers.begin}\n\n${section}\n${markers.end}`;
  const begin = text.indexOf(markers.begin);
  const end = text.indexOf(markers.end);
  const updated = begin >= 0 && end > begin
    ? text.slice(0, begin) + block + text.slice(end + markers.end.length)
    : `${text.trimEnd()}\n\n${heading}\n\n${block}\n`;
  writeFileSync(path, updated);
  spawnSync(bin("deno"), ["fmt", path], { stdio: "inherit" });
}

/** A benchmark server running in a process of its own. */
export interface ServerProcess {
  /** What the server printed on its first JSON line (its `url`, runtime, version, …). */
  readonly info: { readonly url: string; readonly runtime: Runtime; readonly version: string };
  /** Ends its standard input (it closes itself then) and waits; kills it after 5 s. */
  stop(): Promise<void>;
}

/**
 * Starts `command` (a benchmark server that prints one JSON line `{url, runtime, version}` once it
 * listens, and closes when its standard input ends) and resolves once it listens.
 */
export function startServerProcess(command: readonly string[]): Promise<ServerProcess> {
  const [program, ...args] = command;
  const child = spawn(program, args, { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`${args.at(-1)} did not start`)), 60_000);
    const onData = (chunk: Uint8Array) => {
      output += new TextDecoder().decode(chunk);
      if (!output.includes("\n")) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.stdout!.resume();
      resolve({
        info: JSON.parse(output.split("\n")[0]),
        async stop() {
          child.stdin!.end();
          const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
          await exited;
          clearTimeout(killer);
        },
      });
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
  });
}

/**
 * Runs `command` (a benchmark client) and resolves with the first JSON line it prints, once it
 * exited 0; rejects with `what` and its standard error otherwise. Killed after `timeoutMs` + 10 s.
 */
export function runJsonProcess<T>(
  command: readonly string[],
  timeoutMs: number,
  what: string,
): Promise<T> {
  const [program, ...args] = command;
  const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Uint8Array) => stdout += new TextDecoder().decode(chunk));
  child.stderr!.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
  return new Promise((resolve, reject) => {
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs + 10_000);
    child.once("exit", (code) => {
      clearTimeout(killer);
      const line = stdout.split("\n").find((text) => text.startsWith("{"));
      if (code === 0 && line !== undefined) resolve(JSON.parse(line) as T);
      else reject(new Error(`${what} exited ${code}: ${stderr.trim()}`));
    });
  });
}
