import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  StatsWorker,
  StreamType,
  TelemetryService,
  loadEngine,
  type AnalyticsStat,
  type Engine,
} from "../../src/index.ts";
import { WASM_BASE64 } from "../../src/engine/wasm/binary.gen.ts";
import { CapturingReporter, ManualClock, engine, stat } from "../helpers.ts";

const { UPSTREAM, DOWNSTREAM } = StreamType;

/** The raw bytes of each stat inside an encoded AnalyticsStats. */
function statBytes(batch: Uint8Array): Uint8Array[] {
  const r = new BinaryReader(batch);
  const out: Uint8Array[] = [];
  while (r.pos < r.len) {
    const [no] = r.tag();
    assert.equal(no, 1);
    out.push(r.bytes().slice());
  }
  return out;
}

function batchOf(parts: AnalyticsStat[]): Uint8Array {
  const chunks = parts.map((s) => sizeDelimitedEncode(AnalyticsStatSchema, s));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((o, c) => (out.set(c, o), o + c.length), 0);
  return out;
}

suite("wasm engine", () => {
  test("the embedded module is small and loads in a fresh instance per loadEngine()", async () => {
    assert.ok(WASM_BASE64.length < 64 * 1024);
    const [a, b] = [await loadEngine("wasm"), await loadEngine("wasm")];
    assert.notEqual(a, b);
    assert.equal(a.kind, "wasm");
  });

  test("reportBytes gets exactly the bytes protobuf-es writes for the object path, per stat", async () => {
    for (const timeMs of [Date.UTC(2026, 10, 25, 12, 0, 0, 123), 0, -1500, 1]) {
      const build = async (e: Engine, bytesOut: boolean) => {
        const got: { batches: Uint8Array[]; objects: AnalyticsStat[] } = { batches: [], objects: [] };
        const reporter = bytesOut
          ? { report: () => assert.fail("report()"), reportBytes: (b: Uint8Array) => void got.batches.push(b.slice()) }
          : { report: (s: AnalyticsStat[]) => void got.objects.push(...s) };
        const w = new StatsWorker({ engine: e, reporter, roomId: "RM_ü", roomName: "", participantId: "PA_1", participantIdentity: "x", now: () => new Date(timeMs) });
        w.onTrackStat("TR_1", UPSTREAM, stat({ score: 3.25, streams: [{ primaryBytes: 2n ** 64n - 1n, primaryPackets: 1, rtt: 2 ** 32 - 1, videoLayers: [{ layer: -7, bytes: 5n, packets: 1 }] }] }));
        w.onTrackStat("TR_2", DOWNSTREAM, stat({ score: -0, streams: [] }));
        w.onTrackStat("", DOWNSTREAM, stat({ score: NaN, streams: [{ firs: 1 }, { plis: 2 ** 31 }] }));
        w.onTrackStat("TR_4", 9 as StreamType, stat({ score: 1, streams: [{ nacks: 7, videoLayers: [{ layer: 0 }] }] }));
        w.update();
        return got;
      };
      const wasm = await engine("wasm");
      const ts = await engine("ts");
      const bytesOut = await build(wasm, true);
      const objects = await build(ts, false);
      assert.equal(bytesOut.batches.length, 1);
      const expected = objects.objects.map((s) => toBinary(AnalyticsStatSchema, s));
      const actual = statBytes(bytesOut.batches[0]!);
      const key = (b: Uint8Array) => Buffer.from(b).toString("hex");
      assert.deepEqual(actual.map(key).sort(), expected.map(key).sort(), `time ${timeMs}`);
      // UPSTREAM results first (R2)
      const kinds = fromBinary(AnalyticsStatsSchema, bytesOut.batches[0]!).stats.map((s) => s.kind);
      assert.deepEqual(kinds, [UPSTREAM, UPSTREAM, DOWNSTREAM, DOWNSTREAM]);
    }
  });

  test("a steady bytes-out window hands the reporter the same view, valid during the call", async () => {
    const views: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    const w = new StatsWorker({ engine: await loadEngine("wasm"), reporter: { report() {}, reportBytes: (b) => { views.push(b); copies.push(b.slice()); } },
      roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p", now: () => new Date(0) });
    for (let i = 0; i < 3; i++) {
      w.onTrackStat("T", UPSTREAM, stat({ streams: [{ primaryPackets: 5 }] }));
      w.update();
    }
    assert.equal(views[0], views[2]);
    assert.deepEqual(copies[0], copies[2]);
  });

  test("views are cached for a bounded number of batch sizes: past it the cache starts again", async () => {
    const views: Uint8Array[] = [];
    let bad = 0;
    const w = new StatsWorker({
      engine: await loadEngine("wasm"),
      reporter: { report() {}, reportBytes: (b) => {
        views.push(b);
        if (fromBinary(AnalyticsStatsSchema, b).stats[0]!.trackId !== `T${"x".repeat(views.length - 1)}`) bad++;
      } },
      roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p", now: () => new Date(0) });
    // one track a window, its id one byte longer each time: every batch has a size of its own
    for (let n = 0; n < 2100; n++) {
      w.onTrackStat(`T${"x".repeat(n)}`, UPSTREAM, stat({ streams: [{ primaryPackets: 5 }] }));
      w.update();
    }
    assert.equal(bad, 0);
    const again = (n: number) => {
      w.onTrackStat(`T${"x".repeat(n)}`, UPSTREAM, stat({ streams: [{ primaryPackets: 5 }] }));
      w.update();
      return views.pop()!;
    };
    // the newest sizes are still cached; the first ones were let go when the bound was reached
    assert.equal(again(2099), views[2099]);
    assert.notEqual(again(0), views[0]);
  });

  test("empty room, participant and track ids work on a fresh engine, objects and bytes", async () => {
    for (const bytesOut of [false, true]) {
      const got: AnalyticsStat[] = [];
      const reporter = bytesOut
        ? { report: () => assert.fail("report()"), reportBytes: (b: Uint8Array) => void got.push(...fromBinary(AnalyticsStatsSchema, b).stats) }
        : { report: (s: AnalyticsStat[]) => void got.push(...s) };
      const w = new StatsWorker({ engine: await loadEngine("wasm"), reporter, roomId: "", roomName: "", participantId: "", participantIdentity: "" });
      w.onTrackStat("", UPSTREAM, stat({ streams: [{ primaryPackets: 1 }] }));
      w.onTrackStatBytes("", UPSTREAM, toBinary(AnalyticsStatSchema, stat({ streams: [{ primaryPackets: 2 }] })));
      w.update();
      assert.deepEqual(got.map((s) => [s.trackId, s.roomId, s.streams[0]!.primaryPackets]), [["", "", 3]]);
    }
  });

  test("ids that differ only in unpaired surrogates stay distinct, like JS strings (both engines)", async () => {
    const ids = ["\uD800", "\uDBFF", "\uFFFD", "a\uDC00b", "a\uDC01b", "\uD83D\uDE00"];
    const run = async (kind: "ts" | "wasm", bytesOut: boolean) => {
      const got: AnalyticsStat[] = [];
      const reporter = bytesOut
        ? { report: () => assert.fail("report()"), reportBytes: (b: Uint8Array) => void got.push(...fromBinary(AnalyticsStatsSchema, b).stats) }
        : { report: (s: AnalyticsStat[]) => void got.push(...s) };
      const service = new TelemetryService({ engine: await loadEngine(kind), reporter, now: () => new Date(0) });
      for (const pid of ["P\uD800", "P\uDBFF"]) {
        service.participantJoined({ sid: "R\uDC00", name: "n\uD800" }, { sid: pid, identity: "i" });
        ids.forEach((id, i) => service.trackStats("R\uDC00", pid, id, UPSTREAM, stat({ streams: [{ primaryPackets: i + 1 }] })));
      }
      service.flush();
      return got.map((s) => [s.roomName, s.participantId, s.trackId, s.streams[0]!.primaryPackets]).sort();
    };
    for (const bytesOut of [false, true]) {
      const ts = await run("ts", bytesOut);
      assert.equal(ts.length, 12);
      assert.deepEqual(await run("wasm", bytesOut), ts, `bytesOut ${bytesOut}`);
    }
  });

  test("a track that goes quiet gives its slot back and comes back fresh", async () => {
    const e = await loadEngine("wasm");
    const reporter = new CapturingReporter();
    const w = new StatsWorker({ engine: e, reporter, roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p" });
    w.onTrackStat("A", UPSTREAM, stat({ streams: [{ primaryPackets: 1 }] }));
    w.onTrackStat("B", UPSTREAM, stat({ streams: [{ primaryPackets: 2 }] }));
    w.update();
    w.onTrackStat("B", UPSTREAM, stat({ streams: [{ primaryPackets: 3 }] }));
    w.update(); // A is quiet: its slot is released here
    w.onTrackStat("A", UPSTREAM, stat({ streams: [{ primaryPackets: 4 }] }));
    w.onTrackStat("C", UPSTREAM, stat({ streams: [{ primaryPackets: 5 }] }));
    w.update();
    const last = Object.fromEntries(reporter.batches[2]!.map((s) => [s.trackId, s.streams[0]!.primaryPackets]));
    assert.deepEqual(last, { A: 4, C: 5 });
  });

  test("slots reused across workers never carry another worker's track id", async () => {
    const e = await loadEngine("wasm");
    const reporter = new CapturingReporter();
    const service = new TelemetryService({ engine: e, reporter, closeWaitMs: 0, now: () => new Date(1000) });
    for (let round = 0; round < 20; round++) {
      const pid = `PA_${round}`;
      service.participantJoined({ sid: "RM", name: "r" }, { sid: pid, identity: "i" });
      service.ingestBatch(batchOf([stat({ roomId: "RM", participantId: pid, trackId: `batch-${round}`, streams: [{ primaryPackets: round }] })]));
      service.trackStats("RM", pid, `obj-${round}`, UPSTREAM, stat({ streams: [{ primaryPackets: round }] }));
      service.flush();
      service.participantLeft("RM", pid);
      service.cleanupWorkers();
    }
    for (const s of reporter.all) {
      const round = Number(s.participantId.slice(3));
      assert.ok(s.trackId === `batch-${round}` || s.trackId === `obj-${round}`, `${s.participantId} got ${s.trackId}`);
      assert.equal(s.streams[0]!.primaryPackets, round);
    }
    assert.equal(reporter.all.length, 40);
  });

  test("a batch reaches a track the host also feeds: one slot, one result", async () => {
    const e = await loadEngine("wasm");
    const reporter = new CapturingReporter();
    const service = new TelemetryService({ engine: e, reporter });
    service.participantJoined({ sid: "RM", name: "r" }, { sid: "PA", identity: "i" });
    for (let i = 0; i < 3; i++) {
      service.ingestBatch(batchOf([stat({ roomId: "RM", participantId: "PA", trackId: "T", kind: DOWNSTREAM, streams: [{ primaryPackets: 1 }] })]));
      service.trackStats("RM", "PA", "T", DOWNSTREAM, stat({ streams: [{ primaryPackets: 10 }] }));
      service.flush();
    }
    assert.deepEqual(reporter.batches.map((b) => b.map((s) => [s.trackId, s.kind, s.streams[0]!.primaryPackets])), [
      [["T", DOWNSTREAM, 11]], [["T", DOWNSTREAM, 11]], [["T", DOWNSTREAM, 11]],
    ]);
  });

  test("batches follow rejoin, leave, reap and stop like trackStats does (Q2, R5, T3, T5)", async () => {
    for (const kind of ["ts", "wasm"] as const) {
      const clock = new ManualClock();
      const reporter = new CapturingReporter();
      const service = new TelemetryService({ engine: await loadEngine(kind), reporter, closeWaitMs: 100, now: clock.now });
      const msg = (packets: number) => batchOf([stat({ roomId: "RM", participantId: "PA", trackId: "T", streams: [{ primaryPackets: packets }] })]);
      service.participantJoined({ sid: "RM", name: "r" }, { sid: "PA", identity: "i" });
      service.ingestBatch(msg(1));
      service.participantLeft("RM", "PA"); // reports 1
      service.ingestBatch(msg(2)); // closed: dropped (R5)
      clock.advance(50);
      service.participantJoined({ sid: "RM", name: "r2" }, { sid: "PA", identity: "i" }); // replaces (Q2)
      service.ingestBatch(msg(4));
      clock.advance(200);
      service.cleanupWorkers(); // must not reap the new worker
      service.ingestBatch(msg(8));
      service.flush(); // reports 12
      service.participantLeft("RM", "PA");
      clock.advance(101);
      service.cleanupWorkers(); // reaped
      service.ingestBatch(msg(16)); // no worker: dropped (T3)
      await service.stop();
      service.ingestBatch(msg(32)); // stopped: dropped
      assert.deepEqual(reporter.all.map((s) => [s.roomName, s.streams[0]!.primaryPackets]), [["r", 1], ["r2", 12]], kind);
      assert.equal(service.counters.dropped, 3, kind);
      assert.equal(service.counters.statsIn, 3, kind);
      assert.equal(service.workerCount, 0, kind);
    }
  });

  test("100 000 tracks across 10 000 participants grow memory safely and aggregate exactly", async () => {
    const e = await loadEngine("wasm");
    let total = 0;
    let count = 0;
    const service = new TelemetryService({ engine: e, reporter: { report(stats) { count += stats.length; for (const s of stats) total += s.streams[0]!.primaryPackets; } } });
    for (let p = 0; p < 10_000; p++) service.participantJoined({ sid: `RM_${p % 100}`, name: "r" }, { sid: `PA_${p}`, identity: "i" });
    const bytes = toBinary(AnalyticsStatSchema, create(AnalyticsStatSchema, { streams: [{ primaryPackets: 3 }] }));
    for (let round = 0; round < 2; round++) {
      for (let p = 0; p < 10_000; p++) {
        for (let t = 0; t < 10; t++) {
          if (t % 2 === 0) service.trackStats(`RM_${p % 100}`, `PA_${p}`, `TR_${t}`, t % 3, bytes);
          else service.trackStats(`RM_${p % 100}`, `PA_${p}`, `TR_${t}`, t % 3, stat({ streams: [{ primaryPackets: 3 }] }));
        }
      }
      service.flush();
    }
    assert.equal(count, 200_000);
    assert.equal(total, 600_000);
  });
});
