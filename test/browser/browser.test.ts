/**
 * Browser suite: the package in real headless Chromium (Debian's chromium, driven by
 * playwright-core), served from 127.0.0.1.
 *
 * - the package entry bundles for `platform: "browser"` with no Node built-in;
 * - the in-page suite (page-entry.ts: the ts-vs-wasm differential on random inputs, StatsWorker
 *   scenarios, malformed bytes) runs twice: bundled by esbuild from src/index.ts, and against
 *   dist/ through the import map of docs/browser.md, whose snippet also runs as written;
 * - the demo (examples/browser/serve.mjs) renders, its charts fill and its benchmark draws bars;
 *   a screenshot is saved to a temp dir.
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) the Chromium parts say so on stderr and are
 * reported as skipped. Re-run the random cases with SEED=<printed seed>.
 */
import { after, before, suite, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import type { DemoState } from "../../examples/browser/demo-state.ts";
import { PAGE_CASES, type PageReport } from "./cases.ts";
import {
  ROOT,
  PageLog,
  bundleForBrowser,
  chromiumMissing,
  launchChromium,
  markdownBlock,
  redirectLibrary,
  runPageSuite,
  shoutSkip,
  startServer,
  withTimeout,
  type TestServer,
} from "./harness.ts";

const SEED = process.env["SEED"] !== undefined ? Number(process.env["SEED"]) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
console.log(`browser differential seed: ${SEED} (re-run with SEED=${SEED} node --import tsx --test test/browser/browser.test.ts)`);

const distMissing = existsSync(join(ROOT, "dist/index.js")) ? undefined : "dist/ is not built: dist/index.js is missing (npm test builds it first; or run npm run build)";
if (chromiumMissing) shoutSkip(chromiumMissing);
if (distMissing) shoutSkip(`${distMissing}; the tests against dist/ are skipped`);

const skipIf = (reason: string | undefined) => (reason === undefined ? {} : { skip: reason });
const PAGE_SUITE_TIMEOUT_MS = 180_000;

/** One node:test test per in-page case: fails with the page's message, or when the case is missing. */
function pageCaseTests(skip: string | undefined, report: () => PageReport | undefined, log: () => PageLog | undefined): void {
  for (const name of PAGE_CASES) {
    test(name, skipIf(skip), (t: TestContext) => {
      const r = report()?.results.find((x) => x.name === name);
      assert.ok(r, `the page did not report ${JSON.stringify(name)}`);
      t.diagnostic(`${r.ms.toFixed(0)} ms in the page${r.info ? `: ${r.info}` : ""}`);
      if (!r.ok) assert.fail(`failed in Chromium (seed ${SEED}):\n${r.error}`);
    });
  }
  test("the page logged no errors and no failed requests", skipIf(skip), () => {
    assert.deepEqual(log()?.errors, []);
  });
}

suite("browser bundle (esbuild, platform browser)", () => {
  test("the package entry src/index.ts bundles with no Node built-in", async (t) => {
    const b = await bundleForBrowser({ entry: { file: "src/index.ts" } });
    assert.deepEqual(b.nodeImports, []);
    assert.ok("src/engine/wasm/instance.ts" in b.metafile.inputs, "the wasm engine is not in the bundle");
    t.diagnostic(`${(b.js.length / 1024).toFixed(0)} KiB with inline source map, ${Object.keys(b.metafile.inputs).length} inputs`);
  });

  test('`import … from "statsworker-wasm"` bundles dist/ with no Node built-in', skipIf(distMissing), async () => {
    const b = await bundleForBrowser({ entry: { contents: 'export * from "statsworker-wasm";' } });
    assert.deepEqual(b.nodeImports, []);
    const inputs = Object.keys(b.metafile.inputs);
    assert.ok(inputs.includes("dist/index.js"), `resolved to ${inputs.filter((i) => !i.includes("node_modules")).join(", ")}`);
    assert.ok(!inputs.some((i) => i.startsWith("src/")), "the package name resolved to src/, not to the built package");
  });
});

// The suites below are not skipped as a whole: each test is, so that the run's summary counts
// every one of them as skipped (a skipped suite counts as nothing), and the hooks do nothing.
const noChromium = chromiumMissing;
const noDist = chromiumMissing ?? distMissing;

suite("in headless Chromium", () => {
  let browser: Browser | undefined;
  let server: TestServer | undefined;

  before(
    async () => {
      if (noChromium) return;
      server = await startServer({
        // laid out as an application that installed the package: /node_modules/<name>/...
        "/node_modules/statsworker-wasm/dist/": join(ROOT, "dist"),
        "/node_modules/@bufbuild/protobuf/": join(ROOT, "node_modules/@bufbuild/protobuf"),
      });
      browser = await launchChromium();
      console.log(`chromium ${browser.version()}, test server ${server.origin}`);
    },
    { timeout: 60_000 },
  );

  after(async () => {
    await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, "closing chromium").catch((err: unknown) => console.error(err));
    await server?.close().catch((err: unknown) => console.error(err));
  });

  suite("in-page suite bundled by esbuild from src/index.ts", () => {
    let report: PageReport | undefined;
    let log: PageLog | undefined;
    before(
      async () => {
        if (noChromium) return;
        const bundle = await bundleForBrowser({ entry: { file: "test/browser/page-entry.ts" } });
        assert.deepEqual(bundle.nodeImports, []);
        server!.put("/bundle/page.js", bundle.js);
        server!.put("/bundle/index.html", '<!doctype html><meta charset="utf-8"><title>bundle</title><script type="module" src="/bundle/page.js"></script>');
        ({ report, log } = await runPageSuite(browser!, `${server!.origin}/bundle/index.html?seed=${SEED}`, PAGE_SUITE_TIMEOUT_MS));
        console.log(`in-page suite (bundle): ${report.userAgent}`);
      },
      { timeout: PAGE_SUITE_TIMEOUT_MS + 60_000 },
    );
    pageCaseTests(noChromium, () => report, () => log);
  });

  suite("dist/ through the import map of docs/browser.md", () => {
    test("the docs snippet runs as written and logs the coalesced stat", skipIf(noDist), async () => {
      server!.put("/index.html", await markdownBlock("docs/browser.md", "html"));
      const page = await browser!.newPage();
      const log = new PageLog(page);
      try {
        const logged = page.waitForEvent("console", { predicate: (m) => m.text().startsWith("track "), timeout: 30_000 });
        await page.goto(`${server!.origin}/index.html`, { timeout: 30_000 });
        const message = await withTimeout(Promise.race([logged, log.fatal]), 35_000, "the snippet's console.log");
        assert.equal(message.text(), "track TR_1: 56 bytes, 2 packets");
        assert.deepEqual(log.errors, []);
      } finally {
        await page.close().catch(() => {});
      }
    });

    let report: PageReport | undefined;
    let log: PageLog | undefined;
    before(
      async () => {
        if (noDist) return;
        const importMap = /<script type="importmap">[\s\S]*?<\/script>/.exec(await markdownBlock("docs/browser.md", "html"))?.[0];
        assert.ok(importMap, "docs/browser.md has no import map");
        // the page entry without the library: "statsworker-wasm" and protobuf come from the import map
        const bundle = await bundleForBrowser({
          entry: { file: "test/browser/page-entry.ts" },
          external: ["@bufbuild/protobuf", "@bufbuild/protobuf/*"],
          plugins: [redirectLibrary("statsworker-wasm", true)],
        });
        const library = Object.keys(bundle.metafile.inputs).filter((i) => i.startsWith("src/") && i !== "src/sim/random.ts");
        assert.deepEqual(library, [], "the import-map page bundled library sources");
        server!.put("/dist-suite/page.js", bundle.js);
        server!.put("/dist-suite/index.html", `<!doctype html><meta charset="utf-8"><title>dist</title>\n${importMap}\n<script type="module" src="/dist-suite/page.js"></script>`);
        ({ report, log } = await runPageSuite(browser!, `${server!.origin}/dist-suite/index.html?seed=${SEED}`, PAGE_SUITE_TIMEOUT_MS));
      },
      { timeout: PAGE_SUITE_TIMEOUT_MS + 60_000 },
    );
    pageCaseTests(noDist, () => report, () => log);
  });

  suite("demo page (npm run demo)", () => {
    let demo: ChildProcess | undefined;
    let page: Page | undefined;
    let log: PageLog | undefined;
    let url = "";

    before(
      async () => {
        if (noChromium) return;
        const child = spawn(process.execPath, [join(ROOT, "examples/browser/serve.mjs")], {
          cwd: ROOT,
          env: { ...process.env, PORT: "0", HOST: "127.0.0.1" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        demo = child;
        let output = "";
        url = await withTimeout(
          new Promise<string>((ok, fail) => {
            const onData = (chunk: Buffer) => {
              output += chunk.toString();
              const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(output);
              if (m) ok(m[0]);
            };
            child.stdout!.on("data", onData);
            child.stderr!.on("data", onData);
            child.once("exit", (code) => fail(new Error(`serve.mjs exited with ${code}:\n${output}`)));
          }),
          60_000,
          "serve.mjs printing its URL",
        );
        page = await browser!.newPage({ viewport: { width: 1280, height: 1000 } });
        log = new PageLog(page);
        await page.goto(url, { timeout: 30_000 });
      },
      { timeout: 120_000 },
    );

    after(async () => {
      await page?.close().catch(() => {});
      if (demo && demo.exitCode === null) {
        const exited = new Promise((ok) => demo!.once("exit", ok));
        demo.kill("SIGTERM");
        await withTimeout(exited, 5_000, "serve.mjs exiting").catch(() => demo!.kill("SIGKILL"));
      }
    });

    const demoState = () => page!.evaluate(() => window.__demo as DemoState);

    test("the charts fill with windows coalesced by the wasm engine", skipIf(noChromium), async (t) => {
      await withTimeout(
        Promise.race([page!.waitForFunction(() => (window.__demo?.points ?? 0) >= 4, null, { timeout: 30_000, polling: 200 }), log!.fatal]),
        35_000,
        "four windows on the demo charts",
      );
      const state = await demoState();
      assert.equal(state.tracks, 6);
      for (const chart of ["score", "bitrate", "loss"] as const) {
        assert.ok(state.charts[chart] >= state.tracks * 3, `${chart} chart has ${state.charts[chart]} points`);
      }
      assert.ok(state.counters.statsOut >= state.tracks * 3 && state.counters.statsIn >= state.counters.statsOut * 4);
      // the lines are really drawn: count saturated (series-coloured) pixels on each canvas
      const ink = await page!.evaluate(() =>
        // bitrate is drawn on two canvases, one scale per kind (video, audio)
        [["score"], ["bitrate", "bitrate-audio"], ["loss"]].map((ids) => {
          let n = 0;
          for (const id of ids) {
            const c = document.getElementById(id) as HTMLCanvasElement;
            const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 128 && Math.abs(d[i]! - d[i + 1]!) + Math.abs(d[i + 1]! - d[i + 2]!) > 60) n++;
          }
          return [ids[0]!, n] as const;
        }),
      );
      for (const [id, n] of ink) assert.ok(n > 300, `${id} chart has only ${n} coloured pixels`);
      t.diagnostic(`windows ${state.points}, stats in ${state.counters.statsIn}, out ${state.counters.statsOut}; coloured pixels ${ink.map(([id, n]) => `${id} ${n}`).join(", ")}`);
    });

    test("the benchmark button runs ts vs wasm and draws the comparison", skipIf(noChromium), async (t) => {
      await page!.click("#run-bench", { timeout: 10_000 });
      await withTimeout(
        Promise.race([page!.waitForFunction(() => window.__demo?.bench?.done === true, null, { timeout: 90_000, polling: 250 }), log!.fatal]),
        95_000,
        "the demo benchmark",
      );
      const bench = (await demoState()).bench!;
      assert.equal(bench.error, undefined);
      assert.equal(bench.identical, true, "ts and wasm outputs differ in the demo benchmark");
      assert.equal(bench.rows.length, 3);
      for (const r of bench.rows) assert.ok(r.ts > 0 && r.wasm > 0, `${r.workload}: ts ${r.ts}, wasm ${r.wasm}`);
      for (const r of bench.rows) t.diagnostic(`${r.workload}: ts ${Math.round(r.ts)} stats/s, wasm ${Math.round(r.wasm)} stats/s (x${(r.wasm / r.ts).toFixed(2)})`);
    });

    test("a screenshot of the page is saved", skipIf(noChromium), async (t) => {
      // a few more windows after the benchmark, so the picture shows some history
      const points = (await demoState()).points;
      await page!.waitForFunction((n) => (window.__demo?.points ?? 0) >= n, Math.max(points + 1, 12), { timeout: 20_000, polling: 200 });
      const file = join(await mkdtemp(join(tmpdir(), "statsworker-browser-")), "demo.png");
      await page!.screenshot({ path: file, fullPage: true, timeout: 15_000 });
      const { size } = await stat(file);
      assert.ok(size > 20_000, `the screenshot is only ${size} bytes`);
      t.diagnostic(`screenshot: ${file}`);
      console.log(`demo screenshot: ${file}`);
    });

    test("the demo page logged no errors and no failed requests", skipIf(noChromium), () => {
      assert.deepEqual(log?.errors, []);
    });
  });
});
