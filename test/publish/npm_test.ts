// npm: the package built by build_npm.ts is packed (`npm pack`), installed from the tarball into
// a scratch folder, and used from the runtime running this test (Node 24 or Bun): its embedded
// server (the `./server` export) serves, its client connects, reads the state, changes a key and
// calls a trigger; the `trame-wire` bin runs; the declarations type-check in a strict consumer.
// Built, packed and installed once per run; every test reuses it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { buildNpm } from "./build_npm.ts";
import { explain, olderSystemNode, root, run } from "./_support.ts";

const skip = "Deno" in globalThis
  ? "the npm package is for Node and Bun; Deno uses the sources through JSR (jsr_test.ts)"
  : false;
const bin = join(root, "node_modules", ".bin");

const CONSUMER = `
import { TrameClient, WslinkError } from "@trame-wire/client";
import { serve } from "@trame-wire/client/server";

const server = await serve({ port: 0, state: { counter: 1 } });
server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
const client = new TrameClient<{ counter: number }>(server.url);
await client.connect();
const counter = client.state.get("counter");
const sum = await client.trigger("add", [1, 2]);
client.state.set("counter", counter + 1);
await client.state.flush();
const serverCounter = server.state.get("counter");
await client.disconnect();
await server.close();
console.log(JSON.stringify({ counter, sum, serverCounter, error: typeof WslinkError }));
`;

let installed: Promise<string> | undefined;

/** Builds, packs and installs the package once; resolves to the scratch folder. */
function install(): Promise<string> {
  installed ??= (async () => {
    const scratch = mkdtempSync(join(tmpdir(), "trame-wire-npm-"));
    process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
    const outDir = buildNpm();
    const pack = await run("npm", ["pack", "--silent", "--pack-destination", scratch], {
      cwd: outDir,
    });
    assert.equal(pack.code, 0, explain(pack));
    const tarball = join(scratch, pack.stdout.trim().split("\n").at(-1)!);
    writeFileSync(
      join(scratch, "package.json"),
      JSON.stringify({ name: "scratch", private: true, type: "module" }),
    );
    const npmInstall = await run(
      "npm",
      ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund"],
      { cwd: scratch, timeout: 300_000 },
    );
    assert.equal(npmInstall.code, 0, explain(npmInstall));
    // The same program as JavaScript (run) and as TypeScript (type-checked).
    writeFileSync(join(scratch, "consumer.ts"), CONSUMER);
    writeFileSync(
      join(scratch, "consumer.mjs"),
      CONSUMER.replace("(args as number[])", "args").replace("<{ counter: number }>", ""),
    );
    return scratch;
  })();
  return installed;
}

test("the packed package has both exports with types, the WASM bytes and the bin", {
  skip,
}, async () => {
  const scratch = await install();
  const home = join(scratch, "node_modules", "@trame-wire", "client");
  const manifest = JSON.parse(readFileSync(join(home, "package.json"), "utf8"));
  const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  assert.deepEqual(Object.keys(manifest.exports).sort(), Object.keys(deno.exports).sort());
  for (const entry of Object.values(manifest.exports) as { types: string; default: string }[]) {
    assert.ok(existsSync(join(home, entry.types)), entry.types);
    assert.ok(existsSync(join(home, entry.default)), entry.default);
  }
  assert.ok(existsSync(join(home, "src", "codec", "_wasm_bytes.js")));
  assert.match(readFileSync(join(home, "LICENSE"), "utf8"), /^MIT License\n/);
  assert.equal(manifest.engines.node, ">=20");
  assert.equal(manifest.private, undefined);
  assert.deepEqual(Object.keys(manifest.dependencies), ["@msgpack/msgpack"]);
  assert.deepEqual(Object.keys(manifest.optionalDependencies), ["ws"]);
  const cli = readFileSync(join(home, manifest.bin["trame-wire"]), "utf8");
  assert.ok(cli.startsWith("#!/usr/bin/env node\n"));
  for (const file of [cli, readFileSync(join(home, "mod.d.ts"), "utf8")]) {
    assert.doesNotMatch(file, /^(import|export)[^\n]* from "\.[^"]*\.ts";/m);
  }
});

test("the installed package serves and connects: state get, change and trigger", {
  skip,
}, async () => {
  await runConsumer(process.execPath, "consumer.mjs");
});

/** Runs a consumer program in the scratch folder with `node`; checks what it printed. */
async function runConsumer(node: string, file: string): Promise<void> {
  const scratch = await install();
  const result = await run(node, [file], { cwd: scratch, timeout: 60_000 });
  assert.equal(result.code, 0, explain(result));
  assert.deepEqual(JSON.parse(result.stdout.trim().split("\n").at(-1)!), {
    counter: 1,
    sum: 3,
    serverCounter: 2,
    error: "function",
  });
}

test("the installed trame-wire bin answers --help", { skip }, async () => {
  const scratch = await install();
  // The shebang asks for `node`: Node 24 from the dev dependencies comes first on PATH.
  const result = await run(join(scratch, "node_modules", ".bin", "trame-wire"), ["--help"], {
    cwd: scratch,
    env: { PATH: `${bin}:${process.env.PATH}` },
  });
  assert.equal(result.code, 0, explain(result));
  assert.match(result.stdout, /^Usage: trame-wire <command>/m);
});

// Node 20 and 21 have no global WebSocket: a program passes the `ws` package's, the command
// finds it by itself. Run with the machine's own Node when it is one of those (once, under Node).
const oldNode = olderSystemNode();
const skipOldNode = skip ||
  ("Bun" in globalThis && "runs the system's Node: once per suite, under Node") ||
  (oldNode === undefined && "no Node older than 22 on PATH");

test("the installed package runs on the system's older Node, given ws's WebSocket", {
  skip: skipOldNode,
}, async () => {
  const scratch = await install();
  writeFileSync(
    join(scratch, "consumer_ws.mjs"),
    CONSUMER.replace("(args as number[])", "args").replace("<{ counter: number }>", "")
      .replace(
        'import { serve } from "@trame-wire/client/server";',
        'import { serve } from "@trame-wire/client/server";\nimport { WebSocket } from "ws";',
      )
      .replace(
        "new TrameClient(server.url)",
        "new TrameClient(server.url, { session: { WebSocket } })",
      ),
  );
  await runConsumer(oldNode!.path, "consumer_ws.mjs");
});

test("the installed trame-wire command runs its demo on the system's older Node", {
  skip: skipOldNode,
}, async () => {
  const scratch = await install();
  const main = join(scratch, "node_modules", "@trame-wire", "client", "src", "cli", "main.js");
  const result = await run(oldNode!.path, [main, "demo", "--size", "4"], {
    cwd: scratch,
    timeout: 60_000,
  });
  assert.equal(result.code, 0, explain(result));
  assert.match(
    result.stdout,
    new RegExp(`^trame-wire demo on Node ${oldNode!.version.slice(1)}$`, "m"),
  );
  assert.match(result.stdout, /demo finished: every step worked\n$/);
});

test("the declarations type-check in a strict consumer (tsc, no lib check skipped)", {
  skip,
}, async () => {
  const scratch = await install();
  writeFileSync(
    join(scratch, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        lib: ["es2024", "dom", "esnext.disposable"],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ["consumer.ts"],
    }),
  );
  const result = await run(join(bin, "tsc"), ["-p", "tsconfig.json"], { cwd: scratch });
  assert.equal(result.code, 0, explain(result));
});
