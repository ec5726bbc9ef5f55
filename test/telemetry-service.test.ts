import { suite, test, mock } from "node:test";
import assert from "node:assert/strict";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { toBinary } from "@bufbuild/protobuf";
import {
  AnalyticsStatSchema,
  StreamType,
  TelemetryService,
  isArgumentError,
  isDecodeError,
  type TelemetryServiceOptions,
} from "../src/index.ts";
import { CapturingReporter, ENGINE_KINDS, ManualClock, RecordingLogger, concatBytes, engine, stat } from "./helpers.ts";

const { UPSTREAM, DOWNSTREAM } = StreamType;
const room = { sid: "RM_1", name: "room-one" };
const alice = { sid: "PA_A", identity: "alice" };
const bob = { sid: "PA_B", identity: "bob" };

for (const kind of ENGINE_KINDS) {
  async function prepare(extra: Partial<TelemetryServiceOptions> = {}) {
    const reporter = new CapturingReporter();
    const clock = new ManualClock();
    const logger = new RecordingLogger();
    const service = new TelemetryService({ engine: await engine(kind), reporter, now: clock.now, logger, ...extra });
    return { service, reporter, clock, logger };
  }

  suite(`TelemetryService [${kind}]`, () => {
    test("participantJoined creates a worker with the room and participant ids (T1)", async () => {
      const { service, reporter } = await prepare();
      service.participantJoined(room, alice);
      assert.equal(service.workerCount, 1);
      service.trackStats("RM_1", "PA_A", "TR_1", DOWNSTREAM, stat({ streams: [{ primaryPackets: 2 }] }));
      service.flush();
      const s = reporter.all[0]!;
      assert.deepEqual([s.roomId, s.roomName, s.participantId, s.trackId, s.kind], ["RM_1", "room-one", "PA_A", "TR_1", DOWNSTREAM]);
    });

    test("a join for an open worker keeps it and its buffered stats (T1)", async () => {
      const { service, reporter } = await prepare();
      service.participantJoined(room, alice);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 2 }] }));
      service.participantJoined({ sid: "RM_1", name: "renamed" }, { sid: "PA_A", identity: "alice2" });
      service.flush();
      assert.equal(service.workerCount, 1);
      assert.equal(reporter.all[0]!.roomName, "room-one");
      assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 2);
    });

    test("participantLeft closes the worker and roomDetails still answers (T2)", async () => {
      const { service, reporter } = await prepare();
      service.participantJoined(room, alice);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      service.participantLeft("RM_1", "PA_A");
      assert.equal(reporter.batches.length, 1);
      assert.equal(service.workerCount, 1);
      assert.deepEqual(service.roomDetails("PA_A"), { roomId: "RM_1", roomName: "room-one" });
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      service.flush();
      assert.equal(reporter.batches.length, 1);
      assert.equal(service.counters.dropped, 1);
      assert.equal(service.roomDetails("PA_X"), undefined);
    });

    test("a stat for an unknown participant is dropped and counted (T3)", async () => {
      const { service, reporter } = await prepare();
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      service.participantJoined(room, alice);
      service.trackStats("RM_2", "PA_A", "TR_1", UPSTREAM, stat());
      service.flush();
      assert.equal(reporter.batches.length, 0);
      assert.equal(service.counters.dropped, 2);
    });

    test("workers are keyed by room and participant (Q2)", async () => {
      const { service, reporter } = await prepare();
      service.participantJoined(room, alice);
      service.participantJoined({ sid: "RM_2", name: "room-two" }, alice);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 1 }] }));
      service.trackStats("RM_2", "PA_A", "TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 2 }] }));
      service.flush();
      assert.equal(service.workerCount, 2);
      assert.deepEqual(reporter.all.map((s) => [s.roomId, s.streams[0]!.primaryPackets]).sort(), [["RM_1", 1], ["RM_2", 2]]);
    });

    test("cleanup reaps workers closed for strictly more than closeWaitMs (T4)", async () => {
      const { service, clock } = await prepare({ closeWaitMs: 1000 });
      service.participantJoined(room, alice);
      service.participantJoined(room, bob);
      service.participantLeft("RM_1", "PA_A");
      clock.advance(1000);
      service.cleanupWorkers();
      assert.equal(service.workerCount, 2);
      clock.advance(1);
      service.cleanupWorkers();
      assert.equal(service.workerCount, 1);
      assert.equal(service.roomDetails("PA_A"), undefined);
      assert.deepEqual(service.roomDetails("PA_B"), { roomId: "RM_1", roomName: "room-one" });
    });

    test("a rejoin replaces the closed worker and reaping never removes the new one (Q2)", async () => {
      const { service, reporter, clock } = await prepare({ closeWaitMs: 1000 });
      service.participantJoined(room, alice);
      service.participantLeft("RM_1", "PA_A");
      clock.advance(500);
      service.participantJoined(room, alice);
      assert.equal(service.workerCount, 1);
      clock.advance(5000);
      service.cleanupWorkers();
      assert.equal(service.workerCount, 1);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      service.flush();
      assert.equal(reporter.batches.length, 1);
    });

    test("trackStats reaches the worker that now holds the ids, never one replaced, reaped or in another room", async () => {
      const { service, reporter, clock } = await prepare({ closeWaitMs: 1000 });
      const packets = (n: number) => stat({ streams: [{ primaryPackets: n }] });
      service.participantJoined(room, alice);
      service.participantJoined({ sid: "RM_2", name: "room-two" }, alice);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(1));
      service.trackStats("RM_2", "PA_A", "TR_1", UPSTREAM, packets(2));
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(4));
      // the closed worker got the last stat; a rejoin replaces it and must get the next one
      service.participantLeft("RM_1", "PA_A");
      service.participantJoined(room, alice);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, packets(8));
      service.flush();
      assert.deepEqual(reporter.all.map((s) => [s.roomId, s.streams[0]!.primaryPackets]).sort(), [["RM_1", 5], ["RM_1", 8], ["RM_2", 2]]);
      // once reaped, a stat for the ids is dropped, not handed to the reaped worker
      service.participantLeft("RM_2", "PA_A");
      service.trackStats("RM_2", "PA_A", "TR_1", UPSTREAM, packets(16));
      clock.advance(1001);
      service.cleanupWorkers();
      const dropped = service.counters.dropped;
      service.trackStats("RM_2", "PA_A", "TR_1", UPSTREAM, packets(32));
      assert.equal(service.counters.dropped, dropped + 1);
      // and a join after the reap makes a worker that gets the next stat
      service.participantJoined({ sid: "RM_2", name: "room-two" }, alice);
      assert.equal(service.workerCount, 2);
      service.trackStats("RM_2", "PA_A", "TR_1", UPSTREAM, packets(64));
      reporter.batches.length = 0;
      service.flush();
      assert.deepEqual(reporter.all.map((s) => [s.roomId, s.streams[0]!.primaryPackets]), [["RM_2", 64]]);
    });

    test("roomDetails answers for the newest worker of a participant id (T2)", async () => {
      const { service, clock } = await prepare({ closeWaitMs: 10 });
      service.participantJoined(room, alice);
      service.participantJoined({ sid: "RM_2", name: "room-two" }, alice);
      assert.deepEqual(service.roomDetails("PA_A"), { roomId: "RM_2", roomName: "room-two" });
      service.participantLeft("RM_1", "PA_A");
      clock.advance(11);
      service.cleanupWorkers();
      assert.deepEqual(service.roomDetails("PA_A"), { roomId: "RM_2", roomName: "room-two" });
    });

    test("flush updates every worker; closed ones send nothing (T4)", async () => {
      const { service, reporter } = await prepare();
      service.participantJoined(room, alice);
      service.participantJoined(room, bob);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      service.trackStats("RM_1", "PA_B", "TR_2", UPSTREAM, stat());
      service.flush();
      assert.equal(reporter.batches.length, 2);
      assert.equal(service.counters.reports, 2);
      assert.equal(service.counters.statsOut, 2);
    });

    test("the timers flush and reap on their intervals and are unref'd (T4)", async (t) => {
      t.mock.timers.enable({ apis: ["setInterval"] });
      const { service, reporter, clock } = await prepare({ flushIntervalMs: 100, cleanupIntervalMs: 1000, closeWaitMs: 50 });
      service.participantJoined(room, alice);
      service.participantJoined(room, bob);
      service.start();
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      t.mock.timers.tick(99);
      assert.equal(reporter.batches.length, 0);
      t.mock.timers.tick(1);
      assert.equal(reporter.batches.length, 1);
      service.participantLeft("RM_1", "PA_B");
      clock.advance(51);
      t.mock.timers.tick(900);
      assert.equal(service.workerCount, 1);
      await service.stop();
    });

    test("timers never keep the process alive (T4)", async () => {
      const calls: string[] = [];
      const orig = globalThis.setInterval;
      const spy = mock.method(globalThis, "setInterval", (fn: () => void, ms: number) => {
        const h = orig(fn, ms);
        const unref = h.unref.bind(h);
        h.unref = () => { calls.push("unref"); return unref(); };
        return h;
      });
      try {
        const { service } = await prepare();
        service.start();
        assert.deepEqual(calls, ["unref", "unref"]);
        await service.stop();
      } finally {
        spy.mock.restore();
      }
    });

    test("stop() flushes every open worker once and later stats are dropped (T5)", async () => {
      const { service, reporter } = await prepare();
      service.participantJoined(room, alice);
      service.participantJoined(room, bob);
      service.start();
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      service.trackStats("RM_1", "PA_B", "TR_1", UPSTREAM, stat());
      await service.stop();
      assert.equal(reporter.batches.length, 2);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      await service.stop();
      assert.equal(reporter.batches.length, 2);
      assert.equal(service.counters.dropped, 1);
      assert.throws(() => service.participantJoined(room, alice), isArgumentError);
      assert.throws(() => service.start(), isArgumentError);
    });

    test("stop() waits for the reporter's flush() when it has one (T5)", async () => {
      let flushed = false;
      const reporter = { report() {}, async flush() { await new Promise((r) => setTimeout(r, 5)); flushed = true; } };
      const { service } = await prepare({ reporter });
      await service.stop();
      assert.equal(flushed, true);
    });

    test("a worker whose update throws is logged and the others still flush", async () => {
      let calls = 0;
      // the first worker's update sees an invalid date, the second a valid one
      const { service, reporter, logger } = await prepare({ now: () => (calls++ === 0 ? new Date(NaN) : new Date(0)) });
      service.participantJoined(room, alice);
      service.participantJoined(room, bob);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      service.trackStats("RM_1", "PA_B", "TR_1", UPSTREAM, stat());
      calls = 0;
      assert.doesNotThrow(() => service.flush());
      assert.equal(reporter.batches.length, 1);
      assert.equal(logger.count("error"), 1);
      service.flush();
      assert.equal(reporter.batches.length, 2);
    });

    test("a throwing reporter is caught, logged and counted", async () => {
      const reporter = { report() { throw new Error("down"); } };
      const { service, logger } = await prepare({ reporter });
      service.participantJoined(room, alice);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      assert.doesNotThrow(() => service.flush());
      assert.equal(service.counters.reporterErrors, 1);
      assert.equal(logger.count("error"), 1);
    });

    test("counters add up stats in, invalid and malformed", async () => {
      const { service } = await prepare();
      service.participantJoined(room, alice);
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat());
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, stat({ streams: [{ frames: 2 ** 31 }] }));
      service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, toBinary(AnalyticsStatSchema, stat({ score: 1 })));
      assert.throws(() => service.trackStats("RM_1", "PA_A", "TR_1", UPSTREAM, Uint8Array.of(0x4d, 1)), isDecodeError);
      assert.deepEqual({ ...service.counters }, { statsIn: 3, invalid: 1, dropped: 0, malformed: 1, refused: 0, statsOut: 0, reports: 0, reporterErrors: 0 });
    });

    test("invalid options throw an ArgumentError", async () => {
      const e = await engine(kind);
      assert.throws(() => new TelemetryService({ engine: e, reporter: new CapturingReporter(), flushIntervalMs: -1 }), isArgumentError);
      assert.throws(() => new TelemetryService({ engine: e, reporter: {} as never }), isArgumentError);
      const { service } = await prepare();
      assert.throws(() => service.participantJoined(null as never, alice), isArgumentError);
      assert.throws(() => service.participantJoined(room, { sid: 1 } as never), isArgumentError);
    });

    suite("ingestBatch()", () => {
      const enc = (init: Parameters<typeof stat>[0]) => sizeDelimitedEncode(AnalyticsStatSchema, stat(init));
      const concat = concatBytes;

      test("routes each message by its own room, participant, track and kind", async () => {
        const { service, reporter } = await prepare();
        service.participantJoined(room, alice);
        service.participantJoined(room, bob);
        service.ingestBatch(concat([
          enc({ roomId: "RM_1", participantId: "PA_A", trackId: "TR_1", kind: DOWNSTREAM, streams: [{ primaryPackets: 1 }] }),
          enc({ roomId: "RM_1", participantId: "PA_A", trackId: "TR_1", kind: DOWNSTREAM, streams: [{ primaryPackets: 2 }] }),
          enc({ roomId: "RM_1", participantId: "PA_B", trackId: "TR_2", kind: UPSTREAM, streams: [{ primaryPackets: 4 }] }),
          enc({ roomId: "RM_9", participantId: "PA_B", trackId: "TR_2", kind: UPSTREAM, streams: [{ primaryPackets: 8 }] }),
        ]));
        service.flush();
        const got = reporter.all.map((s) => [s.participantId, s.trackId, s.kind, s.streams[0]!.primaryPackets]).sort();
        assert.deepEqual(got, [["PA_A", "TR_1", DOWNSTREAM, 3], ["PA_B", "TR_2", UPSTREAM, 4]]);
        assert.equal(service.counters.dropped, 1);
      });

      test("a malformed message is skipped, the rest ingested, then a DecodeError names it", async () => {
        const { service, reporter } = await prepare();
        service.participantJoined(room, alice);
        const good = enc({ roomId: "RM_1", participantId: "PA_A", trackId: "TR_1", streams: [{ primaryPackets: 1 }] });
        const bad = Uint8Array.of(2, 0x4d, 1);
        let caught: unknown;
        try {
          service.ingestBatch(concat([good, bad, good]));
        } catch (err) {
          caught = err;
        }
        assert.ok(isDecodeError(caught));
        assert.equal(caught.index, 1);
        assert.equal(caught.offset, good.length);
        service.flush();
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 2);
        assert.equal(service.counters.malformed, 1);
      });

      test("a length prefix past the end keeps the messages before it", async () => {
        const { service, reporter } = await prepare();
        service.participantJoined(room, alice);
        const good = enc({ roomId: "RM_1", participantId: "PA_A", trackId: "TR_1", streams: [{ primaryPackets: 1 }] });
        assert.throws(() => service.ingestBatch(concat([good, Uint8Array.of(50, 1, 2)])), (e) => isDecodeError(e) && e.code === "truncated" && e.index === 1);
        assert.throws(() => service.ingestBatch(concat([good, Uint8Array.of(0x80, 0x80)])), (e) => isDecodeError(e) && e.index === 1);
        service.flush();
        assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 2);
      });
    });
  });
}
