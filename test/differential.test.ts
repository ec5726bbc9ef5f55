/**
 * Differential suite: the wasm and ts engines must agree exactly (same numbers, same float32
 * bits, same layer) on random inputs heavy with edge values, through coalesce(), StatsWorker
 * (objects and bytes) and TelemetryService.ingestBatch, in both profiles.
 *
 * Re-run a failure with SEED=<printed seed> npm test.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { BinaryReader, sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import {
  AnalyticsStatSchema,
  StatsWorker,
  StreamType,
  TelemetryService,
  type AnalyticsStat,
  type Engine,
} from "../src/index.ts";
import { Random } from "../src/sim/random.ts";
import { StatGen, mutateEncoded } from "./random-stats.ts";
import { INGEST_WINDOW } from "../src/telemetry-service.ts";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CapturingReporter, concatBytes, engine } from "./helpers.ts";
import { currentStat, profileEngine } from "./engine/profile-fixtures.ts";

/** The raw bytes of each stat of an encoded AnalyticsStats (field 1, length-delimited). */
function splitStats(batch: Uint8Array): Uint8Array[] {
  const r = new BinaryReader(batch);
  const out: Uint8Array[] = [];
  while (r.pos < r.len) {
    r.tag();
    out.push(r.bytes());
  }
  return out;
}

const SEED = process.env["SEED"] !== undefined ? Number(process.env["SEED"]) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
console.log(`differential seed: ${SEED} (re-run with SEED=${SEED})`);


// deepStrictEqual compares numbers with Object.is: NaN equals NaN and 0 differs from -0
const sameStat = (a: AnalyticsStat | undefined, b: AnalyticsStat | undefined, what: string) =>
  assert.deepStrictEqual(a, b, `${what} differs (seed ${SEED})`);

/** `stat` sent to one of 4 rooms x 31 participants x 4 tracks with a kind (5 is unknown), size-delimited. */
function routed(gen: StatGen, stat: AnalyticsStat): Uint8Array {
  stat.roomId = `RM_${gen.r.int(0, 3)}`;
  stat.participantId = `PA_${gen.r.int(0, 30)}`;
  stat.trackId = `TR_${gen.r.int(0, 3)}`;
  stat.kind = gen.r.pick([0, 1, 5]) as StreamType;
  return sizeDelimitedEncode(AnalyticsStatSchema, stat);
}

/**
 * Feeds `windows` windows of 500 stats from `next` to a ts worker (objects out) and a wasm worker
 * (bytes out, half the stats given as bytes) and checks that every window's bytes are what
 * protobuf-es writes for the ts results.
 */
function bytesOutAgree(ts: Engine, wasm: Engine, gen: StatGen, windows: number, next: () => AnalyticsStat, what: string): void {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const objects: string[][] = [];
  const bytes: string[][] = [];
  const wObjects = new StatsWorker({ engine: ts, reporter: { report: (s) => void objects.push(s.map((x) => hex(toBinary(AnalyticsStatSchema, x))).sort()) },
    roomId: "RM_é", roomName: "", participantId: "P", participantIdentity: "p", now: () => new Date(1_795_000_000_123) });
  const wBytes = new StatsWorker({ engine: wasm, reporter: { report: () => assert.fail("report()"), reportBytes: (b) => void bytes.push(splitStats(b).map(hex).sort()) },
    roomId: "RM_é", roomName: "", participantId: "P", participantIdentity: "p", now: () => new Date(1_795_000_000_123) });
  for (let w = 0; w < windows; w++) {
    for (let i = 0; i < 500; i++) {
      const stat = next();
      const trackId = `T${gen.r.int(0, 30)}`;
      const direction = gen.r.pick([StreamType.UPSTREAM, StreamType.DOWNSTREAM]);
      wObjects.onTrackStat(trackId, direction, stat);
      if (gen.r.chance(0.5)) wBytes.onTrackStat(trackId, direction, stat);
      else wBytes.onTrackStatBytes(trackId, direction, toBinary(AnalyticsStatSchema, stat));
    }
    wObjects.update();
    wBytes.update();
  }
  assert.deepStrictEqual(bytes, objects, `${what} (seed ${SEED})`);
}

suite("differential: wasm engine vs ts engine", () => {
  test("coalesce() agrees on 60 000 random stats in groups of 1-16", async () => {
    const [ts, wasm] = [await engine("ts"), await engine("wasm")];
    const gen = new StatGen(new Random(SEED), 0.05);
    let total = 0;
    for (let g = 0; total < 60_000; g++) {
      const group = Array.from({ length: gen.r.int(1, 16) }, () => gen.stat());
      total += group.length;
      sameStat(wasm.coalesce(group), ts.coalesce(group), `group ${g}`);
      for (const s of group) assert.equal(wasm.isValid(s), ts.isValid(s), `isValid, group ${g} (seed ${SEED})`);
    }
  });

  async function runWorkers(e: Engine, stats: { trackId: string; direction: StreamType; stat: AnalyticsStat; bytes: Uint8Array; asBytes: boolean }[][]) {
    const reporter = new CapturingReporter();
    const worker = new StatsWorker({ engine: e, reporter, roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p", now: () => new Date(0) });
    for (const window of stats) {
      for (const s of window) {
        if (s.asBytes) worker.onTrackStatBytes(s.trackId, s.direction, s.bytes);
        else worker.onTrackStat(s.trackId, s.direction, s.stat);
      }
      worker.update();
    }
    return reporter.batches.map((b) => [...b].sort((x, y) => x.kind - y.kind || x.trackId.localeCompare(y.trackId)));
  }

  test("StatsWorker agrees on 30 000 random stats from objects and bytes over 50 windows", async () => {
    const [ts, wasm] = [await engine("ts"), await engine("wasm")];
    const gen = new StatGen(new Random(SEED ^ 0x9e3779b9), 0.03);
    const windows = [];
    for (let w = 0; w < 50; w++) {
      const window = [];
      for (let i = 0; i < 600; i++) {
        const stat = gen.stat();
        const direction = gen.r.pick([StreamType.UPSTREAM, StreamType.DOWNSTREAM, 2 as StreamType]);
        window.push({ trackId: `T${gen.r.int(0, 40)}`, direction, stat, bytes: toBinary(AnalyticsStatSchema, stat), asBytes: gen.r.chance(0.5) });
      }
      windows.push(window);
    }
    assert.deepStrictEqual(await runWorkers(wasm, windows), await runWorkers(ts, windows), `worker batches differ (seed ${SEED})`);
  });

  test("bytes out from wasm equal protobuf-es bytes of the ts results on 20 000 random stats", async () => {
    const [ts, wasm] = [await engine("ts"), await engine("wasm")];
    const gen = new StatGen(new Random(SEED ^ 0x27d4eb2f), 0.03);
    bytesOutAgree(ts, wasm, gen, 40, () => gen.stat(), "bytes differ");
  });

  test("TelemetryService.ingestBatch agrees on 20 000 random routed stats", async () => {
    const gen = new StatGen(new Random(SEED ^ 0x85ebca6b), 0.03);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) {
      const stat = gen.stat();
      parts.push(routed(gen, stat));
    }
    const batch = concatBytes(parts);
    const run = async (kind: "ts" | "wasm") => {
      const reporter = new CapturingReporter();
      const service = new TelemetryService({ engine: await engine(kind), reporter, now: () => new Date(0) });
      for (let r = 0; r < 4; r++) for (let p = 0; p < 25; p++) service.participantJoined({ sid: `RM_${r}`, name: "n" }, { sid: `PA_${p}`, identity: "i" });
      service.ingestBatch(batch);
      service.flush();
      return { out: reporter.all.sort((x, y) => (x.roomId + x.participantId + x.trackId + x.kind).localeCompare(y.roomId + y.participantId + y.trackId + y.kind)), counters: { ...service.counters } };
    };
    const [a, b] = [await run("wasm"), await run("ts")];
    assert.deepStrictEqual(a, b, `service output differs (seed ${SEED})`);
    assert.ok(a.counters.dropped > 0 && a.counters.statsOut > 0);
  });

  test("a windowed ingestBatch stops before the same messages and takes the same stats on 20 000 random messages", async () => {
    // a window at the epoch: a stat without a time stamp would be at 0, inside it
    const windowStart = 0;
    const messages = windowedMessages(new StatGen(new Random(SEED ^ 0x3c6ef372), 0.03), 20_000, windowStart);
    const run = async (kind: "ts" | "wasm") => {
      const reporter = new CapturingReporter();
      const service = new TelemetryService({ engine: await engine(kind), reporter, now: () => new Date(0) });
      for (let r = 0; r < 4; r++) for (let p = 0; p < 25; p++) service.participantJoined({ sid: `RM_${r}`, name: "n" }, { sid: `PA_${p}`, identity: "i" });
      // as a replay does: a windowed ingest of what is left in chunks of up to 200 messages, and
      // each message it stops before skipped
      const steps: number[][] = [];
      let next = 0;
      while (next < messages.length) {
        const chunk = messages.slice(next, next + 200);
        const window = { fromMs: windowStart - 5_000, untilMs: windowStart + 10_000, lateBeforeMs: windowStart };
        const r = service[INGEST_WINDOW](concatBytes(chunk), window);
        let bytes = 0;
        let taken = 0;
        while (taken < chunk.length && bytes + chunk[taken]!.length <= r.taken) bytes += chunk[taken++]!.length;
        assert.equal(bytes, r.taken, `${kind}: a stop inside a message (seed ${SEED})`);
        steps.push([taken < chunk.length ? 1 : 0, taken, r.messages, r.late, r.statsIn, r.invalid, r.refused, r.dropped, r.malformed]);
        next += taken < chunk.length ? taken + 1 : taken;
      }
      service.flush();
      const out = reporter.all.sort((x, y) => (x.roomId + x.participantId + x.trackId + x.kind).localeCompare(y.roomId + y.participantId + y.trackId + y.kind));
      return { steps, out, counters: { ...service.counters } };
    };
    const [a, b] = [await run("wasm"), await run("ts")];
    assert.deepStrictEqual(a.steps, b.steps, `windowed stops differ (seed ${SEED})`);
    assert.deepStrictEqual(a, b, `windowed service output differs (seed ${SEED})`);
    // the run stopped often, took late stats and folded most: the test saw every case
    const stops = a.steps.filter((s) => s[0] === 1).length;
    assert.ok(stops > 1_000, `only ${stops} stops (seed ${SEED})`);
    assert.ok(a.steps.some((s) => s[3]! > 0) && a.counters.statsIn > 10_000, `nothing late or little taken (seed ${SEED})`);
    assert.equal(a.counters.dropped + a.counters.malformed, 0, "a windowed ingest drops nothing and counts no malformed message");
  });
});

/**
 * A replay's stream of messages for a windowed ingest: routed stats, some of them for
 * participants never joined, without a routing field, with a time stamp outside the window or
 * of Date, with a time stamp split over two occurrences, malformed, or with a broken prefix.
 */
function windowedMessages(gen: StatGen, n: number, windowStart: number): Uint8Array[] {
  const r = gen.r;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const stat = gen.stat();
    stat.roomId = `RM_${r.int(0, 3)}`;
    stat.participantId = `PA_${r.int(0, r.float() < 0.02 ? 40 : 24)}`;
    stat.trackId = `TR_${r.int(0, 3)}`;
    stat.kind = r.pick([0, 1, 5]) as StreamType;
    // mostly in the window [windowStart, windowStart + 10 000); some before it (late) or after
    const ms = windowStart + r.int(-300, 10_300) * (r.float() < 0.01 ? 1e9 : 1);
    stat.timeStamp = timestampFromMs(Math.max(-8e15, Math.min(8e15, ms)));
    const odd = r.float();
    if (odd < 0.005) stat.roomId = "";
    else if (odd < 0.01) stat.participantId = "";
    else if (odd < 0.015) stat.trackId = "";
    else if (odd < 0.02) stat.timeStamp = undefined;
    else if (odd < 0.025) stat.timeStamp = { $typeName: "google.protobuf.Timestamp", seconds: BigInt(r.pick([-1, 1])) * 10_000_000_000_000n, nanos: 0 };
    // a negative nanos around the late bound: floor, not truncation, puts it before it
    else if (odd < 0.03) stat.timeStamp = { $typeName: "google.protobuf.Timestamp", seconds: BigInt(r.int(0, 1)), nanos: -r.int(1, 1_999_999) };
    let bytes: Uint8Array = toBinary(AnalyticsStatSchema, stat);
    // a second time_stamp with nanos only: protobuf merges it into the first
    if (odd >= 0.03 && odd < 0.04) bytes = concatBytes([bytes, Uint8Array.of(0x1a, 0x04, 0x10, 0xc0, 0x84, 0x3d)]);
    if (odd >= 0.04 && odd < 0.05) bytes = mutateEncoded(r, bytes);
    const length: number[] = [];
    let v = bytes.length;
    while (v > 0x7f) {
      length.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    length.push(v);
    out.push(concatBytes([Uint8Array.from(length), bytes]));
  }
  return out;
}

suite("differential livekit-current: wasm engine vs ts engine", () => {
  const engines = async () => [await profileEngine("ts", "livekit-current"), await profileEngine("wasm", "livekit-current")] as const;

  test("coalesce() and isValid() agree on 40 000 random stats with Go's special times, mimes and packets_out_of_order", async () => {
    const [ts, wasm] = await engines();
    const gen = new StatGen(new Random(SEED ^ 0x2545f491), 0.05);
    let total = 0;
    for (let g = 0; total < 40_000; g++) {
      const group = Array.from({ length: gen.r.int(1, 16) }, () => currentStat(gen));
      total += group.length;
      sameStat(wasm.coalesce(group), ts.coalesce(group), `livekit-current group ${g}`);
      for (const s of group) assert.equal(wasm.isValid(s), ts.isValid(s), `isValid, livekit-current group ${g} (seed ${SEED})`);
    }
  });

  test("StatsWorker agrees on 20 000 random stats from objects and bytes over 40 windows, closed halfway", async () => {
    const [ts, wasm] = await engines();
    const gen = new StatGen(new Random(SEED ^ 0x4f1bbcdc), 0.03);
    const windows: { trackId: string; direction: StreamType; stat: AnalyticsStat; bytes: Uint8Array; asBytes: boolean }[][] = [];
    for (let w = 0; w < 40; w++) {
      const window = [];
      for (let i = 0; i < 500; i++) {
        const stat = currentStat(gen);
        window.push({ trackId: `T${gen.r.int(0, 40)}`, direction: gen.direction(), stat, bytes: toBinary(AnalyticsStatSchema, stat), asBytes: gen.r.chance(0.5) });
      }
      windows.push(window);
    }
    const run = (e: Engine) => {
      const reporter = new CapturingReporter();
      const worker = new StatsWorker({ engine: e, reporter, roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p", now: () => new Date(0) });
      windows.forEach((window, w) => {
        for (const s of window) {
          if (s.asBytes) worker.onTrackStatBytes(s.trackId, s.direction, s.bytes);
          else worker.onTrackStat(s.trackId, s.direction, s.stat);
        }
        // a closed worker keeps buffering and reporting in this profile
        if (w === 20) worker.close();
        worker.update();
      });
      return reporter.batches.map((b) => [...b].sort((x, y) => x.kind - y.kind || x.trackId.localeCompare(y.trackId)));
    };
    assert.deepStrictEqual(run(wasm), run(ts), `livekit-current worker batches differ (seed ${SEED})`);
  });

  test("bytes out from wasm equal protobuf-es bytes of the ts results on 15 000 random stats", async () => {
    const [ts, wasm] = await engines();
    const gen = new StatGen(new Random(SEED ^ 0x1b873593), 0.03);
    bytesOutAgree(ts, wasm, gen, 30, () => currentStat(gen), "livekit-current bytes differ");
  });

  test("TelemetryService.ingestBatch agrees on 15 000 random routed stats, through close, flush and reaping", async () => {
    const gen = new StatGen(new Random(SEED ^ 0x68e31da4), 0.03);
    const batches: Uint8Array[] = [];
    for (let b = 0; b < 3; b++) {
      const parts: Uint8Array[] = [];
      for (let i = 0; i < 5_000; i++) {
        const stat = currentStat(gen);
        parts.push(routed(gen, stat));
      }
      const batch = concatBytes(parts);
      batches.push(batch);
    }
    const run = async (kind: "ts" | "wasm") => {
      const reporter = new CapturingReporter();
      let clock = 0;
      const service = new TelemetryService({ engine: await profileEngine(kind, "livekit-current"), reporter, now: () => new Date(clock), closeWaitMs: 1000 });
      for (let r = 0; r < 4; r++) for (let p = 0; p < 25; p++) service.participantJoined({ sid: `RM_${r}`, name: "n" }, { sid: `PA_${p}`, identity: "i" });
      for (const [b, batch] of batches.entries()) {
        service.ingestBatch(batch);
        if (b === 0) for (let p = 0; p < 10; p++) service.participantLeft("RM_1", `PA_${p}`);
        service.flush();
        clock += 600;
      }
      const key = (x: AnalyticsStat) => x.roomId + x.participantId + x.trackId + x.kind + x.timeStamp!.seconds;
      return { out: reporter.all.sort((x, y) => key(x).localeCompare(key(y))), counters: { ...service.counters }, workers: service.workerCount };
    };
    const [a, b] = [await run("wasm"), await run("ts")];
    assert.deepStrictEqual(a, b, `livekit-current service output differs (seed ${SEED})`);
    assert.ok(a.counters.dropped > 0 && a.counters.statsOut > 0 && a.workers === 90);
  });
});
