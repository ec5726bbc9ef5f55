// Bounds that protect the others: one participant (or one service) cannot make the shared engine
// hold more than its bound of tracks or id bytes, and a refused stat changes nothing else.
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import {
  AnalyticsStatSchema,
  DEFAULT_BOUNDS,
  StreamType,
  TelemetryService,
  isArgumentError,
  isLimitError,
  loadEngine,
  type EngineBounds,
} from "../../src/index.ts";
import { CapturingReporter, concatBytes } from "../helpers.ts";

const room = { sid: "RM", name: "room" };
const enc = (participantId: string, trackId: string, kind = StreamType.UPSTREAM) =>
  sizeDelimitedEncode(AnalyticsStatSchema, create(AnalyticsStatSchema, { roomId: "RM", participantId, trackId, kind, streams: [{ primaryPackets: 1 }] }));
const concat = concatBytes;

async function prepare(kind: "ts" | "wasm", bounds: Partial<EngineBounds>) {
  const reporter = new CapturingReporter();
  const engine = await loadEngine(kind, { bounds });
  const service = new TelemetryService({ engine, reporter });
  for (const sid of ["PA_FLOOD", "PA_HONEST", "PA_OTHER"]) service.participantJoined(room, { sid, identity: sid });
  return { service, reporter, engine };
}

// one scenario, run on both engines: everything observable must agree
async function scenario(kind: "ts" | "wasm") {
  const { service, reporter } = await prepare(kind, { maxTracksPerWorker: 4, maxTracksPerService: 9, maxIdBytesPerWorker: 64 });
  const log: string[] = [];
  const call = (what: string, f: () => void) => {
    try {
      f();
      log.push(`${what}: ok`);
    } catch (err) {
      log.push(`${what}: ${isLimitError(err) ? err.code : String(err)}`);
    }
  };
  // window 1: the flooder's 5th and 6th tracks are refused, in both directions together
  for (let t = 0; t < 6; t++) call(`flood ${t}`, () => service.trackStats("RM", "PA_FLOOD", `TR_${t}`, t & 1, { streams: [{ frames: 1 }] }));
  // an existing track always takes more stats
  call("flood again", () => service.trackStats("RM", "PA_FLOOD", "TR_0", StreamType.UPSTREAM, { streams: [{ frames: 1 }] }));
  // bytes count the same
  call("flood bytes", () => service.trackStats("RM", "PA_FLOOD", "TR_9", StreamType.UPSTREAM, new Uint8Array()));
  // the honest participant is not affected by the flooder's bound
  for (let t = 0; t < 3; t++) call(`honest ${t}`, () => service.trackStats("RM", "PA_HONEST", `TR_${t}`, StreamType.DOWNSTREAM, { streams: [{ frames: 2 }] }));
  // an id over the id-bytes bound (64 bytes per worker)
  call("long id", () => service.trackStats("RM", "PA_HONEST", "x".repeat(60), StreamType.UPSTREAM, {}));
  // the service holds 7 tracks: two more fit, the third passes the service bound
  for (let t = 0; t < 3; t++) call(`other ${t}`, () => service.trackStats("RM", "PA_OTHER", `TR_${t}`, StreamType.UPSTREAM, {}));
  service.flush();
  log.push(`window 1: ${reporter.all.map((s) => `${s.participantId}/${s.trackId}`).sort().join(" ")}`);
  // window 2: TR_0 stays busy, the rest of the flooder's tracks go quiet, but are held one window more
  call("w2 busy", () => service.trackStats("RM", "PA_FLOOD", "TR_0", StreamType.UPSTREAM, {}));
  call("w2 new", () => service.trackStats("RM", "PA_FLOOD", "TR_7", StreamType.UPSTREAM, {}));
  service.flush();
  // window 3: the quiet tracks were let go at the end of window 2
  for (let t = 10; t < 14; t++) call(`w3 new ${t}`, () => service.trackStats("RM", "PA_FLOOD", `TR_${t}`, StreamType.UPSTREAM, {}));
  // a batch: the flooder's new tracks are refused and counted, the honest stats in it are kept
  const batch = concat([...Array.from({ length: 50 }, (_, i) => enc("PA_FLOOD", `B_${i}`)), enc("PA_HONEST", "TR_0", StreamType.DOWNSTREAM)]);
  call("batch", () => service.ingestBatch(batch));
  log.push(`counters after batch: ${JSON.stringify(service.counters)}`);
  // closing the flooder gives its tracks back to the service
  service.participantLeft("RM", "PA_FLOOD");
  call("other after leave", () => service.trackStats("RM", "PA_OTHER", "TR_NEW", StreamType.UPSTREAM, {}));
  reporter.batches.length = 0;
  service.flush();
  log.push(`last window: ${reporter.all.map((s) => `${s.participantId}/${s.trackId}/${s.streams[0]!.frames}`).sort().join(" ")}`);
  log.push(`counters: ${JSON.stringify(service.counters)}`);
  await service.stop();
  return log;
}

suite("engine bounds", () => {
  test("over a bound the new track is refused and counted, and nothing else changes (ts)", async () => {
    const log = await scenario("ts");
    const at = (prefix: string) => log.find((l) => l.startsWith(prefix));
    assert.equal(at("flood 3"), "flood 3: ok");
    assert.equal(at("flood 4"), "flood 4: too_many_tracks");
    assert.equal(at("flood 5"), "flood 5: too_many_tracks");
    assert.equal(at("flood again"), "flood again: ok");
    assert.equal(at("flood bytes"), "flood bytes: too_many_tracks");
    assert.equal(at("honest 2"), "honest 2: ok");
    assert.equal(at("other 1"), "other 1: ok");
    assert.equal(at("other 2"), "other 2: too_many_service_tracks");
    assert.equal(at("long id"), "long id: too_many_id_bytes");
    assert.equal(at("w2 new"), "w2 new: too_many_tracks");
    assert.equal(at("w3 new 12"), "w3 new 12: ok");
    assert.equal(at("w3 new 13"), "w3 new 13: too_many_tracks");
    assert.equal(at("other after leave"), "other after leave: ok");
    assert.match(at("last window")!, /PA_HONEST\/TR_0\/0/);
  });

  test("both engines refuse, count and report the same", async () => {
    assert.deepEqual(await scenario("wasm"), await scenario("ts"));
  });

  for (const kind of ["ts", "wasm"] as const) {
    test(`a track-id flood in one batch costs the others nothing [${kind}]`, async () => {
      const { service, reporter, engine } = await prepare(kind, {});
      const flood = concat(Array.from({ length: 20_000 }, (_, i) => enc("PA_FLOOD", `T${i}`)));
      service.trackStats("RM", "PA_HONEST", "TR_A", StreamType.UPSTREAM, { streams: [{ frames: 3 }] });
      service.ingestBatch(concat([flood, enc("PA_HONEST", "TR_B")]));
      assert.equal(service.counters.refused, 20_000 - DEFAULT_BOUNDS.maxTracksPerWorker);
      service.flush();
      const honest = reporter.all.filter((s) => s.participantId === "PA_HONEST").map((s) => s.trackId).sort();
      assert.deepEqual(honest, ["TR_A", "TR_B"]);
      assert.equal(reporter.all.filter((s) => s.participantId === "PA_FLOOD").length, DEFAULT_BOUNDS.maxTracksPerWorker);
      // and a join still works
      service.participantJoined(room, { sid: "PA_NEW", identity: "new" });
      service.trackStats("RM", "PA_NEW", "TR", StreamType.UPSTREAM, {});
      assert.equal(engine.kind, kind);
      await service.stop();
    });

    test(`a batch over maxBatchBytes is refused whole [${kind}]`, async () => {
      const { service } = await prepare(kind, { maxBatchBytes: 1000 });
      const batch = concat(Array.from({ length: 100 }, (_, i) => enc("PA_HONEST", `T${i}`)));
      assert.ok(batch.length > 1000);
      assert.throws(() => service.ingestBatch(batch), (e: unknown) => isLimitError(e) && e.code === "batch_too_large" && e.limit === 1000);
      assert.equal(service.counters.statsIn, 0);
      await service.stop();
    });

    test(`bounds must be integers in [1, 2^32) [${kind}]`, async () => {
      for (const bad of [0, -1, 1.5, 2 ** 32, "4", NaN]) {
        await assert.rejects(loadEngine(kind, { bounds: { maxTracksPerWorker: bad as number } }), isArgumentError);
      }
    });
  }
});
