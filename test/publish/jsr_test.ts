// JSR: the dry run of `deno publish` passes with no warning (slow types included), every public
// symbol is documented, and the examples of the public modules run. Deno's own tools, so these
// run under Deno only.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { explain, run } from "./_support.ts";

const skip = "Deno" in globalThis ? false : "deno publish, deno doc and deno test --doc need Deno";

test("deno publish --dry-run passes with no warnings", { skip }, async () => {
  const result = await run(process.execPath, ["publish", "--dry-run", "--allow-dirty"]);
  assert.equal(result.code, 0, explain(result));
  const output = result.stdout + result.stderr;
  assert.match(output, /Dry run complete/, explain(result));
  // deno-lint-ignore no-control-regex -- strips terminal colour codes
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  assert.doesNotMatch(plain, /^(warning|error)\b/m, explain(result));
});

test("deno doc --lint finds every public symbol documented", { skip }, async () => {
  const result = await run(process.execPath, ["doc", "--lint", "mod.ts", "src/server/mod.ts"]);
  assert.equal(result.code, 0, explain(result));
});

test("the documentation examples run (deno test --doc)", { skip }, async () => {
  const result = await run(process.execPath, ["test", "--doc", "-A", "mod.ts", "src/"], {
    timeout: 300_000,
  });
  assert.equal(result.code, 0, explain(result));
  // deno-lint-ignore no-control-regex -- strips terminal colour codes
  const plain = result.stdout.replace(/\x1b\[[0-9;]*m/g, "");
  assert.match(plain, /ok \| \d+ passed \| 0 failed/, explain(result));
});
