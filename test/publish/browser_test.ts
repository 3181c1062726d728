// Browser: a bundle of the client (`bun build mod.ts --target=browser`) in a page loaded by
// Debian's headless Chromium driven by playwright-core. The page connects to the embedded
// server, loads the state, changes a key, calls a trigger and receives a 10 MiB binary result;
// the test asserts on what the page reports, checks the server saw the change, and saves a
// screenshot to build/browser/page.png. Runs under Node (playwright-core's runtime), once per
// suite; skipped when /usr/bin/chromium is missing unless TRAME_WIRE_REQUIRE_BROWSER=1 (CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serve } from "../../src/server/mod.ts";
import { explain, root, run } from "./_support.ts";
import { chromiumSkip, withChromium } from "./_chromium.ts";

const BINARY_SIZE = 10 * 1024 * 1024;
const skip = chromiumSkip("the browser test");

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>trame-wire in a browser</title></head>
<body style="font: 16px sans-serif">
<h1>trame-wire in a browser</h1>
<pre id="report">running…</pre>
<script type="module">
import { TrameClient } from "./client.js";
const show = (report) => {
  document.getElementById("report").textContent = JSON.stringify(report, null, 2);
  globalThis.trameWireReport = report;
};
try {
  const client = new TrameClient(new URLSearchParams(location.search).get("ws"));
  await client.connect();
  const before = client.state.get("counter");
  client.state.set("counter", before + 1);
  await client.state.flush();
  const sum = await client.trigger("add", [1, 2]);
  const bytes = await client.trigger("bytes", [${BINARY_SIZE}]);
  let patternOk = bytes instanceof Uint8Array;
  for (let index = 0; patternOk && index < bytes.length; index += 4099) {
    patternOk = bytes[index] === (index * 7) % 251;
  }
  await client.disconnect();
  show({ ok: true, before, sum, byteLength: bytes.byteLength, patternOk });
} catch (error) {
  show({ ok: false, error: String(error) });
}
</script>
</body>
</html>
`;

test("a bundled client in headless Chromium: state, change, trigger, 10 MiB binary", {
  skip,
  timeout: 180_000,
}, async () => {
  const outDir = join(root, "build", "browser");
  mkdirSync(outDir, { recursive: true });
  const bundle = await run(join(root, "node_modules", ".bin", "bun"), [
    "build",
    "mod.ts",
    "--target=browser",
    "--format=esm",
    `--outfile=${join(outDir, "client.js")}`,
  ]);
  assert.equal(bundle.code, 0, explain(bundle));
  const script = readFileSync(join(outDir, "client.js"));

  await using server = await serve({ port: 0, state: { counter: 1 } });
  server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
  server.trigger("bytes", ([size]) => {
    const bytes = new Uint8Array(size as number);
    for (let index = 0; index < bytes.length; index++) bytes[index] = (index * 7) % 251;
    return bytes;
  });
  const pages = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (path === "/") response.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    else if (path === "/client.js") {
      response.writeHead(200, { "content-type": "text/javascript" }).end(script);
    } else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
  try {
    await withChromium(async (page) => {
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(String(error)));
      const { port } = pages.address() as AddressInfo;
      await page.goto(`http://127.0.0.1:${port}/?ws=${encodeURIComponent(server.url)}`);
      await page.waitForFunction(() => "trameWireReport" in globalThis, undefined, {
        timeout: 120_000,
      });
      const report = await page.evaluate(() =>
        (globalThis as { trameWireReport?: unknown }).trameWireReport
      );
      await page.screenshot({ path: join(outDir, "page.png") });
      assert.deepEqual(errors, []);
      assert.deepEqual(report, {
        ok: true,
        before: 1,
        sum: 3,
        byteLength: BINARY_SIZE,
        patternOk: true,
      });
      assert.equal(server.state.get("counter"), 2);
      assert.ok(existsSync(join(outDir, "page.png")));
    });
  } finally {
    await new Promise((resolve) => pages.close(resolve));
  }
});
