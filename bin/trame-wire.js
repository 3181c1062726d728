#!/usr/bin/env node
// The `trame-wire` command of a checkout (`npx trame-wire` after `npm ci`): runs the TypeScript
// sources in src/cli/, once it has checked that this runtime can. Plain JavaScript, so that an
// older Node gets a clear message instead of a stack trace. (The npm package's command is
// compiled JavaScript and needs no such check.)
import process from "node:process";

const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);
// Type stripping: on by default from Node 22.18 and 23.6, behind --experimental-strip-types
// from 22.6; `process.features.typescript` is false or absent where it is off.
if (isNode && !process.features.typescript) {
  process.stderr.write(
    `trame-wire: this is Node ${process.versions.node}, which cannot run the TypeScript sources ` +
      "of a checkout: that needs Node 22.18 or later (23.6 or later on 23). Run `npm ci` and " +
      "use `npx trame-wire` (the dev dependencies bring Node 24), or run it with Deno or Bun, " +
      "or install the npm package (compiled JavaScript, Node 20 or later).\n",
  );
  process.exit(1);
}
await import("../src/cli/main.ts");
