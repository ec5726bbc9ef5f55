/**
 * The in-page suite: bundled for the browser (or loaded through an import map against dist/) and
 * run inside headless Chromium by browser.test.ts. Every case of PAGE_CASES runs once; the
 * outcome lands in `window.__results`.
 *
 * The library is imported only through its public entry, so the same file exercises the source
 * (bundled by esbuild) and the built package (dist/, through an import map).
 *
 * Seed: `?seed=<u32>` in the page URL (browser.test.ts prints it and takes SEED from the env).
 */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  StatsWorker,
  StreamType,
  isDecodeError,
  loadEngine,
  type AnalyticsStat,
  type Engine,
  type TelemetryReporter,
} from "../../src/index.ts";
import { Random } from "../../src/sim/random.ts";
import { StatGen } from "../random-stats.ts";
import { DIFFERENTIAL_STATS, PAGE_CASES, PAGE_ENGINE_KINDS, scenarioName, type PageResult } from "./cases.ts";

const { UPSTREAM, DOWNSTREAM } = StreamType;


/**
 * A canonical text of a value that tells apart everything assert.deepStrictEqual does for these
 * messages: 0 and -0, bigint and number, missing and present fields. NaN equals NaN.
 */
function canon(v: unknown): string {
  switch (typeof v) {
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "string":
      return JSON.stringify(v);
    case "object": {
      if (v === null) return "null";
      if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
      if (v instanceof Uint8Array) return `bytes(${Array.from(v).join(",")})`;
      const o = v as Record<string, unknown>;
      return `{${Object.keys(o).sort().map((k) => `${k}:${canon(o[k])}`).join(",")}}`;
    }
    default:
      return String(v);
  }
}

class CaseFailure extends Error {
  override readonly name = "CaseFailure";
}

function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new CaseFailure(message);
}

function checkEqual(actual: unknown, expected: unknown, what: string): void {
  const a = canon(actual);
  const e = canon(expected);
  if (a === e) return;
  let i = 0;
  while (i < a.length && a[i] === e[i]) i++;
  const from = Math.max(0, i - 120);
  throw new CaseFailure(`${what}: first difference at char ${i}\n  actual:   …${a.slice(from, i + 120)}…\n  expected: …${e.slice(from, i + 120)}…`);
}

/** A reporter that keeps every batch. */
class Capture implements TelemetryReporter {
  readonly batches: AnalyticsStat[][] = [];
  report(stats: AnalyticsStat[]): void {
    this.batches.push(stats);
  }
  get all(): AnalyticsStat[] {
    return this.batches.flat();
  }
}

/** Sorts a batch by (kind, trackId): the order within one direction is unspecified (R2). */
function sorted(batch: readonly AnalyticsStat[]): AnalyticsStat[] {
  return [...batch].sort((x, y) => x.kind - y.kind || (x.trackId < y.trackId ? -1 : x.trackId > y.trackId ? 1 : 0));
}

function newWorker(engine: Engine, reporter: TelemetryReporter): StatsWorker {
  return new StatsWorker({ engine, reporter, roomId: "RM_1", roomName: "room", participantId: "PA_1", participantIdentity: "alice", now: () => new Date(Date.UTC(2026, 10, 25)) });
}

type Input = { trackId: string; direction: StreamType; stat: AnalyticsStat; bytes: Uint8Array; asBytes: boolean };

function randomWindows(gen: StatGen, total: number, perWindow: number): Input[][] {
  const windows: Input[][] = [];
  for (let n = 0; n < total; n += perWindow) {
    const window: Input[] = [];
    for (let i = 0; i < perWindow; i++) {
      const stat = gen.stat();
      window.push({ trackId: `T${gen.r.int(0, 40)}`, direction: gen.direction(), stat, bytes: toBinary(AnalyticsStatSchema, stat), asBytes: gen.r.chance(0.5) });
    }
    windows.push(window);
  }
  return windows;
}

function feed(worker: StatsWorker, windows: Input[][]): void {
  for (const window of windows) {
    for (const s of window) {
      if (s.asBytes) worker.onTrackStatBytes(s.trackId, s.direction, s.bytes);
      else worker.onTrackStat(s.trackId, s.direction, s.stat);
    }
    worker.update();
  }
}

async function run(): Promise<void> {
  const seed = Number(new URLSearchParams(location.search).get("seed") ?? "1") >>> 0;
  const engines = { ts: await loadEngine("ts"), wasm: await loadEngine("wasm") };
  const cases = new Map<string, () => string | void>();

  cases.set(PAGE_CASES[0]!, () => {
    check(typeof (globalThis as { process?: unknown }).process === "undefined", "globalThis.process exists: this is not a plain browser");
    check(typeof document === "object" && typeof navigator === "object", "no document or navigator");
    check(engines.wasm.kind === "wasm" && engines.ts.kind === "ts", "loadEngine returned the wrong kinds");
    return navigator.userAgent;
  });

  cases.set(PAGE_CASES[1]!, () => {
    const gen = new StatGen(new Random(seed), 0.05);
    let total = 0;
    let groups = 0;
    let invalid = 0;
    while (total < DIFFERENTIAL_STATS.coalesce) {
      const group = Array.from({ length: gen.r.int(1, 16) }, () => gen.stat());
      total += group.length;
      checkEqual(engines.wasm.coalesce(group), engines.ts.coalesce(group), `coalesce(), group ${groups} (seed ${seed})`);
      for (const s of group) {
        const valid = engines.ts.isValid(s);
        if (!valid) invalid++;
        check(engines.wasm.isValid(s) === valid, `isValid(), group ${groups} (seed ${seed})`);
      }
      groups++;
    }
    check(invalid > 0 && invalid < total, `the generator gave ${invalid} invalid stats of ${total}: no edge coverage`);
    return `${total} stats in ${groups} groups, ${invalid} invalid`;
  });

  cases.set(PAGE_CASES[2]!, () => {
    const windows = randomWindows(new StatGen(new Random(seed ^ 0x9e3779b9), 0.03), DIFFERENTIAL_STATS.worker, 600);
    const out = (engine: Engine) => {
      const reporter = new Capture();
      const worker = newWorker(engine, reporter);
      feed(worker, windows);
      return { batches: reporter.batches.map(sorted), counters: { ...worker.counters } };
    };
    const wasm = out(engines.wasm);
    const ts = out(engines.ts);
    checkEqual(wasm, ts, `StatsWorker batches and counters (seed ${seed})`);
    check(wasm.batches.length === windows.length, `${wasm.batches.length} batches for ${windows.length} windows`);
    return `${windows.length} windows, ${wasm.counters.statsIn} stats in, ${wasm.counters.invalid} invalid, ${wasm.counters.statsOut} out`;
  });

  cases.set(PAGE_CASES[3]!, () => {
    const windows = randomWindows(new StatGen(new Random(seed ^ 0x85ebca6b), 0.03), DIFFERENTIAL_STATS.reportBytes, 300);
    const out = (engine: Engine) => {
      const batches: AnalyticsStat[][] = [];
      // the bytes may be a view into engine memory, valid until the next call: decode at once
      const worker = newWorker(engine, { report: () => { throw new Error("report() called although reportBytes exists"); }, reportBytes: (b) => { batches.push(fromBinary(AnalyticsStatsSchema, b).stats); } });
      feed(worker, windows);
      check(worker.counters.reporterErrors === 0, `${worker.counters.reporterErrors} reporter errors`);
      return batches.map(sorted);
    };
    const wasm = out(engines.wasm);
    checkEqual(wasm, out(engines.ts), `reportBytes batches (seed ${seed})`);
    check(wasm.length === windows.length, `${wasm.length} batches for ${windows.length} windows`);
    return `${windows.length} windows`;
  });

  for (const kind of PAGE_ENGINE_KINDS) {
    const engine = engines[kind];
    const stat = (init: MessageInitShape<typeof AnalyticsStatSchema> = {}) => create(AnalyticsStatSchema, init);

    cases.set(scenarioName(kind, "two stats on one downstream track sum to 56 bytes and 2 packets"), () => {
      const reporter = new Capture();
      const worker = newWorker(engine, reporter);
      worker.onTrackStat("TR_1", DOWNSTREAM, stat({ streams: [{ primaryBytes: 25n, primaryPackets: 1 }] }));
      worker.onTrackStatBytes("TR_1", DOWNSTREAM, toBinary(AnalyticsStatSchema, stat({ streams: [{ primaryBytes: 31n, primaryPackets: 1 }] })));
      worker.update();
      check(reporter.batches.length === 1, `${reporter.batches.length} reports, expected 1`);
      const s = reporter.batches[0]![0]!;
      check(s.streams[0]!.primaryBytes === 56n, `primaryBytes ${s.streams[0]!.primaryBytes}`);
      check(s.streams[0]!.primaryPackets === 2, `primaryPackets ${s.streams[0]!.primaryPackets}`);
      check(s.kind === DOWNSTREAM && s.trackId === "TR_1" && s.roomId === "RM_1" && s.participantId === "PA_1", "patch fields");
    });

    cases.set(scenarioName(kind, "upstream stats come before downstream ones"), () => {
      const reporter = new Capture();
      const worker = newWorker(engine, reporter);
      worker.onTrackStat("TR_D1", DOWNSTREAM, stat());
      worker.onTrackStat("TR_U1", UPSTREAM, stat());
      worker.onTrackStat("TR_D2", DOWNSTREAM, stat());
      worker.onTrackStat("TR_U2", UPSTREAM, stat());
      worker.onTrackStat("TR_U3", 7 as StreamType, stat());
      worker.update();
      checkEqual(reporter.batches.map((b) => b.map((s) => s.kind)), [[UPSTREAM, UPSTREAM, UPSTREAM, DOWNSTREAM, DOWNSTREAM]], "kinds in report order");
      checkEqual(reporter.all.map((s) => s.trackId).sort(), ["TR_D1", "TR_D2", "TR_U1", "TR_U2", "TR_U3"], "track ids");
    });

    cases.set(scenarioName(kind, "after close() stats are dropped and never reported"), () => {
      const reporter = new Capture();
      const worker = newWorker(engine, reporter);
      worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 3 }] }));
      const openClosedAt = worker.closedAt;
      check(openClosedAt === undefined, "closedAt set while open");
      worker.close();
      check(reporter.batches.length === 1 && reporter.all[0]!.streams[0]!.primaryPackets === 3, "close() did not report the buffered stat");
      check(worker.closedAt instanceof Date, "closedAt not set by close()");
      worker.onTrackStat("TR_1", UPSTREAM, stat({ streams: [{ primaryPackets: 5 }] }));
      worker.onTrackStatBytes("TR_2", DOWNSTREAM, toBinary(AnalyticsStatSchema, stat({ streams: [{ primaryPackets: 7 }] })));
      worker.update();
      worker.close();
      check(reporter.batches.length === 1, `${reporter.batches.length} reports after close(), expected 1`);
      check(worker.counters.dropped === 2, `dropped ${worker.counters.dropped}, expected 2`);
    });

    cases.set(scenarioName(kind, "malformed bytes throw a DecodeError and the worker keeps working"), () => {
      const reporter = new Capture();
      const worker = newWorker(engine, reporter);
      worker.onTrackStat("TR_1", DOWNSTREAM, stat({ score: 2, streams: [{ primaryPackets: 1 }] }));
      const good = toBinary(AnalyticsStatSchema, stat({ score: 8, streams: [{ primaryPackets: 5 }, { primaryPackets: 6 }] }));
      const bad = [
        good.subarray(0, good.length - 1), // truncated
        Uint8Array.of(0x0e), // wire type 6
        Uint8Array.of(0x0f), // wire type 7
        Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // varint over 10 bytes
        Uint8Array.of(0x52, 0x05, 0x10), // length past the end
        Uint8Array.of(0xa3, 0x01, 0x08, 0x01), // unterminated group (unknown field 20)
      ];
      for (const [i, bytes] of bad.entries()) {
        let thrown: unknown;
        try {
          worker.onTrackStatBytes(i % 2 ? "TR_1" : "TR_9", DOWNSTREAM, bytes);
        } catch (err) {
          thrown = err;
        }
        check(thrown instanceof Error, `malformed input ${i} did not throw`);
        check(thrown.name === "DecodeError" && isDecodeError(thrown), `malformed input ${i} threw ${thrown.name}: ${thrown.message}`);
      }
      check(worker.counters.malformed === bad.length, `malformed ${worker.counters.malformed}, expected ${bad.length}`);
      worker.update();
      checkEqual(reporter.all.map((s) => [s.trackId, s.score, s.streams[0]!.primaryPackets]), [["TR_1", 2, 1]], "the window after malformed input");
      // the worker (and for wasm, the shared instance) keeps working in the next window
      worker.onTrackStatBytes("TR_1", DOWNSTREAM, good);
      worker.onTrackStat("TR_1", DOWNSTREAM, stat({ score: 4, streams: [{ primaryPackets: 1 }] }));
      worker.update();
      const next = reporter.batches[1]?.[0];
      check(next !== undefined, "no report in the window after the malformed input");
      checkEqual([next.score, next.streams[0]!.primaryPackets], [6, 12], "the next window");
    });
  }

  const results: PageResult[] = [];
  for (const name of PAGE_CASES) {
    const fn = cases.get(name);
    const started = performance.now();
    try {
      if (fn === undefined) throw new CaseFailure(`no implementation for case ${JSON.stringify(name)}`);
      const info = fn();
      results.push({ name, ok: true, ms: performance.now() - started, ...(info ? { info } : {}) });
    } catch (err) {
      const error = err instanceof CaseFailure ? err.message : err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err);
      results.push({ name, ok: false, error, ms: performance.now() - started });
    }
    // yield so the page stays responsive between cases
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  window.__results = { userAgent: navigator.userAgent, seed, results };
}

run().catch((err: unknown) => {
  // a failure outside any case (loading an engine): report it against every case
  const error = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err);
  window.__results = { userAgent: navigator.userAgent, seed: -1, results: PAGE_CASES.map((name) => ({ name, ok: false, error: `suite setup failed: ${error}`, ms: 0 })) };
});
