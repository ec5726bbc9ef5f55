/**
 * Bounds: memory plateaus under 100 000 tracks across 10 000 participants over many windows,
 * quiet tracks cost nothing, stats after close are dropped and counted (R5), and stats over
 * LIMITS are rejected whole on both engines, from objects and from bytes.
 *
 * Memory is measured from outside (process.memoryUsage() after a full GC): the wasm memory is
 * part of `external`/`rss`. The figures are printed per window.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import {
  AnalyticsStatSchema,
  LIMITS,
  StatsWorker,
  StreamType,
  TelemetryService,
  isLimitError,
  loadEngine,
  type AnalyticsStat,
  type EngineKind,
} from "../../src/index.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MiB = 1024 * 1024;
const now = () => new Date(Date.UTC(2026, 0, 1));

interface Figures {
  rss: number;
  heap: number;
  external: number;
}

function measure(): Figures {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external };
}

const fmt = (f: Figures) => `rss ${(f.rss / MiB).toFixed(1)} MiB, heap ${(f.heap / MiB).toFixed(1)} MiB, external ${(f.external / MiB).toFixed(1)} MiB`;

/** Asserts `later` is within `ratio` (plus `slackMiB`) of `base`, field by field. */
function plateau(base: Figures, later: Figures, ratio: number, slackMiB: number, what: string): void {
  for (const k of ["rss", "heap", "external"] as const) {
    assert.ok(later[k] <= base[k] * ratio + slackMiB * MiB, `${what}: ${k} grew from ${(base[k] / MiB).toFixed(1)} to ${(later[k] / MiB).toFixed(1)} MiB`);
  }
}

function stat(i: number, init: MessageInitShape<typeof AnalyticsStatSchema> = {}): AnalyticsStat {
  return create(AnalyticsStatSchema, {
    score: 2,
    streams: [{ primaryPackets: 100 + (i % 7), primaryBytes: 1000n, videoLayers: i % 2 ? [{ layer: i % 3, packets: 5, bytes: 50n, frames: 1 }] : [] }],
    ...init,
  });
}

suite("bounds", () => {
  test("100 000 tracks across 10 000 participants over 6 windows: wasm memory and JS heap plateau", async (t) => {
    const engine = await loadEngine("wasm");
    let reported = 0;
    let batches = 0;
    const service = new TelemetryService({
      engine, now,
      reporter: { report: () => assert.fail("report()"), reportBytes: (b) => { batches++; reported += b.length > 0 ? 1 : 0; } },
    });
    const participants = 10_000;
    const tracksPer = 10;
    const parts: Uint8Array[] = [];
    for (let p = 0; p < participants; p++) {
      service.participantJoined({ sid: `RM_${p % 500}`, name: "r" }, { sid: `PA_${p}`, identity: "i" });
      for (let k = 0; k < tracksPer; k++) {
        const s = stat(p * tracksPer + k, { roomId: `RM_${p % 500}`, participantId: `PA_${p}`, trackId: `TR_${p}_${k}`, kind: k % 2 });
        parts.push(sizeDelimitedEncode(AnalyticsStatSchema, s));
      }
    }
    // the same batch every window (in slices of 10 000 stats): generation costs nothing per window
    const slices: Uint8Array[] = [];
    for (let i = 0; i < parts.length; i += 10_000) {
      const chunk = parts.slice(i, i + 10_000);
      const buf = new Uint8Array(chunk.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunk) {
        buf.set(c, at);
        at += c.length;
      }
      slices.push(buf);
    }
    parts.length = 0;
    const figures: Figures[] = [];
    for (let w = 0; w < 6; w++) {
      const inBefore = service.counters.statsIn;
      for (const slice of slices) service.ingestBatch(slice);
      assert.equal(service.counters.statsIn - inBefore, participants * tracksPer);
      batches = 0;
      service.flush();
      assert.equal(batches, participants, "one report per participant");
      const f = measure();
      figures.push(f);
      t.diagnostic(`window ${w + 1}: ${fmt(f)}`);
      console.log(`bounds: 100k tracks, window ${w + 1}: ${fmt(f)}`);
    }
    assert.equal(service.counters.statsOut, 6 * participants * tracksPer);
    // after warm-up (window 2), growth stays under 10 % (plus a little for GC noise)
    plateau(figures[1]!, figures[5]!, 1.1, 4, "100k tracks");
    await service.stop();
  });

  test("a participant that stops sending costs O(1): its quiet slots are reused, memory stays flat", async (t) => {
    // 10 000 tracks on one participant: well past the default bound, which this test is not about
    const engine = await loadEngine("wasm", { bounds: { maxTracksPerWorker: 20_000 } });
    let reports = 0;
    const service = new TelemetryService({ engine, now, reporter: { report: () => {}, reportBytes: () => void reports++ } });
    service.participantJoined({ sid: "R", name: "r" }, { sid: "IDLE", identity: "i" });
    service.participantJoined({ sid: "R", name: "r" }, { sid: "BUSY", identity: "b" });
    const bytes = toBinary(AnalyticsStatSchema, stat(1));
    for (let k = 0; k < 10_000; k++) service.trackStats("R", "IDLE", `TR_${k}`, StreamType.UPSTREAM, bytes);
    service.flush();
    const figures: Figures[] = [];
    for (let w = 0; w < 50; w++) {
      reports = 0;
      // 10 tracks never seen before, every window, on the busy participant and on the idle one's
      // neighbour track ids: slots of drained tracks must be reused, not added
      for (let k = 0; k < 10; k++) service.trackStats("R", "BUSY", `NEW_${w}_${k}`, StreamType.DOWNSTREAM, bytes);
      service.flush();
      assert.equal(reports, 1, "the idle participant reports nothing");
      if (w % 10 === 9) {
        const f = measure();
        figures.push(f);
        t.diagnostic(`window ${w + 1}: ${fmt(f)}`);
      }
    }
    plateau(figures[0]!, figures[figures.length - 1]!, 1.02, 1, "idle participant, 50 windows");
    // and again with 10 000 new track ids per window on the busy one: after a warm-up (the
    // engine's heap settles within ~10 such windows), no growth
    const fresh = (w: number) => {
      for (let k = 0; k < 10_000; k++) service.trackStats("R", "BUSY", `W${w}_${k}`, StreamType.UPSTREAM, bytes);
      service.flush();
    };
    for (let w = -12; w < 0; w++) fresh(w);
    const base = measure();
    for (let w = 0; w < 10; w++) fresh(w);
    const after = measure();
    t.diagnostic(`10 windows of 10 000 fresh track ids: before ${fmt(base)}, after ${fmt(after)}`);
    plateau(base, after, 1.05, 2, "fresh track ids every window");
    await service.stop();
  });

  for (const kind of ["ts", "wasm"] as EngineKind[]) {
    test(`[${kind}] stats after close are dropped and counted (R5), from objects, bytes and batches`, async () => {
      const engine = await loadEngine(kind);
      const out: AnalyticsStat[] = [];
      const service = new TelemetryService({ engine, now, reporter: { report: (s) => void out.push(...s) } });
      service.participantJoined({ sid: "R", name: "r" }, { sid: "P", identity: "p" });
      service.trackStats("R", "P", "t", StreamType.UPSTREAM, stat(1));
      service.participantLeft("R", "P");
      assert.equal(out.length, 1);
      const late = stat(2, { roomId: "R", participantId: "P", trackId: "t" });
      for (let i = 0; i < 1000; i++) {
        service.trackStats("R", "P", "t", StreamType.UPSTREAM, late);
        service.trackStats("R", "P", "t", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, late));
      }
      service.ingestBatch(sizeDelimitedEncode(AnalyticsStatSchema, late));
      service.flush();
      assert.equal(service.counters.dropped, 2001);
      assert.equal(out.length, 1);
      assert.equal(service.roomDetails("P")?.roomId, "R");
    });

    test(`[${kind}] a stat over LIMITS is rejected whole, from objects and bytes, and the window is intact`, async () => {
      const engine = await loadEngine(kind);
      const out: AnalyticsStat[] = [];
      const worker = new StatsWorker({ engine, reporter: { report: (s) => void out.push(...s) }, roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p", now });
      const layer = { layer: 9, packets: 1, bytes: 1n, frames: 1 };
      const stream = (layers: number) => ({ primaryPackets: 1, videoLayers: Array.from({ length: layers }, () => layer) });
      const over = [
        ["too_many_streams", create(AnalyticsStatSchema, { score: 1, streams: Array.from({ length: LIMITS.maxStreamsPerStat + 1 }, () => stream(0)) })],
        ["too_many_layers", create(AnalyticsStatSchema, { score: 1, streams: [stream(1), stream(LIMITS.maxLayersPerStream + 1)] })],
        ["too_many_streams", create(AnalyticsStatSchema, { score: 1, streams: Array.from({ length: 5000 }, () => stream(0)) })],
      ] as const;
      const atLimit = create(AnalyticsStatSchema, { score: 1, streams: Array.from({ length: LIMITS.maxStreamsPerStat }, () => stream(LIMITS.maxLayersPerStream)) });
      worker.onTrackStat("t", StreamType.UPSTREAM, stat(1));
      for (const [code, s] of over) {
        assert.throws(() => worker.onTrackStat("t", StreamType.UPSTREAM, s), (e) => isLimitError(e) && e.code === code);
        assert.throws(() => worker.onTrackStatBytes("t", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, s)), (e) => isLimitError(e) && e.code === code);
        assert.throws(() => worker.onTrackStat("fresh", StreamType.UPSTREAM, s), (e) => isLimitError(e));
      }
      const big = new Uint8Array(LIMITS.maxMessageBytes + 1);
      assert.throws(() => worker.onTrackStatBytes("t", StreamType.UPSTREAM, big), (e) => isLimitError(e) && e.code === "message_too_large");
      worker.onTrackStat("t", StreamType.UPSTREAM, stat(1));
      worker.onTrackStatBytes("edge", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, atLimit));
      worker.update();
      assert.deepEqual(out.map((s) => s.trackId).sort(), ["edge", "t"], "no track left behind by a rejected stat");
      const t = out.find((s) => s.trackId === "t")!;
      assert.equal(t.streams[0]!.primaryPackets, 202); // only the two accepted stats
      assert.equal(t.score, 2);
      const edge = out.find((s) => s.trackId === "edge")!;
      assert.equal(edge.streams[0]!.primaryPackets, LIMITS.maxStreamsPerStat);
      assert.equal(edge.streams[0]!.videoLayers[0]!.packets, LIMITS.maxStreamsPerStat * LIMITS.maxLayersPerStream);
      // malformed counts refused encoded stats only (3 over-limit messages and the 1 MiB one)
      assert.equal(worker.counters.malformed, 4);
    });
  }
});
