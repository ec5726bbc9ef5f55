/**
 * The benchmarks' ts-flat engine must agree exactly with the ts engine (same numbers, same
 * float32 bits, same layer; same accept/reject on bad bytes), like the wasm engine does.
 *
 * Re-run a failure with SEED=<printed seed>.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  StatsWorker,
  StreamType,
  type AnalyticsStat,
  type Engine,
} from "../../src/index.ts";
import { Random } from "../../src/sim/random.ts";
import { StatGen, mutateEncoded } from "../random-stats.ts";
import { createTsFlatEngine } from "../../bench/ts-flat/engine.ts";
import { CapturingReporter, engine } from "../helpers.ts";

const SEED = process.env["SEED"] !== undefined ? Number(process.env["SEED"]) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
console.log(`ts-flat seed: ${SEED} (re-run with SEED=${SEED})`);



const flat = createTsFlatEngine() as unknown as Engine;
const byKey = (x: AnalyticsStat, y: AnalyticsStat) => x.kind - y.kind || x.trackId.localeCompare(y.trackId);

class BytesReporter extends CapturingReporter {
  reportBytes(batch: Uint8Array): void {
    this.report(fromBinary(AnalyticsStatsSchema, batch.slice()).stats);
  }
}

suite("ts-flat engine vs ts engine", () => {
  test("coalesce() and isValid() agree on 40 000 random stats in groups of 1-16", async () => {
    const ts = await engine("ts");
    const gen = new StatGen(new Random(SEED), 0.05);
    let total = 0;
    for (let g = 0; total < 40_000; g++) {
      const group = Array.from({ length: gen.r.int(1, 16) }, () => gen.stat());
      total += group.length;
      assert.deepStrictEqual(flat.coalesce(group), ts.coalesce(group), `group ${g} (seed ${SEED})`);
      for (const s of group) assert.equal(flat.isValid(s), ts.isValid(s), `isValid, group ${g} (seed ${SEED})`);
    }
    assert.equal(flat.coalesce([]), undefined);
  });

  async function runWorker(e: Engine, windows: { trackId: string; direction: StreamType; stat: AnalyticsStat; bytes: Uint8Array; asBytes: boolean }[][], bytesOut: boolean) {
    const reporter = bytesOut ? new BytesReporter() : new CapturingReporter();
    const worker = new StatsWorker({ engine: e, reporter, roomId: "R", roomName: "salle é 🍽", participantId: "P", participantIdentity: "p", now: () => new Date(1_700_000_000_123) });
    for (const window of windows) {
      for (const s of window) {
        if (s.asBytes) worker.onTrackStatBytes(s.trackId, s.direction, s.bytes);
        else worker.onTrackStat(s.trackId, s.direction, s.stat);
      }
      worker.update();
    }
    return reporter.batches.map((b) => [...b].sort(byKey));
  }

  for (const bytesOut of [false, true]) {
    test(`StatsWorker agrees on 20 000 random stats from objects and bytes over 40 windows (${bytesOut ? "reportBytes" : "report"})`, async () => {
      const ts = await engine("ts");
      const gen = new StatGen(new Random(SEED ^ 0x9e3779b9), 0.03);
      const windows = [];
      for (let w = 0; w < 40; w++) {
        const window = [];
        for (let i = 0; i < 500; i++) {
          const stat = gen.stat();
          const direction = gen.r.pick([StreamType.UPSTREAM, StreamType.DOWNSTREAM, 2 as StreamType]);
          window.push({ trackId: gen.r.chance(0.05) ? `T-é${gen.r.int(0, 3)}` : `T${gen.r.int(0, 40 - w)}`, direction, stat, bytes: toBinary(AnalyticsStatSchema, stat), asBytes: gen.r.chance(0.5) });
        }
        windows.push(window);
      }
      const expected = await runWorker(ts, windows, bytesOut);
      assert.deepStrictEqual(await runWorker(flat, windows, bytesOut), expected, `worker batches differ (seed ${SEED})`);
      if (bytesOut) assert.deepStrictEqual(expected, await runWorker(ts, windows, false), "bytes-out equals the object path");
    });
  }

  test("malformed and mutated bytes: same accept/reject (DecodeError or LimitError) and same fold", async () => {
    const ts = await engine("ts");
    const gen = new StatGen(new Random(SEED ^ 0x85ebca6b), 0.05);
    const r = new Random(SEED ^ 0xc2b2ae35);
    const seeds = Array.from({ length: 64 }, () => toBinary(AnalyticsStatSchema, gen.stat()));
    // bounds: 65 streams; 33 layers
    seeds.push(toBinary(AnalyticsStatSchema, create(AnalyticsStatSchema, { streams: Array.from({ length: 65 }, () => ({ rtt: 1 })) })));
    seeds.push(toBinary(AnalyticsStatSchema, create(AnalyticsStatSchema, { streams: [{ videoLayers: Array.from({ length: 33 }, (_, i) => ({ layer: i })) }] })));
    const makeWorker = (e: Engine, reporter: CapturingReporter) =>
      new StatsWorker({ engine: e, reporter, roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p", now: () => new Date(0) });
    const tsOut = new CapturingReporter();
    const flatOut = new CapturingReporter();
    const tsWorker = makeWorker(ts, tsOut);
    const flatWorker = makeWorker(flat, flatOut);
    let rejected = 0;
    let accepted = 0;
    for (let i = 0; i < 6000; i++) {
      const input = i < seeds.length ? seeds[i]! : mutateEncoded(r, seeds[r.int(0, seeds.length - 1)]!);
      const outcome = (worker: StatsWorker) => {
        try {
          worker.onTrackStatBytes(`T${i % 7}`, StreamType.UPSTREAM, input);
          return "ok";
        } catch (err) {
          const name = (err as Error).name;
          assert.ok(name === "DecodeError" || name === "LimitError", `unexpected ${String(err)} for input ${i}`);
          return name;
        }
      };
      const a = outcome(tsWorker);
      const b = outcome(flatWorker);
      assert.equal(b === "ok", a === "ok", `accept/reject differs on input ${i}: ts ${a}, ts-flat ${b} [${Array.from(input).join(",")}] (seed ${SEED})`);
      if (a === "ok") accepted++;
      else rejected++;
      if (i % 10 === 9) {
        tsWorker.update();
        flatWorker.update();
      }
    }
    tsWorker.update();
    flatWorker.update();
    assert.deepStrictEqual(flatOut.batches.map((x) => x.sort(byKey)), tsOut.batches.map((x) => x.sort(byKey)), `folds differ (seed ${SEED})`);
    assert.ok(accepted > 500 && rejected > 500, `accepted ${accepted}, rejected ${rejected}`);
    assert.equal(tsWorker.counters.malformed, flatWorker.counters.malformed);
  });
});
