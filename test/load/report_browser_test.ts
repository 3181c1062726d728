// The --html report of a real (short) load run, opened from its file in headless Chromium: the
// page loads with no error and no request, the figures it embeds are the run's, and the plots
// drew: screenshots of the latency and throughput charts hold hundreds of pixels of their line
// colours, while a chart without that colour holds none. Screenshots go to build/load/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serve } from "../../src/server/mod.ts";
import { runLoad } from "../../src/load/run.ts";
import { renderHtmlReport, SERIES_COLORS } from "../../src/load/report_html.ts";
import { checkThresholds, parseThresholds } from "../../src/load/thresholds.ts";
import { root } from "../publish/_support.ts";
import { chromiumSkip, withChromium } from "../publish/_chromium.ts";

// The page's DOM, as far as the code run in the page uses it (this file has no DOM types).
interface Dom {
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    createElement(name: "canvas"): {
      width: number;
      height: number;
      getContext(kind: "2d"): {
        drawImage(image: unknown, x: number, y: number): void;
        getImageData(
          x: number,
          y: number,
          width: number,
          height: number,
        ): { data: Uint8ClampedArray };
      } | null;
    };
  };
  Image: new () => { src: string; width: number; height: number; decode(): Promise<void> };
}

test("the HTML report opens in headless Chromium and its plots draw", {
  skip: chromiumSkip("the report's browser test"),
  timeout: 180_000,
}, async () => {
  await using server = await serve({ port: 0, log: () => {} });
  server.trigger("work", async (args) => {
    await new Promise((resolve) => setTimeout(resolve, args[0] as number));
    return null;
  });
  const result = await runLoad({
    target: { url: server.url },
    scenario: {
      value: {
        name: "uneven work",
        steps: [{ trigger: "work", args: [5] }, { trigger: "work", args: [25] }, { think: "10ms" }],
      },
      source: "inline",
    },
    users: 4,
    rampMs: 1000,
    durationMs: 4000,
    workers: 1,
  });
  assert.ok(result.timeline.length >= 4);
  const outcomes = checkThresholds(parseThresholds(new Map([["max-errors", "0"]])), result);
  const outDir = join(root, "build", "load");
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, "report.html");
  writeFileSync(file, renderHtmlReport(result, outcomes));

  await withChromium(async (page) => {
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(`file://${file}`);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [`file://${file}`]); // self-contained: nothing else is fetched
    const embedded = await page.evaluate(() =>
      JSON.parse(
        (globalThis as unknown as Dom).document.getElementById("trame-wire-load-result")!
          .textContent!,
      )
    );
    assert.deepEqual(embedded.metrics, JSON.parse(JSON.stringify(result.metrics)));
    assert.equal(await page.locator("p.verdict.ok").textContent(), "Every threshold was met.");
    await page.screenshot({ path: join(outDir, "report.png"), fullPage: true });

    // Pixels of `color` in a screenshot of the element `selector`, counted by the page itself.
    const pixels = async (selector: string, color: string): Promise<number> => {
      const png = await page.locator(selector).screenshot({
        path: join(outDir, `${selector.slice(1)}.png`),
      });
      return await page.evaluate(async ([base64, hex]) => {
        const { document, Image } = globalThis as unknown as Dom;
        const image = new Image();
        image.src = `data:image/png;base64,${base64}`;
        await image.decode();
        const canvas = document.createElement("canvas");
        canvas.width = image.width;
        canvas.height = image.height;
        const context = canvas.getContext("2d")!;
        context.drawImage(image, 0, 0);
        const { data } = context.getImageData(0, 0, image.width, image.height);
        const target = [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
        let count = 0;
        for (let index = 0; index < data.length; index += 4) {
          const distance = Math.abs(data[index] - target[0]) +
            Math.abs(data[index + 1] - target[1]) + Math.abs(data[index + 2] - target[2]);
          if (distance < 60) count++;
        }
        return count;
      }, [png.toString("base64"), color] as const);
    };
    // A 2-pixel line across the plot is hundreds of pixels; a legend swatch alone is 100. The
    // first series is drawn on top; the others may hide each other where they coincide.
    const chart = "#chart-latency-trigger";
    const p50 = await pixels(chart, SERIES_COLORS.p50);
    let upper = 0;
    for (const color of [SERIES_COLORS.p90, SERIES_COLORS.p99, SERIES_COLORS.max]) {
      upper += await pixels(chart, color);
    }
    const actions = await pixels("#chart-throughput", SERIES_COLORS.actions);
    const users = await pixels("#chart-users", SERIES_COLORS.users);
    for (const [name, count] of Object.entries({ p50, upper, actions, users })) {
      assert.ok(count > 400, `${name}: only ${count} pixels of its colour`);
    }
    // The users chart has no red line: the count tells drawn from not drawn.
    assert.ok(await pixels("#chart-users", SERIES_COLORS.p99) < 20);
  });
});
