/**
 * RtcStatsCollector in a real call: headless Chromium with a fake camera and microphone runs two
 * RTCPeerConnections in one page (rtc-call-page.ts, bundled by esbuild from the source), samples
 * both every 500 ms and feeds StatsWorkers of both engines. Checked here, in Node: directions and
 * track ids, per-window deltas adding up to the last cumulative report on both peers, the
 * workers' windows adding up the same on both engines, scores in range. The sender is told the
 * receiver accepts simulcast, so Chromium sends all three encodings (numbered as layers 0-2).
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) every test is reported as skipped, loudly.
 */
import { after, before, suite, test } from "node:test";
import assert from "node:assert/strict";
import { fromJson } from "@bufbuild/protobuf";
import type { Browser } from "playwright-core";
import { AnalyticsStatSchema, StreamType, type AnalyticsStat } from "../../src/index.ts";
import { cumulativeOverRuns, cumulativeTotals, sumWindows, type StreamTotals } from "../sources/rtc-totals.ts";
import { FAKE_MEDIA_ARGS, bundleForBrowser, chromiumMissing, launchChromium, PageLog, shoutSkip, startServer, withTimeout, type TestServer } from "./harness.ts";
import type { RtcCallReport, RtcCallSide } from "./rtc-call-page.ts";

const WINDOWS = 8;
const INTERVAL_MS = 500;

if (chromiumMissing) shoutSkip(`${chromiumMissing}; the real-call tests of RtcStatsCollector are skipped`);
const skip = chromiumMissing === undefined ? {} : { skip: chromiumMissing };

const stats = (side: RtcCallSide): AnalyticsStat[] => side.windows.flat().map((s) => fromJson(AnalyticsStatSchema, s.stat));
const reported = (side: RtcCallSide, engine: string): AnalyticsStat[] => side.reported[engine]!.map((j) => fromJson(AnalyticsStatSchema, j));

suite("RtcStatsCollector in a real Chromium call", () => {
  let browser: Browser | undefined;
  let server: TestServer | undefined;
  let report: RtcCallReport | undefined;
  let log: PageLog | undefined;

  before(
    async () => {
      if (chromiumMissing) return;
      const bundle = await bundleForBrowser({ entry: { file: "test/browser/rtc-call-page.ts" } });
      assert.deepEqual(bundle.nodeImports, []);
      server = await startServer({});
      server.put("/call/page.js", bundle.js);
      server.put("/call/index.html", '<!doctype html><meta charset="utf-8"><title>call</title><script type="module" src="/call/page.js"></script>');
      browser = await launchChromium(FAKE_MEDIA_ARGS);
      const page = await browser.newPage();
      log = new PageLog(page);
      await page.goto(`${server.origin}/call/index.html?windows=${WINDOWS}&interval=${INTERVAL_MS}`, { timeout: 30_000 });
      await withTimeout(
        Promise.race([page.waitForFunction(() => window.__rtcCall !== undefined, null, { timeout: 40_000, polling: 100 }), log.fatal]),
        45_000,
        "the call page",
      );
      const r = await page.evaluate(() => window.__rtcCall!);
      if ("error" in r && r.error !== undefined) throw new Error(`the call page failed: ${r.error}`);
      report = r as RtcCallReport;
      console.log(`real call: ${report.userAgent}; video encodings ${report.encodings.map((e) => `${e.rid ?? "-"}:${e.packetsSent}`).join(" ")}`);
      await page.close();
    },
    { timeout: 90_000 },
  );

  after(async () => {
    await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, "closing chromium").catch((err: unknown) => console.error(err));
    await server?.close().catch((err: unknown) => console.error(err));
  });

  test("every collect gives one stat per track: the sender's UPSTREAM, the receiver's DOWNSTREAM, under the MediaStreamTrack ids", skip, () => {
    const r = report!;
    assert.equal(r.trackIds.remoteAudio, r.trackIds.audio, "Chromium keeps the track id across the call");
    for (const [side, direction] of [[r.sender, StreamType.UPSTREAM], [r.receiver, StreamType.DOWNSTREAM]] as const) {
      assert.equal(side.windows.length, WINDOWS);
      for (const w of side.windows) {
        assert.deepEqual(w.map((s) => `${s.kind} ${s.trackId}`).sort(), [`audio ${r.trackIds.audio}`, `video ${r.trackIds.video}`]);
        for (const s of w) assert.equal(s.direction, direction);
      }
      for (const s of stats(side)) assert.equal(s.kind, direction);
    }
  });

  test("the sender has one stream per simulcast encoding, each a video layer numbered by its rid; the receiver one stream per track", skip, (t) => {
    const r = report!;
    const video = stats(r.sender).filter((s) => s.trackId === r.trackIds.video);
    for (const s of video) assert.equal(s.streams.length, r.encodings.length);
    assert.ok(r.encodings.some((e) => e.packetsSent > 0));
    for (const s of stats(r.receiver)) assert.equal(s.streams.length, 1);
    assert.equal(r.encodings.length, 3);
    // every encoding that sent something is a layer, numbered from its rid as LiveKit numbers them
    const ridLayer: Record<string, number> = { q: 0, h: 1, f: 2 };
    const seen = new Set<number>();
    for (const st of video.flatMap((s) => s.streams)) {
      const rid = r.encodings.find((e) => e.ssrc === st.ssrc)!.rid!;
      for (const l of st.videoLayers) {
        assert.equal(l.layer, ridLayer[rid], `ssrc ${st.ssrc} (rid ${rid})`);
        seen.add(l.layer);
      }
    }
    const sending = r.encodings.filter((e) => e.packetsSent > 0).length;
    assert.equal(seen.size, sending, `layers reported: ${[...seen].join(", ")}`);
    // Chromium adds encodings as its bandwidth estimate grows (two within 4 s here); on a loaded
    // machine it may not get there, and the fixture tests check the numbering of several layers
    if (sending < 2) t.diagnostic(`warning: Chromium sent only ${sending} of the 3 simulcast encodings in this run`);
  });

  test("per-window deltas add up to the cumulative counters on both peers, over every run of a stream", skip, (t) => {
    const r = report!;
    // the sender's streams never restart: its windows add up to its last report
    const up = cumulativeOverRuns(r.sender.rtpReports);
    assert.deepEqual([...up.runs.values()], [...up.runs.values()].map(() => 1));
    assert.deepEqual(sumWindows(stats(r.sender)), cumulativeTotals(r.sender.lastReport));
    // the receiver switches between the simulcast SSRCs it is sent: streams vanish, come back from zero
    const down = cumulativeOverRuns(r.receiver.rtpReports);
    assert.deepEqual(sumWindows(stats(r.receiver)), down.totals);
    for (const totals of [up.totals, down.totals]) assert.ok([...totals.values()].some((x) => x.primaryPackets > 50), "hardly any packets flowed");
    t.diagnostic(`sender totals: ${[...up.totals].map(([k, v]) => `${k} ${v.primaryPackets} pkts ${v.primaryBytes} B`).join("; ")}`);
    t.diagnostic(`receiver runs per stream: ${[...down.runs].map(([k, v]) => `${k} ${v}`).join("; ")}; collector restarts ${r.receiver.collectorCounters["restarts"]}, forgotten ${r.receiver.collectorCounters["forgotten"]}`);
  });

  test("the StatsWorkers of both engines report the same windows, and they add up to the same totals", skip, () => {
    const r = report!;
    for (const side of [r.sender, r.receiver]) {
      // the order of tracks within a window is unspecified: compare each window as a set
      const sorted = (engine: string) => side.reported[engine]!.map((j) => JSON.stringify(j)).sort();
      assert.deepEqual(sorted("wasm"), sorted("ts"));
      for (const engine of ["ts", "wasm"]) {
        assert.deepEqual(side.workerCounters[engine], { statsIn: WINDOWS * 2, invalid: 0, statsOut: WINDOWS * 2 });
        const byTrack = new Map<string, StreamTotals>();
        for (const s of reported(side, engine)) {
          const st = s.streams[0]!;
          const prev = byTrack.get(s.trackId);
          byTrack.set(s.trackId, {
            primaryPackets: (prev?.primaryPackets ?? 0) + st.primaryPackets,
            primaryBytes: (prev?.primaryBytes ?? 0) + Number(st.primaryBytes),
            retransmitPackets: (prev?.retransmitPackets ?? 0) + st.retransmitPackets,
            retransmitBytes: (prev?.retransmitBytes ?? 0) + Number(st.retransmitBytes),
            frames: (prev?.frames ?? 0) + st.frames,
            nacks: (prev?.nacks ?? 0) + st.nacks,
            plis: (prev?.plis ?? 0) + st.plis,
            firs: (prev?.firs ?? 0) + st.firs,
          });
        }
        // expected per track: the sum of its SSRCs' cumulative totals over their runs
        const totals = cumulativeOverRuns(side.rtpReports).totals;
        const ssrcsOf = new Map<string, Set<number>>();
        for (const s of stats(side)) for (const st of s.streams) (ssrcsOf.get(s.trackId) ?? ssrcsOf.set(s.trackId, new Set()).get(s.trackId)!).add(st.ssrc);
        for (const [trackId, sum] of byTrack) {
          const dir = side === r.sender ? "up" : "down";
          const expected = [...ssrcsOf.get(trackId)!].map((ssrc) => totals.get(`${dir}/${ssrc}`)!);
          for (const f of Object.keys(sum) as (keyof StreamTotals)[]) {
            assert.equal(sum[f], expected.reduce((a, x) => a + x[f], 0), `${engine} ${trackId} ${f}`);
          }
        }
      }
    }
  });

  test("scores are MOS values in [1, 4.5]; rtt and jitter are plausible for a loopback call", skip, (t) => {
    const r = report!;
    for (const side of [r.sender, r.receiver]) {
      const all = stats(side);
      for (const s of all) assert.ok(s.score >= 1 && s.score <= 4.5, `score ${s.score}`);
      // loopback: the last windows are clean; the first may be dry while the call starts
      for (const s of all.slice(-4)) assert.ok(s.score > 3.5, `a clean loopback window scored ${s.score}`);
      for (const st of all.flatMap((s) => s.streams)) {
        assert.ok(st.rtt < 200, `rtt ${st.rtt} ms`);
        assert.ok(st.jitter < 200_000, `jitter ${st.jitter} us`);
      }
      t.diagnostic(`scores ${all.map((s) => s.score.toFixed(2)).join(" ")}`);
    }
    assert.equal(r.sender.collectorCounters["malformed"], 0);
    assert.equal(r.receiver.collectorCounters["malformed"], 0);
  });

  test("the call page logged no errors", skip, () => {
    assert.deepEqual(log?.errors, []);
  });
});
