/**
 * Records the getStats() fixtures of test/fixtures/rtc/ from real loopback calls in headless
 * Chromium (fake camera and microphone):
 *
 * - `chromium-call.json`: a call whose video is published with three simulcast encodings, the
 *   answer rewritten to accept them so that Chromium sends them all, sampled every 500 ms on both
 *   peers. The receiver cannot take simulcast: it switches between the SSRCs it gets, and each one
 *   it switches back to starts from zero again (streams that vanish and come back);
 * - `chromium-restart.json`: a call sampled a few times, closed, and a second call on the same
 *   tracks whose offer was rewritten to the first call's SSRCs, so the same SSRCs start again
 *   from zero.
 *
 * Run: node --import tsx test/browser/record-rtc-fixtures.ts
 * (certificate dictionaries are dropped: they are large and the collector ignores them.)
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FAKE_MEDIA_ARGS, ROOT, bundleForBrowser, chromiumMissing, launchChromium, PageLog, startServer, withTimeout } from "./harness.ts";


const PAGE = `
import { startLoopbackCall } from "./examples/browser/real-call.ts";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dump = async (pc) => [...(await pc.getStats()).values()].filter((s) => s.type !== "certificate");
async function sample(call, n, into) {
  for (let i = 0; i < n; i++) {
    await sleep(500);
    into.push({ sender: await dump(call.sender), receiver: await dump(call.receiver) });
  }
}
(async () => {
  const simulcast = [];
  const a = await startLoopbackCall({ simulcast: true, acceptSimulcast: true });
  await sample(a, 6, simulcast);
  a.close();
  const restart = [];
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  const b = await startLoopbackCall({ tracks: media.getTracks(), forceSsrcBase: 111000 });
  await sample(b, 4, restart);
  b.close();
  const c = await startLoopbackCall({ tracks: media.getTracks(), forceSsrcBase: 111000 });
  await sample(c, 3, restart);
  c.close();
  window.__fixtures = { simulcast, restart, userAgent: navigator.userAgent };
})().catch((e) => { window.__fixtures = { error: String(e && e.stack || e) }; });
`;

if (chromiumMissing) {
  console.error(chromiumMissing);
  process.exit(1);
}
const bundle = await bundleForBrowser({ entry: { contents: PAGE } });
const server = await startServer({});
server.put("/record.js", bundle.js);
server.put("/index.html", '<!doctype html><meta charset="utf-8"><script type="module" src="/record.js"></script>');
const browser = await launchChromium(FAKE_MEDIA_ARGS);
try {
  const page = await browser.newPage();
  const log = new PageLog(page);
  await page.goto(`${server.origin}/index.html`);
  await withTimeout(
    Promise.race([page.waitForFunction(() => (window as { __fixtures?: unknown }).__fixtures !== undefined, null, { timeout: 60_000 }), log.fatal]),
    65_000,
    "the recording",
  );
  const out = (await page.evaluate(() => (window as { __fixtures?: unknown }).__fixtures)) as {
    error?: string;
    simulcast: unknown[];
    restart: unknown[];
    userAgent: string;
  };
  if (out.error) throw new Error(out.error);
  const meta = { recordedWith: out.userAgent, recordedAt: new Date().toISOString(), by: "node --import tsx test/browser/record-rtc-fixtures.ts" };
  await writeFile(join(ROOT, "test/fixtures/rtc/chromium-call.json"), JSON.stringify({ ...meta, intervalMs: 500, snapshots: out.simulcast }, null, 1) + "\n");
  await writeFile(join(ROOT, "test/fixtures/rtc/chromium-restart.json"), JSON.stringify({ ...meta, intervalMs: 500, restartAfter: 4, snapshots: out.restart }, null, 1) + "\n");
  console.log(`recorded ${out.simulcast.length} + ${out.restart.length} snapshots with ${out.userAgent}`);
} finally {
  await browser.close();
  await server.close();
}
