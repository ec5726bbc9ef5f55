/**
 * The demo's "real call" mode (`?mode=real`) in headless Chromium with a fake camera and
 * microphone: the page's own two-peer call, read through RtcStatsCollector, fills the charts; and
 * the benchmark box is drawn before anyone presses the button. The demo page is bundled here the
 * way examples/browser/serve.mjs bundles it.
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) every test is reported as skipped, loudly.
 */
import { after, before, suite, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import type { DemoState } from "../../examples/browser/demo-state.ts";
import { FAKE_MEDIA_ARGS, ROOT, bundleForBrowser, chromiumMissing, launchChromium, PageLog, shoutSkip, startServer, withTimeout, type TestServer } from "./harness.ts";

if (chromiumMissing) shoutSkip(`${chromiumMissing}; the demo's real-call tests are skipped`);
const skip = chromiumMissing === undefined ? {} : { skip: chromiumMissing };

/** Pixels on a canvas that differ from white: ink of any colour, text included. */
function inkOf(page: Page, id: string): Promise<number> {
  return page.evaluate((canvasId) => {
    const c = document.getElementById(canvasId) as HTMLCanvasElement;
    const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 0 && d[i]! + d[i + 1]! + d[i + 2]! < 600) n++;
    return n;
  }, id);
}

suite("demo page, real call mode (?mode=real)", () => {
  let browser: Browser | undefined;
  let server: TestServer | undefined;
  let page: Page | undefined;
  let log: PageLog | undefined;

  before(
    async () => {
      if (chromiumMissing) return;
      const bundle = await bundleForBrowser({ entry: { file: "examples/browser/demo.ts" } });
      server = await startServer({});
      server.put("/demo.js", bundle.js);
      server.put("/index.html", await readFile(join(ROOT, "examples/browser/index.html")));
      browser = await launchChromium(FAKE_MEDIA_ARGS);
      page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
      log = new PageLog(page);
      await page.goto(`${server.origin}/index.html?mode=real`, { timeout: 30_000 });
    },
    { timeout: 60_000 },
  );

  after(async () => {
    await page?.close().catch(() => {});
    await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, "closing chromium").catch((err: unknown) => console.error(err));
    await server?.close().catch((err: unknown) => console.error(err));
  });

  test("the benchmark box shows its workloads and a hint before the button is pressed", skip, async (t) => {
    await page!.waitForFunction(() => window.__demo !== undefined, null, { timeout: 10_000 });
    assert.equal(await page!.evaluate(() => window.__demo!.bench), undefined, "the benchmark ran by itself");
    // the title alone (all an unpressed box used to show) is about 1 000 pixels of ink
    const ink = await inkOf(page!, "bench");
    t.diagnostic(`benchmark canvas ink before a run: ${ink} pixels`);
    assert.ok(ink > 3000, `the benchmark canvas holds only ${ink} pixels of ink`);
  });

  test("the page's own call fills every chart with one point per track per window", skip, async (t) => {
    await withTimeout(
      Promise.race([page!.waitForFunction(() => (window.__demo?.points ?? 0) >= 4, null, { timeout: 30_000, polling: 200 }), log!.fatal]),
      35_000,
      "four windows of the real call",
    );
    const state = await page!.evaluate(() => window.__demo as DemoState);
    assert.equal(state.mode, "real");
    assert.equal(state.error, undefined);
    assert.equal(state.tracks, 4, "mic and camera, published and received");
    assert.equal(state.real?.malformed, 0);
    assert.ok((state.real?.collects ?? 0) >= 8);
    for (const chart of ["score", "bitrate", "loss"] as const) assert.ok(state.charts[chart] >= state.tracks * 3, `${chart}: ${state.charts[chart]} points`);
    assert.equal(state.counters.invalid, 0);
    assert.ok(await page!.evaluate(() => !(document.getElementById("remote") as HTMLVideoElement).hidden), "the received video is not shown");
    t.diagnostic(`windows ${state.points}, getStats() reads ${state.real?.collects}, stats in ${state.counters.statsIn}, out ${state.counters.statsOut}`);
  });

  test("the real-call page logged no errors", skip, () => {
    assert.deepEqual(log?.errors, []);
  });
});
