// Builds the npm package into build/npm (ignored): ESM JavaScript and `.d.ts` files compiled by
// the TypeScript compiler from mod.ts, src/server/mod.ts and the CLI, with relative `.ts`
// imports rewritten to `.js`, the WebAssembly engine's bytes included (src/codec/_wasm_bytes.ts),
// a package.json with the `.` and `./server` exports (with types) and the `trame-wire` bin.
//   node test/publish/build_npm.ts   (or: deno run -A …, bun …)   prints the output folder.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { spawnSync } from "node:child_process";
import process from "node:process";

const root = new URL("../../", import.meta.url).pathname;
/** Where the package is built. */
export const outDir: string = join(root, "build", "npm");

/**
 * The Node versions the built package runs on: compiled JavaScript needs no type stripping, and
 * Node 20 and 21 (no global WebSocket) connect through the optional `ws` package
 * (npm_test.ts runs it on the system's Node 20 where there is one).
 */
export const NPM_NODE_ENGINES = ">=20";

/** The export map of the built package: JavaScript and types for each subpath of deno.json. */
export const npmExports: Record<string, { types: string; default: string }> = {
  ".": { types: "./mod.d.ts", default: "./mod.js" },
  "./server": { types: "./src/server/mod.d.ts", default: "./src/server/mod.js" },
};

/** Builds build/npm from the sources; returns its path. Throws when the compiler fails. */
export function buildNpm(): string {
  const source = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  emitJavaScript(["mod.ts", "src/server/mod.ts", "src/cli/main.ts"], outDir);
  if (!existsSync(join(outDir, "mod.js")) || !existsSync(join(outDir, "mod.d.ts"))) {
    throw new Error("tsc wrote no mod.js/mod.d.ts");
  }
  chmodSync(join(outDir, "src", "cli", "main.js"), 0o755);
  const manifest = {
    name: source.name,
    version: source.version,
    description: source.description,
    license: source.license,
    type: "module",
    exports: npmExports,
    types: "./mod.d.ts",
    bin: { "trame-wire": "./src/cli/main.js" },
    files: ["**/*.js", "**/*.d.ts", "README.md", "LICENSE"],
    engines: { node: NPM_NODE_ENGINES },
    dependencies: source.dependencies,
    optionalDependencies: source.optionalDependencies,
  };
  writeFileSync(join(outDir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  for (const file of ["README.md", "LICENSE"]) {
    writeFileSync(join(outDir, file), readFileSync(join(root, file)));
  }
  return outDir;
}

/**
 * Compiles `entries` (paths from the root) and everything they import into `directory` (emptied
 * first) as ESM JavaScript with `.d.ts` files, relative `.ts` imports rewritten to `.js`.
 */
export function emitJavaScript(entries: readonly string[], directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  const tsconfig = join(root, "build", `tsconfig.${basename(directory)}.json`);
  writeFileSync(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        lib: ["es2024", "dom", "esnext.disposable"],
        types: ["node"],
        declaration: true,
        // The sources are type-checked by `deno check` (with Deno's and Bun's globals); this
        // build only emits, and every exported symbol has the explicit types JSR requires.
        noCheck: true,
        skipLibCheck: true,
        rewriteRelativeImportExtensions: true,
        allowImportingTsExtensions: true,
        verbatimModuleSyntax: false,
        rootDir: root,
        outDir: directory,
        newLine: "lf",
      },
      files: entries.map((entry) => join(root, entry)),
    }),
  );
  const tsc = join(root, "node_modules", ".bin", "tsc");
  const result = spawnSync(tsc, ["-p", tsconfig], { cwd: root, encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`tsc failed (${result.status}):\n${result.stdout}${result.stderr}`);
  }
  // The compiler rewrites `.ts` to `.js` in the JavaScript only; the declarations follow suit.
  for (const file of listFiles(directory).filter((path) => path.endsWith(".d.ts"))) {
    const text = readFileSync(file, "utf8");
    writeFileSync(
      file,
      text.replace(/((?:from|import\()\s*["'])(\.\.?\/[^"']+)\.ts(["'])/g, "$1$2.js$3"),
    );
  }
}

function listFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    return entry.isDirectory() ? listFiles(path) : [path];
  });
}

if (import.meta.main) {
  console.log(buildNpm());
  process.exit(0);
}
