import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  StatsWorker,
  StreamType,
  isArgumentError,
  isDecodeError,
  isLimitError,
  LIMITS,
  type AnalyticsStat,
  type StatsWorkerOptions,
} from "../src/index.ts";
import { CapturingReporter, ENGINE_KINDS, ManualClock, RecordingLogger, engine, stat } from "./helpers.ts";

const { UPSTREAM, DOWNSTREAM } = StreamType;

for (const kind of ENGINE_KINDS) {
  // prepare: a worker over a capturing reporter, a manual clock and a recording logger
  async function prepare(extra: Partial<StatsWorkerOptions> = {}) {
    const reporter = new CapturingReporter();
    const clock = new ManualClock();
    const logger = new RecordingLogger();
    const worker = new StatsWorker({
      engine: await engine(kind),
      reporter,
      roomId: "RM_1",
      roomName: "room",
      participantId: "PA_1",
      participantIdentity: "alice",
      now: clock.now,
      logger,
      ...extra,
    });
    return { worker, reporter, clock, logger };
  }

  const byTrack = (stats: AnalyticsStat[], trackId: string, kindOf = DOWNSTREAM) =>
    stats.find((s) => s.trackId === trackId && s.kind === kindOf);

  suite(`StatsWorker [${kind}]`, () => {
    suite("LiveKit scenarios", () => {
      test("two stats on one downstream track sum to 56 bytes and 2 packets", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", DOWNSTREAM, stat({ streams: [{ primaryBytes: 25n, primaryPackets: 1 }] }));
        worker.onTrackStat("TR_1", DOWNSTREAM, stat({ streams: [{ primaryBytes: 31n, primaryPackets: 1 }] }));
        worker.update();
        assert.equal(reporter.batches.length, 1);
        const [s] = reporter.batches[0]!;
        assert.equal(s!.streams[0]!.primaryBytes, 56n);
        assert.equal(s!.streams[0]!.primaryPackets, 2);
        assert.equal(s!.kind, DOWNSTREAM);
        assert.equal(s!.trackId, "TR_1");
      });

      test("several tracks give several stats in one report", async () => {
        const { worker, reporter } = await prepare();
        for (const t of ["TR_1", "TR_2", "TR_3"]) worker.onTrackStat(t, DOWNSTREAM, stat({ streams: [{ primaryBytes: 10n }] }));
        worker.update();
        assert.equal(reporter.batches.length, 1);
        assert.deepEqual(reporter.batches[0]!.map((s) => s.trackId).sort(), ["TR_1", "TR_2", "TR_3"]);
      });

      test("rtt and jitter take the max: 23 and 5", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", DOWNSTREAM, stat({ streams: [{ rtt: 23, jitter: 3 }] }));
        worker.onTrackStat("TR_1", DOWNSTREAM, stat({ streams: [{ rtt: 12, jitter: 5 }] }));
        worker.update();
        const s = reporter.all[0]!.streams[0]!;
        assert.deepEqual([s.rtt, s.jitter], [23, 5]);
      });

      test("packet loss is per window with no carry-over: 1 then 4", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", DOWNSTREAM, stat({ streams: [{ packetsLost: 1 }] }));
        worker.update();
        worker.onTrackStat("TR_1", DOWNSTREAM, stat({ streams: [{ packetsLost: 4 }] }));
        worker.update();
        assert.deepEqual(reporter.batches.map((b) => b[0]!.streams[0]!.packetsLost), [1, 4]);
      });

      test("the same stat object fed to two tracks gives equal sums and is not mutated", async () => {
        const { worker, reporter } = await prepare();
        const shared = stat({ score: 3, streams: [{ primaryBytes: 20n, primaryPackets: 2, videoLayers: [{ layer: 1, packets: 2 }] }] });
        const before = toBinary(AnalyticsStatSchema, shared);
        worker.onTrackStat("TR_1", DOWNSTREAM, shared);
        worker.onTrackStat("TR_2", DOWNSTREAM, shared);
        worker.update();
        const a = byTrack(reporter.all, "TR_1")!;
        const b = byTrack(reporter.all, "TR_2")!;
        assert.deepEqual(a.streams, b.streams);
        assert.deepEqual(toBinary(AnalyticsStatSchema, shared), before);
        assert.equal(shared.trackId, "");
        assert.equal(shared.timeStamp, undefined);
      });

      test("leaving with nothing buffered reports nothing", async () => {
        const { worker, reporter } = await prepare();
        worker.close();
        assert.equal(reporter.batches.length, 0);
      });

      test("two streams of one stat merge into one stream", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ ssrc: 1, primaryBytes: 10n }, { ssrc: 2, primaryBytes: 15n }] }));
        worker.update();
        const s = reporter.all[0]!;
        assert.equal(s.streams.length, 1);
        assert.equal(s.streams[0]!.primaryBytes, 25n);
        assert.equal(s.streams[0]!.ssrc, 0);
      });

      test("upstream stats come before downstream ones", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_D1", DOWNSTREAM, stat());
        worker.onTrackStat("TR_U1", UPSTREAM, stat());
        worker.onTrackStat("TR_D2", DOWNSTREAM, stat());
        worker.onTrackStat("TR_U2", UPSTREAM, stat());
        worker.update();
        assert.deepEqual(reporter.batches[0]!.map((s) => s.kind), [UPSTREAM, UPSTREAM, DOWNSTREAM, DOWNSTREAM]);
      });
    });

    suite("onTrackStat()", () => {
      test("an unknown direction value goes to the UPSTREAM bucket (R1)", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", 7 as StreamType, stat({ streams: [{ primaryPackets: 1 }] }));
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 2 }] }));
        worker.onTrackStat("TR_1", -1 as StreamType, stat({ streams: [{ primaryPackets: 4 }] }));
        worker.update();
        assert.equal(reporter.all.length, 1);
        assert.equal(reporter.all[0]!.kind, UPSTREAM);
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 7);
      });

      test("the same track id in both directions gives two stats (R1)", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 1 }] }));
        worker.onTrackStat("TR_1", DOWNSTREAM, stat({ streams: [{ primaryPackets: 2 }] }));
        worker.update();
        assert.equal(byTrack(reporter.all, "TR_1", UPSTREAM)!.streams[0]!.primaryPackets, 1);
        assert.equal(byTrack(reporter.all, "TR_1", DOWNSTREAM)!.streams[0]!.primaryPackets, 2);
      });

      test("values are read on arrival: mutating the object afterwards changes nothing (R1)", async () => {
        const { worker, reporter } = await prepare();
        const s = stat({ score: 2, streams: [{ primaryPackets: 1 }] });
        worker.onTrackStat("TR_1", UPSTREAM, s);
        s.streams[0]!.primaryPackets = 100;
        s.score = 9;
        worker.onTrackStat("TR_1", UPSTREAM, s);
        worker.update();
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 101);
        assert.equal(reporter.all[0]!.score, 5.5);
      });

      test("an invalid stat is logged as a warning and counted (R7)", async () => {
        const { worker, reporter, logger } = await prepare();
        worker.onTrackStat("TR_1", UPSTREAM, stat({ score: 4, streams: [{ primaryPackets: 2 ** 31 }] }));
        worker.onTrackStat("TR_1", UPSTREAM, stat({ score: 4, streams: [{ primaryPackets: 1 }] }));
        assert.equal(logger.count("warn"), 1);
        assert.equal(worker.counters.invalid, 1);
        assert.equal(worker.counters.statsIn, 2);
        worker.update();
        assert.equal(reporter.all[0]!.score, 2);
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 1);
      });

      test("wrong argument types throw an ArgumentError and buffer nothing", async () => {
        const { worker, reporter } = await prepare();
        assert.throws(() => worker.onTrackStat(5 as unknown as string, UPSTREAM, stat()), isArgumentError);
        assert.throws(() => worker.onTrackStat("TR_1", UPSTREAM, null as unknown as AnalyticsStat), isArgumentError);
        assert.throws(() => worker.onTrackStatBytes("TR_1", UPSTREAM, "x" as unknown as Uint8Array), isArgumentError);
        worker.update();
        assert.equal(reporter.batches.length, 0);
      });

      test("a stat over LIMITS throws a LimitError and leaves the window intact", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 1 }] }));
        const streams = Array.from({ length: LIMITS.maxStreamsPerStat + 1 }, () => ({ primaryPackets: 1 }));
        assert.throws(() => worker.onTrackStat("TR_1", UPSTREAM, stat({ streams })), isLimitError);
        assert.throws(() => worker.onTrackStat("TR_2", UPSTREAM, stat({ streams })), isLimitError);
        worker.update();
        assert.equal(reporter.all.length, 1);
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 1);
      });
    });

    suite("onTrackStatBytes()", () => {
      test("encoded stats aggregate like objects", async () => {
        const { worker, reporter } = await prepare();
        const a = stat({ score: 4.7, streams: [{ primaryBytes: 25n, primaryPackets: 1, videoLayers: [{ layer: 1, packets: 3 }] }] });
        const b = stat({ score: 4.9, streams: [{ primaryBytes: 31n, primaryPackets: 1, rtt: 9 }] });
        worker.onTrackStatBytes("TR_1", DOWNSTREAM, toBinary(AnalyticsStatSchema, a));
        worker.onTrackStat("TR_1", DOWNSTREAM, b);
        worker.update();
        const expected = (await engine(kind)).coalesce([a, b])!;
        const got = reporter.all[0]!;
        assert.deepEqual(got.streams, expected.streams);
        assert.equal(got.score, expected.score);
      });

      test("malformed bytes throw a DecodeError, buffer nothing and keep the rest of the window", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", DOWNSTREAM, stat({ score: 2, streams: [{ primaryPackets: 1 }] }));
        const good = toBinary(AnalyticsStatSchema, stat({ score: 8, streams: [{ primaryPackets: 5 }, { primaryPackets: 6 }] }));
        for (const bad of [good.subarray(0, good.length - 1), Uint8Array.of(0x0e), Uint8Array.of(0x0f), Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), Uint8Array.of(0x52, 0x05, 0x10)]) {
          assert.throws(() => worker.onTrackStatBytes("TR_1", DOWNSTREAM, bad), isDecodeError);
          assert.throws(() => worker.onTrackStatBytes("TR_9", DOWNSTREAM, bad), isDecodeError);
        }
        assert.equal(worker.counters.malformed, 10);
        worker.update();
        assert.equal(reporter.all.length, 1);
        assert.equal(reporter.all[0]!.score, 2);
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 1);
      });
    });

    suite("update()", () => {
      test("patches timeStamp, trackId, kind, room and participant and nothing else (R3)", async () => {
        const { worker, reporter, clock } = await prepare();
        worker.onTrackStat("TR_1", UPSTREAM, stat({ node: "n", analyticsKey: "k", mime: "m", roomId: "x", participantId: "y" }));
        worker.onTrackStat("TR_2", DOWNSTREAM, stat());
        clock.advance(1234);
        const when = clock.now();
        worker.update();
        const [a, b] = reporter.batches[0]!;
        for (const s of [a!, b!]) {
          assert.equal(timestampDate(s.timeStamp!).getTime(), when.getTime());
          assert.equal(s.roomId, "RM_1");
          assert.equal(s.roomName, "room");
          assert.equal(s.participantId, "PA_1");
          assert.equal(s.node, "");
          assert.equal(s.analyticsKey, "");
          assert.equal(s.mime, "");
          assert.equal(s.id, "");
        }
        assert.deepEqual(a!.timeStamp, b!.timeStamp);
        const expected = create(AnalyticsStatSchema, {
          timeStamp: a!.timeStamp, trackId: "TR_1", kind: UPSTREAM, roomId: "RM_1", roomName: "room", participantId: "PA_1",
          score: 0, streams: [{}],
        });
        assert.deepEqual(a, expected);
      });

      test("a clock that returns an invalid date throws and keeps the window", async () => {
        let broken = true;
        const { worker, reporter } = await prepare({ now: () => (broken ? new Date(NaN) : new Date(5000)) });
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 3 }] }));
        assert.throws(() => worker.update(), isArgumentError);
        broken = false;
        worker.update();
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 3);
      });

      test("a clock beyond the range of a Date throws and keeps the window", async () => {
        let ms = 1e300;
        const { worker, reporter } = await prepare({ now: () => ({ getTime: () => ms }) as Date });
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 3 }] }));
        assert.throws(() => worker.update(), isArgumentError);
        ms = 8.64e15 + 1;
        assert.throws(() => worker.update(), isArgumentError);
        ms = -8.64e15;
        worker.update();
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 3);
        assert.equal(reporter.all[0]!.timeStamp!.seconds, -8_640_000_000_000n);
      });

      test("with nothing buffered the reporter is not called (R2)", async () => {
        const { worker, reporter } = await prepare();
        worker.update();
        worker.onTrackStat("TR_1", UPSTREAM, stat());
        worker.update();
        worker.update();
        assert.equal(reporter.batches.length, 1);
      });

      test("a window of only invalid stats is still reported (R11)", async () => {
        const { worker, reporter } = await prepare();
        worker.onTrackStat("TR_1", UPSTREAM, stat({ score: 3, streams: [{ plis: 2 ** 31 }] }));
        worker.update();
        assert.equal(reporter.all.length, 1);
        assert.equal(reporter.all[0]!.score, 0);
      });

      test("a stat sent from inside report() belongs to the next window", async () => {
        const { worker, reporter } = await prepare();
        let inside = 0;
        reporter.onReport = () => {
          if (inside++ === 0) worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 10 }] }));
        };
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 1 }] }));
        worker.update();
        assert.equal(reporter.batches.length, 1);
        worker.update();
        assert.deepEqual(reporter.batches.map((b) => b[0]!.streams[0]!.primaryPackets), [1, 10]);
      });

      test("update() from inside report() reports the new window once and loses nothing", async () => {
        const { worker, reporter } = await prepare();
        let depth = 0;
        reporter.onReport = () => {
          if (depth++ > 0) return;
          worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 10 }] }));
          worker.update();
          worker.update();
        };
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 1 }] }));
        worker.update();
        worker.update();
        assert.deepEqual(reporter.batches.map((b) => b[0]!.streams[0]!.primaryPackets), [1, 10]);
      });

      test("close() from inside report() reports what arrived during the report, then closes", async () => {
        const { worker, reporter } = await prepare();
        let first = true;
        reporter.onReport = () => {
          if (!first) return;
          first = false;
          worker.onTrackStat("TR_2", DOWNSTREAM, stat({ streams: [{ primaryPackets: 3 }] }));
          worker.close();
          worker.onTrackStat("TR_3", DOWNSTREAM, stat());
        };
        worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 1 }] }));
        worker.update();
        worker.update();
        assert.deepEqual(reporter.batches.map((b) => b.map((s) => s.trackId)), [["TR_1"], ["TR_2"]]);
        assert.ok(worker.closedAt);
        assert.equal(worker.counters.dropped, 1);
      });

      test("an async reporter that rejects is logged and counted, never an unhandled rejection", async () => {
        const unhandled: unknown[] = [];
        const onUnhandled = (err: unknown) => void unhandled.push(err);
        process.on("unhandledRejection", onUnhandled);
        try {
          for (const bytes of [false, true]) {
            const { worker, logger } = await prepare({
              reporter: bytes
                ? { report: () => undefined, reportBytes: async (b: Uint8Array) => { b.slice(); await Promise.resolve(); throw new Error("bytes boom"); } }
                : { report: async () => Promise.reject(new Error("boom")) },
            });
            worker.onTrackStat("TR_1", UPSTREAM, stat());
            worker.update();
            worker.onTrackStat("TR_1", UPSTREAM, stat());
            worker.update();
            await new Promise((r) => setTimeout(r, 10));
            assert.equal(worker.counters.reporterErrors, 2);
            assert.equal(worker.counters.reports, 2);
            assert.equal(logger.count("error"), 2);
          }
          assert.deepEqual(unhandled, []);
        } finally {
          process.off("unhandledRejection", onUnhandled);
        }
      });

      test("a throwing reporter is logged and counted and the next window still reports", async () => {
        const { worker, reporter, logger } = await prepare();
        let calls = 0;
        reporter.onReport = () => {
          if (calls++ === 0) throw new Error("boom");
        };
        worker.onTrackStat("TR_1", UPSTREAM, stat());
        assert.doesNotThrow(() => worker.update());
        assert.equal(worker.counters.reporterErrors, 1);
        assert.equal(logger.count("error"), 1);
        worker.onTrackStat("TR_1", UPSTREAM, stat());
        worker.update();
        assert.equal(reporter.batches.length, 2);
      });

      test("a reporter with reportBytes gets one encoded AnalyticsStats equal to the object path", async () => {
        const objects = await prepare();
        const batches: Uint8Array[] = [];
        const bytes = await prepare({ reporter: { report: () => assert.fail("report() called"), reportBytes: (b) => void batches.push(b.slice()) } });
        for (const w of [objects.worker, bytes.worker]) {
          w.onTrackStat("TR_1", UPSTREAM, stat({ score: 3, streams: [{ primaryBytes: 2n ** 63n - 1n, videoLayers: [{ layer: 2, bytes: 5n }] }] }));
          w.onTrackStat("TR_2", DOWNSTREAM, stat({ score: 1, streams: [{ primaryPackets: 4 }] }));
          w.update();
        }
        assert.equal(batches.length, 1);
        const decoded = fromBinary(AnalyticsStatsSchema, batches[0]!).stats;
        const sort = (l: AnalyticsStat[]) => [...l].sort((x, y) => x.trackId.localeCompare(y.trackId));
        assert.deepEqual(sort(decoded), sort(objects.reporter.all));
        assert.equal(bytes.worker.counters.statsOut, 2);
      });
    });

    suite("close()", () => {
      test("close() reports the window, then sets closedAt (R4)", async () => {
        const { worker, reporter, clock } = await prepare();
        assert.equal(worker.closedAt, undefined);
        worker.onTrackStat("TR_1", UPSTREAM, stat());
        clock.advance(10);
        worker.close();
        assert.equal(reporter.batches.length, 1);
        assert.equal(worker.closedAt!.getTime(), clock.ms);
      });

      test("a second close() sends nothing and moves closedAt to the newer time (R4)", async () => {
        const { worker, reporter, clock } = await prepare();
        worker.onTrackStat("TR_1", UPSTREAM, stat());
        worker.close();
        const first = worker.closedAt!.getTime();
        clock.advance(5000);
        worker.onTrackStat("TR_1", UPSTREAM, stat());
        worker.close();
        assert.equal(reporter.batches.length, 1);
        assert.equal(worker.closedAt!.getTime(), first + 5000);
      });

      test("stats after close() are never reported and are counted as dropped (R5)", async () => {
        const { worker, reporter } = await prepare();
        worker.close();
        worker.onTrackStat("TR_1", UPSTREAM, stat());
        worker.onTrackStatBytes("TR_1", UPSTREAM, toBinary(AnalyticsStatSchema, stat()));
        worker.update();
        worker.close();
        assert.equal(reporter.batches.length, 0);
        assert.equal(worker.counters.dropped, 2);
      });

      test("update() after close() does nothing (R2)", async () => {
        const { worker, reporter } = await prepare();
        worker.close();
        worker.update();
        assert.equal(reporter.batches.length, 0);
      });
    });
  });
}
