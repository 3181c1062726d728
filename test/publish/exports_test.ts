// The export maps of deno.json (JSR) and package.json (npm, from a clone) name the same subpaths
// and the same files, and the built npm package maps those subpaths to JavaScript with types.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./_support.ts";

const readJson = (path: string) => JSON.parse(readFileSync(join(root, path), "utf8"));

test("deno.json and package.json export the same subpaths and files", () => {
  const deno = readJson("deno.json");
  const npm = readJson("package.json");
  assert.deepEqual(Object.keys(deno.exports).sort(), [".", "./server"]);
  assert.deepEqual(npm.exports, deno.exports);
  assert.equal(npm.name, deno.name);
  assert.equal(npm.version, deno.version);
});
