// Debian's headless Chromium driven by playwright-core, for the tests that look at pages: the
// bundled client (browser_test.ts) and the load report (test/load/report_browser_test.ts).
// They run under Node (playwright-core's runtime), and skip when /usr/bin/chromium is missing
// unless TRAME_WIRE_REQUIRE_BROWSER=1 (CI installs it).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Page } from "playwright-core";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** The `skip` option of a Chromium test: a reason, or `false` when it can run here. */
export function chromiumSkip(what: string): string | false {
  const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);
  if (!isNode) return `${what} runs once per suite, under Node (playwright-core's runtime)`;
  if (!existsSync(CHROMIUM) && process.env.TRAME_WIRE_REQUIRE_BROWSER !== "1") {
    return `${CHROMIUM} is not installed (.ci/run installs Debian's chromium)`;
  }
  return false;
}

/** Runs `body` with a page of a fresh headless Chromium profile; closes and removes it after. */
export async function withChromium<T>(body: (page: Page) => Promise<T>): Promise<T> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is required here (apt-get install chromium)`);
  }
  const profile = mkdtempSync(join(tmpdir(), "trame-wire-chromium-"));
  // playwright-core is a Node dev dependency, loaded only here.
  const { chromium } = await import("playwright-core");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    return await body(context.pages()[0] ?? await context.newPage());
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
