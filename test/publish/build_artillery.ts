// Builds the Artillery engine package `artillery-engine-trame` into build/artillery-engine-trame
// (ignored), as build_npm.ts builds the client: ESM JavaScript and `.d.ts` files compiled from
// src/load/artillery.ts and what it imports (the trame-wire client included, so the package
// depends on @msgpack/msgpack alone), and a package.json whose export Artillery finds by name.
//   node test/publish/build_artillery.ts   (or: deno run -A …, bun …)   prints the output folder.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { emitJavaScript } from "./build_npm.ts";

const root = new URL("../../", import.meta.url).pathname;
/** Where the engine package is built. */
export const engineDir: string = join(root, "build", "artillery-engine-trame");

const ENTRY = "./src/load/artillery.js";

/** Builds the engine package; returns its folder. Throws when the compiler fails. */
export function buildArtilleryEngine(): string {
  const source = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  emitJavaScript(["src/load/artillery.ts"], engineDir);
  if (!existsSync(join(engineDir, ENTRY))) throw new Error(`tsc wrote no ${ENTRY}`);
  const manifest = {
    name: "artillery-engine-trame",
    version: source.version,
    description: "Artillery engine for trame and wslink servers, built on trame-wire",
    license: source.license,
    type: "module",
    main: ENTRY,
    types: ENTRY.replace(/\.js$/, ".d.ts"),
    exports: { ".": { types: ENTRY.replace(/\.js$/, ".d.ts"), default: ENTRY } },
    files: ["**/*.js", "**/*.d.ts", "README.md"],
    engines: { node: ">=22.18" },
    dependencies: source.dependencies,
  };
  writeFileSync(join(engineDir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  writeFileSync(join(engineDir, "README.md"), artilleryReadme());
  return engineDir;
}

// The README's Artillery section, between its two markers, is the package's README.
function artilleryReadme(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("<!-- artillery-engine-trame -->");
  const end = readme.indexOf("<!-- /artillery-engine-trame -->");
  if (start === -1 || end === -1) {
    throw new Error("README.md has no artillery-engine-trame section");
  }
  return "# artillery-engine-trame\n\n" +
    readme.slice(start, end).replace(/^<!--.*-->\n/, "").replace(/^#+ .*\n/m, "").trim() + "\n";
}

if (import.meta.main) {
  console.log(buildArtilleryEngine());
  process.exit(0);
}
