// A checkout as a new user meets it: the root package is not the npm package (private, refuses
// `npm pack`, ships no tests), the license is there, the command is executable and tells an
// older Node what it needs, and `npm run demo` / `bun run demo` run the runtime they name.
// The commands that spawn npm, Bun or the system's Node run once per suite, under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { explain, olderSystemNode, root, run } from "./_support.ts";

const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);
const once = isNode ? false : "spawns npm, Bun and the system's Node: once per suite, under Node";
const bin = join(root, "node_modules", ".bin");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

test("the root package is private and lists only the sources, the command and the license", () => {
  assert.equal(manifest.private, true);
  assert.deepEqual(manifest.files, ["mod.ts", "src/", "bin/", "README.md", "LICENSE"]);
  assert.equal(manifest.bin["trame-wire"], "bin/trame-wire.js");
  // The sources need type stripping: on by default from Node 22.18 and 23.6.
  assert.equal(manifest.engines.node, "^22.18.0 || >=23.6.0");
});

test("LICENSE is the MIT license of the trame-wire authors, as the manifests say", () => {
  const license = readFileSync(join(root, "LICENSE"), "utf8");
  assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 trame-wire authors\n/);
  assert.equal(manifest.license, "MIT");
  assert.equal(JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).license, "MIT");
});

test("the command's entry points are executable", () => {
  for (const file of ["bin/trame-wire.js", "src/cli/main.ts"]) {
    assert.equal(statSync(join(root, file)).mode & 0o111, 0o111, file);
    assert.ok(readFileSync(join(root, file), "utf8").startsWith("#!/usr/bin/env node\n"), file);
  }
});

test("bin/trame-wire.js runs the command from the sources on this runtime", async () => {
  const args = "Deno" in globalThis ? ["run", "-A", "bin/trame-wire.js"] : ["bin/trame-wire.js"];
  const result = await run(process.execPath, [...args, "--help"]);
  assert.equal(result.code, 0, explain(result));
  assert.match(result.stdout, /^Usage: trame-wire <command>/m);
});

const oldNode = olderSystemNode();

test("on a Node too old for the sources, bin/trame-wire.js says what it needs (exit 1)", {
  skip: once || (oldNode === undefined && "no Node older than 22 on PATH"),
}, async () => {
  const result = await run(oldNode!.path, ["bin/trame-wire.js", "state", "ws://127.0.0.1:1/ws"]);
  assert.equal(result.code, 1, explain(result));
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    new RegExp(`^trame-wire: this is Node ${oldNode!.version.slice(1)}, .*Node 22\\.18 or later`),
  );
  assert.equal(result.stderr.trim().split("\n").length, 1, explain(result));
});

test("npm pack at the root refuses and points to the npm package", { skip: once }, async () => {
  const result = await run("npm", ["pack", "--dry-run"]);
  assert.notEqual(result.code, 0, explain(result));
  assert.match(result.stderr, /the repository root is not the npm package; run npm run build:npm/);
});

test("npm run demo runs Node, bun run demo Bun, deno task demo Deno", { skip: once }, async () => {
  const path = `${bin}:${process.env.PATH}`;
  const npm = await run("npm", ["run", "--silent", "demo", "--", "--size", "1"], {
    env: { PATH: path },
  });
  assert.equal(npm.code, 0, explain(npm));
  assert.match(npm.stdout, /^trame-wire demo on Node 24\.\d+\.\d+$/m);
  const bun = await run(join(bin, "bun"), ["run", "demo", "--size", "1"], { env: { PATH: path } });
  assert.equal(bun.code, 0, explain(bun));
  assert.match(bun.stdout, /^trame-wire demo on Bun \d+\.\d+\.\d+$/m);
  const deno = await run(join(bin, "deno"), ["task", "demo", "--size", "1"], {
    env: { PATH: path },
  });
  assert.equal(deno.code, 0, explain(deno));
  assert.match(deno.stdout, /^trame-wire demo on Deno \d+\.\d+\.\d+$/m);
});
