/**
 * The livekit-current lifecycle (statsworker.go `Close`/`Flush` and telemetryservice.go
 * `FlushStats` at livekit/livekit 788d4c35), in the prepare / do / flush / check rhythm of
 * LiveKit's stats_test.go, through TelemetryService and StatsWorker with a manual clock.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  StatsWorker,
  StreamType,
  TelemetryService,
  type AnalyticsStat,
  type TelemetryServiceOptions,
} from "../../src/index.ts";
import { CapturingReporter, ManualClock, stat } from "../helpers.ts";
import { PROFILE_KINDS, profileEngine } from "./profile-fixtures.ts";

const { UPSTREAM, DOWNSTREAM } = StreamType;
const room = { sid: "RM_1", name: "room-one" };
const alice = { sid: "PA_A", identity: "alice" };
const packets = (n: number) => stat({ score: 3, streams: [{ primaryPackets: n }] });
const sent = (stats: AnalyticsStat[]) => stats.map((s) => [s.trackId, s.streams[0]!.primaryPackets]);

for (const kind of PROFILE_KINDS) {
  for (const out of ["objects", "bytes"] as const) {
    async function prepare(extra: Partial<TelemetryServiceOptions> = {}) {
      const reporter = new CapturingReporter();
      // with reportBytes the batch comes encoded; decode it so both paths are checked the same way
      const wire = out === "bytes"
        ? { report: () => assert.fail("report() with reportBytes present"), reportBytes: (b: Uint8Array) => reporter.report(fromBinary(AnalyticsStatsSchema, b).stats) }
        : reporter;
      const clock = new ManualClock();
      const service = new TelemetryService({ engine: await profileEngine(kind, "livekit-current"), reporter: wire, now: clock.now, ...extra });
      service.participantJoined(room, alice);
      return { service, reporter, clock };
    }

    suite(`TelemetryService livekit-current [${kind}, ${out}]`, () => {
      test("participantLeft marks the worker closed without reporting; the next flush reports what it held", async () => {
        const { service, reporter } = await prepare();
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(2));
        service.participantLeft("RM_1", "PA_A");
        assert.equal(reporter.batches.length, 0);
        service.flush();
        assert.deepEqual(sent(reporter.all), [["TR_1", 2]]);
        assert.equal(service.workerCount, 1);
      });

      test("stats after close are buffered and reported by the following flushes until the worker is reaped", async () => {
        const { service, reporter, clock } = await prepare({ closeWaitMs: 180_000 });
        service.participantLeft("RM_1", "PA_A");
        service.trackStats("RM_1", "PA_A", "TR_1", DOWNSTREAM, packets(5));
        service.flush();
        clock.advance(60_000);
        service.trackStats("RM_1", "PA_A", "TR_1", DOWNSTREAM, packets(6));
        service.flush();
        assert.deepEqual(reporter.batches.map(sent), [[["TR_1", 5]], [["TR_1", 6]]]);
        assert.equal(reporter.all[1]!.kind, DOWNSTREAM);
        assert.equal(service.counters.dropped, 0);
        assert.equal(service.counters.statsIn, 2);
      });

      test("the first flush more than closeWaitMs after close reaps the worker and still reports what it holds", async () => {
        const { service, reporter, clock } = await prepare();
        service.participantLeft("RM_1", "PA_A");
        clock.advance(180_000);
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(1));
        service.flush();
        // exactly closeWaitMs after close: Go's `now.Sub(closedAt) > closeWait` is false
        assert.equal(service.workerCount, 1);
        assert.deepEqual(service.roomDetails("PA_A"), { roomId: "RM_1", roomName: "room-one" });
        clock.advance(1);
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(7));
        service.flush();
        assert.equal(service.workerCount, 0);
        assert.deepEqual(reporter.batches.map(sent), [[["TR_1", 1]], [["TR_1", 7]]]);
        // reaped: later stats have no worker
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(9));
        service.flush();
        assert.equal(reporter.batches.length, 2);
        assert.equal(service.counters.dropped, 1);
        assert.equal(service.roomDetails("PA_A"), undefined);
      });

      test("a closed worker with nothing buffered is reaped by a flush without a report", async () => {
        const { service, reporter, clock } = await prepare({ closeWaitMs: 1000 });
        service.participantLeft("RM_1", "PA_A");
        clock.advance(1001);
        service.flush();
        assert.equal(service.workerCount, 0);
        assert.equal(reporter.batches.length, 0);
      });

      test("closeWaitMs keeps working as an override; a repeated participantLeft keeps the first close time", async () => {
        const { service, clock } = await prepare({ closeWaitMs: 10_000 });
        service.participantLeft("RM_1", "PA_A");
        clock.advance(6_000);
        service.participantLeft("RM_1", "PA_A");
        clock.advance(4_001);
        service.flush();
        assert.equal(service.workerCount, 0);
      });

      test("open workers are never reaped, and cleanupWorkers() reaps on demand as before", async () => {
        const { service, clock } = await prepare({ closeWaitMs: 100 });
        service.participantJoined(room, { sid: "PA_B", identity: "bob" });
        service.participantLeft("RM_1", "PA_B");
        clock.advance(1_000_000);
        service.cleanupWorkers();
        assert.equal(service.workerCount, 1);
        service.flush();
        assert.equal(service.workerCount, 1);
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(1));
        service.flush();
        assert.equal(service.counters.statsOut, 1);
      });

      test("cleanupWorkers() called directly reports what a reaped worker still held", async () => {
        const { service, reporter, clock } = await prepare({ closeWaitMs: 1000 });
        service.participantLeft("RM_1", "PA_A");
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(3));
        clock.advance(1001);
        service.cleanupWorkers();
        assert.equal(service.workerCount, 0);
        assert.deepEqual(sent(reporter.all), [["TR_1", 3]]);
      });

      test("a rejoin replaces a closed worker and reports what the closed one still held", async () => {
        const { service, reporter } = await prepare();
        service.participantLeft("RM_1", "PA_A");
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(4));
        service.participantJoined({ sid: "RM_1", name: "renamed" }, alice);
        assert.deepEqual(sent(reporter.all), [["TR_1", 4]]);
        assert.equal(reporter.all[0]!.roomName, "room-one");
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(8));
        service.flush();
        assert.deepEqual(sent(reporter.batches[1]!), [["TR_1", 8]]);
        assert.equal(reporter.batches[1]![0]!.roomName, "renamed");
        assert.equal(service.workerCount, 1);
      });

      test("ingestBatch routes stats to a closed worker until it is reaped", async () => {
        const { service, reporter, clock } = await prepare({ closeWaitMs: 1000 });
        const routed = (n: number) => sizeDelimitedEncode(AnalyticsStatSchema, stat({ roomId: "RM_1", participantId: "PA_A", trackId: "TR_9", kind: DOWNSTREAM, streams: [{ primaryPackets: n }] }));
        service.participantLeft("RM_1", "PA_A");
        service.ingestBatch(routed(3));
        clock.advance(1001);
        service.flush();
        service.ingestBatch(routed(4));
        service.flush();
        assert.deepEqual(sent(reporter.all), [["TR_9", 3]]);
        assert.equal(reporter.all[0]!.kind, DOWNSTREAM);
        assert.equal(service.counters.dropped, 1);
      });

      test("stop() reports what closed workers hold", async () => {
        const { service, reporter } = await prepare();
        service.participantLeft("RM_1", "PA_A");
        service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(2));
        await service.stop();
        assert.deepEqual(sent(reporter.all), [["TR_1", 2]]);
      });
    });
  }

  suite(`TelemetryService timers livekit-current [${kind}]`, () => {
    async function started(extra: Partial<TelemetryServiceOptions> = {}) {
      const reporter = new CapturingReporter();
      const clock = new ManualClock();
      const service = new TelemetryService({ engine: await profileEngine(kind, "livekit-current"), reporter, now: clock.now, ...extra });
      service.participantJoined(room, alice);
      service.start();
      return { service, reporter, clock };
    }

    test("the flush timer runs every 30 s by default", async (t) => {
      t.mock.timers.enable({ apis: ["setInterval"] });
      const { service, reporter } = await started();
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(1));
      t.mock.timers.tick(29_999);
      assert.equal(reporter.batches.length, 0);
      t.mock.timers.tick(1);
      assert.equal(reporter.batches.length, 1);
      await service.stop();
    });

    test("flushIntervalMs keeps working as an override", async (t) => {
      t.mock.timers.enable({ apis: ["setInterval"] });
      const { service, reporter } = await started({ flushIntervalMs: 10_000 });
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(1));
      t.mock.timers.tick(10_000);
      assert.equal(reporter.batches.length, 1);
      await service.stop();
    });

    test("there is no cleanup timer: only a flush reaps", async (t) => {
      t.mock.timers.enable({ apis: ["setInterval"] });
      const { service, clock } = await started({ flushIntervalMs: 1_000_000, closeWaitMs: 1000 });
      service.participantLeft("RM_1", "PA_A");
      clock.advance(600_000);
      t.mock.timers.tick(600_000);
      assert.equal(service.workerCount, 1);
      clock.advance(400_000);
      t.mock.timers.tick(400_000);
      assert.equal(service.workerCount, 0);
      await service.stop();
    });

    test("cleanupIntervalMs given explicitly starts the cleanup timer as an override", async (t) => {
      t.mock.timers.enable({ apis: ["setInterval"] });
      const { service, clock } = await started({ flushIntervalMs: 1_000_000, cleanupIntervalMs: 60_000, closeWaitMs: 1000 });
      service.participantLeft("RM_1", "PA_A");
      clock.advance(60_000);
      t.mock.timers.tick(60_000);
      assert.equal(service.workerCount, 0);
      await service.stop();
    });
  });

  suite(`StatsWorker livekit-current [${kind}]`, () => {
    async function prepare() {
      const reporter = new CapturingReporter();
      const clock = new ManualClock();
      const worker = new StatsWorker({
        engine: await profileEngine(kind, "livekit-current"), reporter, now: clock.now,
        roomId: "RM_1", roomName: "room-one", participantId: "PA_A", participantIdentity: "alice",
      });
      return { worker, reporter, clock };
    }

    test("close() does not report; update() after close reports the stats held and those that came later", async () => {
      const { worker, reporter, clock } = await prepare();
      worker.onTrackStat("TR_1", UPSTREAM, packets(1));
      const closedAt = clock.ms;
      worker.close();
      assert.equal(reporter.batches.length, 0);
      assert.equal(worker.closedAt?.getTime(), closedAt);
      worker.onTrackStat("TR_1", UPSTREAM, packets(2));
      worker.onTrackStatBytes("TR_2", DOWNSTREAM, new Uint8Array([0x52, 0x02, 0x10, 0x03]));
      worker.update();
      assert.deepEqual(sent(reporter.all), [["TR_1", 3], ["TR_2", 3]]);
      assert.equal(worker.counters.dropped, 0);
    });

    test("a repeated close() keeps the first closedAt (Go Close sets it only while zero)", async () => {
      const { worker, clock } = await prepare();
      worker.close();
      const first = worker.closedAt!.getTime();
      clock.advance(5000);
      worker.close();
      assert.equal(worker.closedAt!.getTime(), first);
    });
  });

  suite(`lifecycle livekit-v1.2 [${kind}]`, () => {
    test("the default profile still reports on close, drops later stats and keeps the 10 s flush", async (t) => {
      t.mock.timers.enable({ apis: ["setInterval"] });
      const reporter = new CapturingReporter();
      const clock = new ManualClock();
      const service = new TelemetryService({ engine: await profileEngine(kind, "livekit-v1.2"), reporter, now: clock.now });
      service.participantJoined(room, alice);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(1));
      service.participantLeft("RM_1", "PA_A");
      assert.equal(reporter.batches.length, 1);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(2));
      service.participantJoined(room, { sid: "PA_B", identity: "bob" });
      service.trackStats("RM_1", "PA_B", "TR_1", UPSTREAM, packets(3));
      service.start();
      t.mock.timers.tick(10_000);
      assert.deepEqual(reporter.batches.map(sent), [[["TR_1", 1]], [["TR_1", 3]]]);
      assert.equal(service.counters.dropped, 1);
      // reaping is the cleanup timer's, not the flush's
      clock.advance(180_001);
      service.flush();
      assert.equal(service.workerCount, 2);
      t.mock.timers.tick(50_000);
      assert.equal(service.workerCount, 1);
      await service.stop();
    });
  });
}

