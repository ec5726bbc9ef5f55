/**
 * Public API misuse on both engines: wrong argument types, unknown directions, empty ids, calls
 * after `stop()`, re-entrant reporters. Each gets a clear error or the documented behaviour, and
 * after each one a normal window still aggregates exactly (the engine is never left corrupted).
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  StatsWorker,
  StreamType,
  TelemetryService,
  isArgumentError,
  loadEngine,
  type AnalyticsStat,
  type Engine,
  type EngineKind,
} from "../../src/index.ts";

const KINDS: EngineKind[] = ["ts", "wasm"];
const now = () => new Date(Date.UTC(2026, 0, 1));
const any = (x: unknown) => x as never;

function goodStat(packets: number): AnalyticsStat {
  return create(AnalyticsStatSchema, {
    score: 3,
    streams: [{ primaryPackets: packets, primaryBytes: BigInt(packets * 100), rtt: 7, videoLayers: [{ layer: 1, packets: 2, bytes: 3n, frames: 4 }] }],
  });
}

/** What a clean window of `goodStat(5)` then `goodStat(6)` on one track reports. */
function expectClean(stats: AnalyticsStat[], trackId = "ok", kind = StreamType.UPSTREAM): void {
  const s = stats.find((x) => x.trackId === trackId && x.kind === kind);
  assert.ok(s, `no result for ${trackId}`);
  assert.equal(s.score, 3);
  assert.equal(s.streams[0]!.primaryPackets, 11);
  assert.equal(s.streams[0]!.primaryBytes, 1100n);
  assert.equal(s.streams[0]!.rtt, 7);
  assert.deepEqual(s.streams[0]!.videoLayers.map((l) => [l.layer, l.packets, l.bytes, l.frames]), [[1, 4, 6n, 8]]);
}

function newWorker(engine: Engine) {
  const out: AnalyticsStat[][] = [];
  const worker = new StatsWorker({ engine, reporter: { report: (s) => void out.push(s) }, roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p", now });
  /** feeds a clean window on track "ok" (objects and bytes), updates, and checks the result */
  const cleanWindow = () => {
    out.length = 0;
    worker.onTrackStat("ok", StreamType.UPSTREAM, goodStat(5));
    worker.onTrackStatBytes("ok", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, goodStat(6)));
    worker.update();
    assert.equal(out.length, 1);
    expectClean(out[0]!);
  };
  return { worker, out, cleanWindow };
}

const argumentError = (fn: () => unknown) => assert.throws(fn, (e) => isArgumentError(e), "expected an ArgumentError");

for (const kind of KINDS) {
  suite(`misuse [${kind}]`, () => {
    test("wrong argument types to onTrackStat and onTrackStatBytes throw ArgumentError and leave the worker intact", async () => {
      const engine = await loadEngine(kind);
      const { worker, out, cleanWindow } = newWorker(engine);
      worker.onTrackStat("ok", StreamType.UPSTREAM, goodStat(5)); // a window in progress must survive
      argumentError(() => worker.onTrackStat(any(42), StreamType.UPSTREAM, goodStat(1)));
      argumentError(() => worker.onTrackStat(any(null), StreamType.UPSTREAM, goodStat(1)));
      argumentError(() => worker.onTrackStat("ok", StreamType.UPSTREAM, any(null)));
      argumentError(() => worker.onTrackStat("ok", StreamType.UPSTREAM, any(undefined)));
      argumentError(() => worker.onTrackStat("ok", StreamType.UPSTREAM, any({ streams: [null] })));
      argumentError(() => worker.onTrackStat("ok", StreamType.UPSTREAM, any({ streams: "no" })));
      argumentError(() => worker.onTrackStat("ok", StreamType.UPSTREAM, any("stat")));
      argumentError(() => worker.onTrackStatBytes(any(7), StreamType.UPSTREAM, new Uint8Array()));
      argumentError(() => worker.onTrackStatBytes("ok", StreamType.UPSTREAM, any("0a00")));
      argumentError(() => worker.onTrackStatBytes("ok", StreamType.UPSTREAM, any([1, 2, 3])));
      argumentError(() => worker.onTrackStatBytes("ok", StreamType.UPSTREAM, any(new ArrayBuffer(4))));
      argumentError(() => worker.onTrackStatBytes("ok", StreamType.UPSTREAM, any(null)));
      worker.onTrackStatBytes("ok", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, goodStat(6)));
      worker.update();
      expectClean(out[0]!);
      cleanWindow();
    });

    test("a Buffer is taken as bytes (it is a Uint8Array), an empty one is an empty stat", async () => {
      const engine = await loadEngine(kind);
      const { worker, out, cleanWindow } = newWorker(engine);
      worker.onTrackStatBytes("buf", StreamType.UPSTREAM, Buffer.from(toBinary(AnalyticsStatSchema, goodStat(5))));
      worker.onTrackStatBytes("empty", StreamType.UPSTREAM, new Uint8Array());
      worker.update();
      const stats = out[0]!;
      assert.equal(stats.find((s) => s.trackId === "buf")!.streams[0]!.primaryPackets, 5);
      assert.equal(stats.find((s) => s.trackId === "empty")!.streams[0]!.primaryPackets, 0);
      cleanWindow();
    });

    test("numbers in 64-bit fields (and bigints in 32-bit ones) are refused and leave the track's result exact", async () => {
      const engine = await loadEngine(kind);
      const { worker, out } = newWorker(engine);
      worker.onTrackStat("ok", StreamType.UPSTREAM, goodStat(5));
      const numberForBigint = goodStat(1) as unknown as { streams: { primaryBytes: unknown }[] };
      numberForBigint.streams[0]!.primaryBytes = 100;
      const bigintForNumber = goodStat(1) as unknown as { streams: { primaryPackets: unknown }[] };
      bigintForNumber.streams[0]!.primaryPackets = 1n;
      for (const bad of [numberForBigint, bigintForNumber]) {
        assert.throws(() => worker.onTrackStat("ok", StreamType.UPSTREAM, any(bad)), (e) => isArgumentError(e));
      }
      worker.onTrackStat("ok", StreamType.UPSTREAM, goodStat(6));
      worker.update();
      expectClean(out[0]!);
    });

    test("unknown direction values go UPSTREAM (R1); empty track ids are ordinary ids", async () => {
      const engine = await loadEngine(kind);
      const { worker, out, cleanWindow } = newWorker(engine);
      for (const d of [2, -1, 1.5, NaN, "1", undefined, null, 2 ** 32 + 1]) {
        worker.onTrackStat("dir", any(d), goodStat(1));
        worker.onTrackStatBytes("dirBytes", any(d), toBinary(AnalyticsStatSchema, goodStat(1)));
      }
      worker.onTrackStat("", StreamType.DOWNSTREAM, goodStat(2));
      worker.update();
      const stats = out[0]!;
      assert.deepEqual(
        stats.map((s) => [s.trackId, s.kind, s.streams[0]!.primaryPackets]).sort(),
        [["", StreamType.DOWNSTREAM, 2], ["dir", StreamType.UPSTREAM, 8], ["dirBytes", StreamType.UPSTREAM, 8]].sort(),
      );
      cleanWindow();
    });

    test("constructor misuse: engine not from loadEngine, bad options, NaN and negative intervals", async () => {
      const engine = await loadEngine(kind);
      const reporter = { report: () => {} };
      const ids = { roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p" };
      const fake = { kind, coalesce: () => undefined, isValid: () => true };
      argumentError(() => new StatsWorker(any({ ...ids, engine: fake, reporter })));
      argumentError(() => new StatsWorker(any({ ...ids, engine: null, reporter })));
      argumentError(() => new StatsWorker(any({ ...ids, engine, reporter: null })));
      argumentError(() => new StatsWorker(any({ ...ids, engine, reporter: { report: 1 } })));
      argumentError(() => new StatsWorker(any({ ...ids, roomId: 5, engine, reporter })));
      argumentError(() => new StatsWorker(any({ ...ids, engine, reporter, now: "now" })));
      argumentError(() => new StatsWorker(any(null)));
      argumentError(() => new TelemetryService(any({ engine: fake, reporter })));
      argumentError(() => new TelemetryService(any({ engine, reporter: undefined })));
      for (const bad of [NaN, -1, Infinity, "10"]) {
        argumentError(() => new TelemetryService(any({ engine, reporter, flushIntervalMs: bad })));
        argumentError(() => new TelemetryService(any({ engine, reporter, cleanupIntervalMs: bad })));
        argumentError(() => new TelemetryService(any({ engine, reporter, closeWaitMs: bad })));
      }
      newWorker(engine).cleanWindow();
    });

    test("service misuse: bad rooms and participants, non-bytes batches", async () => {
      const engine = await loadEngine(kind);
      const out: AnalyticsStat[] = [];
      const service = new TelemetryService({ engine, now, reporter: { report: (s) => void out.push(...s) } });
      argumentError(() => service.participantJoined(any(null), { sid: "P", identity: "p" }));
      argumentError(() => service.participantJoined(any({ sid: 1, name: "r" }), { sid: "P", identity: "p" }));
      argumentError(() => service.participantJoined({ sid: "R", name: "r" }, any({ sid: "P" })));
      argumentError(() => service.ingestBatch(any("batch")));
      argumentError(() => service.ingestBatch(any(null)));
      // ids of any type that match nothing: dropped and counted (T3), not a crash
      service.trackStats(any(1), any(2), "t", StreamType.UPSTREAM, goodStat(1));
      assert.equal(service.counters.dropped, 1);
      service.participantLeft(any(undefined), any(null));
      service.participantJoined({ sid: "", name: "" }, { sid: "", identity: "" });
      service.trackStats("", "", "ok", StreamType.UPSTREAM, goodStat(5));
      service.trackStats("", "", "ok", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, goodStat(6)));
      service.flush();
      expectClean(out);
      assert.equal(service.roomDetails("")?.roomId, "");
    });

    test("after stop(): stats dropped and counted, participantJoined and start throw code closed", async () => {
      const engine = await loadEngine(kind);
      const out: AnalyticsStat[] = [];
      const service = new TelemetryService({ engine, now, reporter: { report: (s) => void out.push(...s) } });
      service.participantJoined({ sid: "R", name: "r" }, { sid: "P", identity: "p" });
      service.trackStats("R", "P", "ok", StreamType.UPSTREAM, goodStat(5));
      service.trackStats("R", "P", "ok", StreamType.UPSTREAM, goodStat(6));
      await service.stop();
      expectClean(out);
      out.length = 0;
      service.trackStats("R", "P", "late", StreamType.UPSTREAM, goodStat(1));
      service.trackStats("R", "P", "late", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, goodStat(1)));
      const late = create(AnalyticsStatSchema, { ...goodStat(1), roomId: "R", participantId: "P", trackId: "late" });
      const { sizeDelimitedEncode } = await import("@bufbuild/protobuf/wire");
      service.ingestBatch(sizeDelimitedEncode(AnalyticsStatSchema, late));
      assert.equal(service.counters.dropped, 3);
      assert.throws(() => service.participantJoined({ sid: "R", name: "r" }, { sid: "Q", identity: "q" }), (e) => isArgumentError(e) && e.code === "closed");
      assert.throws(() => service.start(), (e) => isArgumentError(e) && e.code === "closed");
      service.flush();
      service.cleanupWorkers();
      await service.stop(); // a second stop is harmless
      assert.equal(out.length, 0);
      // the engine is shared: a new service on it still aggregates exactly
      const again = new TelemetryService({ engine, now, reporter: { report: (s) => void out.push(...s) } });
      again.participantJoined({ sid: "R", name: "r" }, { sid: "P", identity: "p" });
      again.trackStats("R", "P", "ok", StreamType.UPSTREAM, goodStat(5));
      again.trackStats("R", "P", "ok", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, goodStat(6)));
      again.flush();
      expectClean(out);
    });

    test("calls after a worker's close(): stats dropped and counted (R5), update reports nothing", async () => {
      const engine = await loadEngine(kind);
      const { worker, out } = newWorker(engine);
      worker.close();
      worker.onTrackStat("ok", StreamType.UPSTREAM, goodStat(1));
      worker.onTrackStatBytes("ok", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, goodStat(1)));
      worker.update();
      worker.close();
      assert.equal(worker.counters.dropped, 2);
      assert.equal(out.length, 0);
      newWorker(engine).cleanWindow();
    });

    test("a re-entrant reporter (joins, leaves, feeds, updates, stops inside report) loses and duplicates nothing", async () => {
      const engine = await loadEngine(kind);
      const out: AnalyticsStat[] = [];
      let service!: TelemetryService;
      let calls = 0;
      service = new TelemetryService({
        engine, now,
        reporter: {
          report: (stats) => {
            out.push(...stats);
            if (calls++ > 0) return;
            service.participantJoined({ sid: "R", name: "r" }, { sid: "NEW", identity: "n" });
            service.trackStats("R", "NEW", "ok", StreamType.UPSTREAM, goodStat(5));
            service.trackStats("R", stats[0]!.participantId, "next", StreamType.UPSTREAM, goodStat(1));
            service.participantLeft("R", "B"); // a nested update of another worker
            service.flush(); // a nested flush
            void service.stop(); // stop inside report
          },
        },
      });
      for (const p of ["A", "B"]) {
        service.participantJoined({ sid: "R", name: "r" }, { sid: p, identity: p });
        service.trackStats("R", p, "ok", StreamType.UPSTREAM, goodStat(5));
        service.trackStats("R", p, "ok", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, goodStat(6)));
      }
      service.flush();
      await service.stop();
      const byKey = new Map<string, AnalyticsStat[]>();
      for (const s of out) byKey.set(`${s.participantId}/${s.trackId}`, [...(byKey.get(`${s.participantId}/${s.trackId}`) ?? []), s]);
      for (const p of ["A", "B"]) {
        assert.equal(byKey.get(`${p}/ok`)?.length, 1, `${p}/ok reported once`);
        expectClean(byKey.get(`${p}/ok`)!);
      }
      assert.equal(byKey.get("NEW/ok")?.length, 1);
      assert.equal(byKey.get("NEW/ok")![0]!.streams[0]!.primaryPackets, 5);
      const c = service.counters;
      assert.equal(c.statsIn, 6);
      assert.equal(c.statsOut, out.length);
      assert.equal(c.reporterErrors, 0);
    });

    test("a re-entrant reportBytes reporter still sees its own batch after a nested drain", async () => {
      const engine = await loadEngine(kind);
      const out: string[] = [];
      let service!: TelemetryService;
      service = new TelemetryService({
        engine, now,
        reporter: {
          report: () => assert.fail("report() called"),
          reportBytes: (batch) => {
            service.participantLeft("R", "B"); // B's close drains B, maybe into the same buffer
            for (const s of fromBinary(AnalyticsStatsSchema, batch).stats) out.push(`${s.participantId}:${s.streams[0]!.primaryPackets}`);
          },
        },
      });
      for (const [p, n] of [["A", 11], ["B", 22]] as const) {
        service.participantJoined({ sid: "R", name: "r" }, { sid: p, identity: p });
        service.trackStats("R", p, "t", StreamType.UPSTREAM, goodStat(n));
      }
      service.flush();
      assert.deepEqual(out.sort(), ["A:11", "B:22"]);
    });

    test("a reporter that throws (or throws a non-Error) is counted and logged; the next window is exact", async () => {
      const engine = await loadEngine(kind);
      const out: AnalyticsStat[][] = [];
      let mode = 0;
      const worker = new StatsWorker({
        engine, roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p", now,
        reporter: { report: (s) => { if (mode === 1) throw new Error("boom"); if (mode === 2) throw "string"; out.push(s); } },
      });
      for (mode = 1; mode <= 2; mode++) {
        worker.onTrackStat("ok", StreamType.UPSTREAM, goodStat(1));
        worker.update();
      }
      mode = 0;
      worker.onTrackStat("ok", StreamType.UPSTREAM, goodStat(5));
      worker.onTrackStat("ok", StreamType.UPSTREAM, goodStat(6));
      worker.update();
      assert.equal(worker.counters.reporterErrors, 2);
      expectClean(out[0]!);
    });
  });
}

suite("loadEngine() misuse", () => {
  test("an unknown engine kind rejects with ArgumentError", async () => {
    for (const bad of ["WASM", "", 1, null]) {
      await assert.rejects(loadEngine(any(bad)), (e) => isArgumentError(e));
    }
  });
});
