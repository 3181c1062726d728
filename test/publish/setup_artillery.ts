// Installs the pinned Artillery release (test/artillery/package.json and its lockfile) into
// build/artillery for the engine test (test/load/artillery_test.ts), with `npm ci`: about 460
// packages, a minute or two. .ci/run runs it before the tests; locally: `npm run setup:artillery`.
// Install scripts are skipped: the only one that matters would download browsers for Artillery's
// Playwright engine, which the test does not use.
//   node test/publish/setup_artillery.ts   (or: deno run -A …, bun …)   prints Artillery's bin.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { explain, root, run } from "./_support.ts";

const pinned = join(root, "test", "artillery");
const folder = join(root, "build", "artillery");
const bin = join(folder, "node_modules", "artillery", "bin", "run");

/** Artillery's bin when build/artillery holds exactly the pinned install, else `undefined`. */
export function installedArtillery(): string | undefined {
  const lock = join(folder, "package-lock.json");
  if (!existsSync(bin) || !existsSync(lock)) return undefined;
  const wanted = readFileSync(join(pinned, "package-lock.json"), "utf8");
  return readFileSync(lock, "utf8") === wanted ? bin : undefined;
}

/** Installs the pinned Artillery unless it is there already; resolves to its bin. */
export async function installArtillery(): Promise<string> {
  const installed = installedArtillery();
  if (installed !== undefined) return installed;
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  for (const file of ["package.json", "package-lock.json"]) {
    writeFileSync(join(folder, file), readFileSync(join(pinned, file)));
  }
  const install = await run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], {
    cwd: folder,
    timeout: 900_000,
  });
  if (install.code !== 0) {
    throw new Error(`npm ci of the pinned Artillery failed: ${explain(install)}`);
  }
  return bin;
}

if (import.meta.main) {
  console.log(await installArtillery());
  process.exit(0);
}
