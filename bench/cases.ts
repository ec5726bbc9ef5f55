/**
 * Benchmark cases, named `op/impl/shape`:
 *
 * - `coalesce/<impl>/w1-k<k>`: one `engine.coalesce(group)` of k stats (W1).
 * - `e2e/wasm-http/<w>`: one flush window end to end: `ingestBatch` -> wasm -> `HttpReporter`
 *   (protobuf, `node` stamped) -> a receiver in a child process on 127.0.0.1, until the reporter's
 *   `flush()` resolves (the receiver acknowledged it); `e2e/wasm-sink/<w>` is the same window into a
 *   bare `reportBytes` sink, its peer. The HTTP case checks that the delivered stats, less the
 *   stamped `node` and `id`, equal the baseline's, with every id unique, and after it is measured
 *   that every stat it reported arrived exactly once.
 * - `flush-only/<impl>/<w>-<mode>`: the `service.flush()` of a window alone (drain, encode,
 *   report), its stats ingested before each sample, untimed: the flush latency (p99) the targets
 *   bound. `flush-only/wasm-http/w3` is the same flush into `HttpReporter` (drain, encode and
 *   stamping), the previous window's delivery awaited before each sample, untimed.
 * - `decode/<peer>/w2-<mode>`: protobufjs `decode` or protobuf-es `fromBinary` of every message of
 *   a W2 window, nothing else: from subarrays of one received buffer (`sub-bytes`) or from
 *   separate arrays (`bytes`).
 * - `flush/<impl>/<w>-<mode>`: one flush window through the public API of a real
 *   TelemetryService: every stat of the window ingested, then `service.flush()`.
 *   Modes: `objects` (trackStats with message objects, objects out), `bytes` (trackStats with one
 *   encoded AnalyticsStat each, objects out), `bytes-out` (bytes in, a reporter with
 *   `reportBytes`, so no output objects), `batch-bytes-out` (one `ingestBatch` per window,
 *   `reportBytes`).
 * - `decode/<peer>/w2-sub-bytes`: one W2 window's messages decoded by protobufjs or protobuf-es
 *   and nothing else, for scale; `decode/wasm/w2-batch`: the same messages decoded and validated
 *   by the wasm engine (`ingestBatch` into a stopped service), and nothing else.
 *
 * Implementations: `ts` (the baseline: protobuf-es `fromBinary` + the faithful port), `ts-flat`
 * (bench/ts-flat: hand-optimised TS over the wasm engine's flat records) and `wasm`; `ts-current`
 * and `wasm-current` are the same engines in the `"livekit-current"` profile, checked against the
 * ts engine in that profile (baseline keys end in `@current`).
 *
 * Every case checks, before it is timed, that its output equals the ts engine's objects-path
 * output on the same input, and throws a {@link CaseMismatchError} if not. The baseline output is
 * computed once ({@link computeBaseline}) and handed to `prepare()`, so a process that times a
 * wasm or ts-flat case never runs the ts engine (which would make the worker's call sites
 * polymorphic and slow down whichever engine runs second).
 *
 * @module
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  TelemetryService,
  loadEngine,
  type AnalyticsStat,
  type Engine,
  type TelemetryReporter,
} from "../src/index.ts";
import { HttpReporter } from "../src/reporters/http-reporter.ts";
import { createTsFlatEngine } from "./ts-flat/engine.ts";
import { coalesceCorpus, w2, w3, type FlushCorpus } from "./corpus.ts";
import { exactlyOnce, startReceiver } from "./e2e/harness.ts";

/** An implementation under test. */
export type Impl = "ts" | "ts-flat" | "wasm" | "ts-current" | "wasm-current";

/** The baseline key of `shape` for `impl`: its profile's ts output. */
function baselineKeyOf(impl: Impl, shape: string): string {
  return impl.endsWith("-current") ? `${shape}@current` : shape;
}

/** Peers that only decode, for scale: no validation, no coalescing, no output. */
export type DecodePeer = "protobufjs" | "protobuf-es";

/** End-to-end paths of the wasm engine: to a receiver over HTTP, or into a bare bytes sink. */
export type E2eImpl = "wasm-http" | "wasm-sink";

/** How a flush case feeds and drains the service. */
export type FlushMode = "objects" | "bytes" | "bytes-out" | "batch-bytes-out" | "sub-bytes" | "sub-bytes-out";

/** A prepared case: `run()` does one operation; `sink` keeps its results observable. */
export interface Runner {
  /**
   * Untimed set-up of the next operation, when the case times only part of a window (the
   * `flush-only` cases ingest here). Default: none.
   */
  before?(): void | Promise<void>;
  /** one operation: a coalesce, or one whole flush window; end-to-end cases resolve once it is delivered */
  run(): void | Promise<void>;
  /** accumulated result sizes: read it so no work can be optimised away */
  readonly sink: number;
  /**
   * Called once after the case is measured: checks what only the end can tell (every stat
   * delivered exactly once; throws a {@link CaseMismatchError} if not) and releases what the
   * case holds (a receiver process). Default: nothing.
   */
  finish?(): Promise<void>;
}

/** One benchmark case. */
export interface BenchCase {
  /** `op/impl/shape` */
  readonly name: string;
  readonly op: "coalesce" | "flush" | "flush-only" | "decode" | "e2e";
  readonly impl: Impl | DecodePeer | E2eImpl;
  /** whether `run()` or `before()` returns a promise to wait for (the `wasm-http` cases) */
  readonly async?: boolean;
  readonly shape: string;
  /** stats ingested by one operation (k for coalesce, the window's stats for flush) */
  readonly statsPerOp: number | (() => number);
  /** operations over which GC events are counted (200 W2 windows, docs/rules.md) */
  readonly gcOps: number;
  /** operations over which heap allocation is measured (kept below one young generation) */
  readonly allocOps: number;
  /** minimum timed samples (slow W3 cases need fewer to stay within the time budget) */
  readonly minSamples: number;
  /** which baseline output the case is checked against (a key of {@link Expected}) */
  readonly baselineKey: string;
  /** builds the case and checks its output against `expected`; throws on a mismatch */
  prepare(expected: Expected): Promise<Runner>;
}

/**
 * Baseline outputs by baseline key: for each checked window (or coalesce group) the ts engine's
 * results, each encoded with `toBinary` as base64, sorted (order within a direction is
 * unspecified, R2).
 */
export type Expected = Record<string, string[][]>;

/** A case's output differs from the baseline's: its timing would be meaningless. */
export class CaseMismatchError extends Error {
  override readonly name = "CaseMismatchError";
}

/** A fixed clock: every run of every implementation stamps the same time (R3). */
const FIXED_TIME = new Date(Date.UTC(2026, 10, 25, 12, 0, 0));
const fixedClock = (): Date => FIXED_TIME;

/** A new engine of `impl` (a new wasm instance per case, so cases do not share memory). */
export async function makeEngine(impl: Impl): Promise<Engine> {
  if (impl === "ts-flat") return createTsFlatEngine() as unknown as Engine;
  if (impl === "ts-current" || impl === "wasm-current") return loadEngine(impl === "ts-current" ? "ts" : "wasm", { profile: "livekit-current" });
  return loadEngine(impl);
}

// ---- output comparison ------------------------------------------------------------------------

/** A canonical form of a batch of stats: each encoded, sorted (order in a direction is unspecified). */
function canonical(stats: readonly AnalyticsStat[]): string[] {
  return stats.map((s) => Buffer.from(toBinary(AnalyticsStatSchema, s)).toString("base64")).sort();
}

function sameOutput(name: string, what: string, actual: readonly AnalyticsStat[], e: readonly string[] | undefined): void {
  if (e === undefined) throw new CaseMismatchError(`${name}: ${what}: no baseline output to compare with`);
  const a = canonical(actual);
  if (a.length !== e.length) {
    throw new CaseMismatchError(`${name}: ${what}: ${a.length} stats out, the baseline has ${e.length}`);
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      throw new CaseMismatchError(`${name}: ${what}: output differs from the ts baseline (first difference at sorted stat ${i})`);
    }
  }
}

/** Captures everything reported, decoding encoded batches (bytes-out) back into stats. */
class CaptureReporter implements TelemetryReporter {
  readonly stats: AnalyticsStat[] = [];
  report(stats: AnalyticsStat[]): void {
    this.stats.push(...stats);
  }
}

class CaptureBytesReporter extends CaptureReporter {
  reportBytes(batch: Uint8Array): void {
    this.stats.push(...fromBinary(AnalyticsStatsSchema, batch).stats);
  }
}

/** Keeps only a count of what it is given: the timed runs' reporter. */
class SinkReporter implements TelemetryReporter {
  sink = 0;
  report(stats: AnalyticsStat[]): void {
    this.sink += stats.length;
  }
}

class SinkBytesReporter extends SinkReporter {
  reportBytes(batch: Uint8Array): void {
    this.sink += batch.length;
  }
}

// ---- flush cases ------------------------------------------------------------------------------

/** Windows checked against the baseline: two, so a second window after a drain is covered too. */
const CHECKED_WINDOWS = 2;

function newService(engine: Engine, corpus: FlushCorpus, reporter: TelemetryReporter): TelemetryService {
  const service = new TelemetryService({ engine, reporter, now: fixedClock });
  for (const p of corpus.participants) {
    service.participantJoined({ sid: p.roomId, name: p.roomName }, { sid: p.participantId, identity: p.identity });
  }
  return service;
}

function ingestWindow(service: TelemetryService, corpus: FlushCorpus, index: number, mode: FlushMode): void {
  ingestOnly(service, corpus, index, mode);
  service.flush();
}

/** A window's stats into the service, without the flush. */
function ingestOnly(service: TelemetryService, corpus: FlushCorpus, index: number, mode: FlushMode): void {
  const w = corpus.windows[index]!;
  if (mode === "batch-bytes-out") {
    service.ingestBatch(w.batch);
  } else {
    const { roomIds, participantIds, trackIds, directions } = w;
    // sub-bytes: views into one received buffer, as a socket delivers them, not separate arrays
    const input = mode === "objects" ? w.stats : mode === "sub-bytes" || mode === "sub-bytes-out" ? w.received : w.bytes;
    for (let i = 0; i < input.length; i++) {
      service.trackStats(roomIds[i]!, participantIds[i]!, trackIds[i]!, directions[i]!, input[i]!);
    }
  }
}

const W1_GROUPS = 64;

/**
 * The ts engine's objects-path output for baseline `key` ("w1-k2", "w1-k16", "w2", "w3"; with
 * "@current" appended, in the livekit-current profile).
 */
export async function computeBaseline(key: string): Promise<string[][]> {
  const ts = await makeEngine(key.endsWith("@current") ? "ts-current" : "ts");
  key = key.replace(/@current$/, "");
  const k = /^w1-k(\d+)$/.exec(key);
  if (k !== null) return coalesceCorpus(Number(k[1]), W1_GROUPS).map((group) => canonical([ts.coalesce(group)!]));
  const corpus = key === "w2" ? w2() : key === "w3" ? w3() : undefined;
  if (corpus === undefined) throw new Error(`unknown baseline: ${key}`);
  const reporter = new CaptureReporter();
  const service = newService(ts, corpus, reporter);
  const out: string[][] = [];
  for (let i = 0; i < CHECKED_WINDOWS; i++) {
    ingestWindow(service, corpus, i % corpus.windows.length, "objects");
    out.push(canonical(reporter.stats.splice(0)));
  }
  return out;
}

function flushCase(
  impl: Impl,
  corpusOf: () => FlushCorpus,
  shape: string,
  mode: FlushMode,
  gcOps: number,
  allocOps: number,
  minSamples: number,
  flushOnly = false,
): BenchCase {
  const op = flushOnly ? "flush-only" : "flush";
  const name = `${op}/${impl}/${shape}-${mode}`;
  const bytesOut = mode === "bytes-out" || mode === "batch-bytes-out" || mode === "sub-bytes-out";
  return {
    name,
    op,
    impl,
    shape: `${shape}-${mode}`,
    statsPerOp: () => corpusOf().statsPerWindow,
    gcOps,
    allocOps,
    minSamples,
    baselineKey: baselineKeyOf(impl, shape),
    async prepare(all: Expected): Promise<Runner> {
      const corpus = corpusOf();
      // check first, on a service of its own
      const expected = all[baselineKeyOf(impl, shape)] ?? [];
      const capture = bytesOut ? new CaptureBytesReporter() : new CaptureReporter();
      const checked = newService(await makeEngine(impl), corpus, capture);
      for (let i = 0; i < CHECKED_WINDOWS; i++) {
        ingestWindow(checked, corpus, i % corpus.windows.length, mode);
        sameOutput(name, `window ${i}`, capture.stats.splice(0), expected[i]);
      }
      await checked.stop();

      const reporter = bytesOut ? new SinkBytesReporter() : new SinkReporter();
      const service = newService(await makeEngine(impl), corpus, reporter);
      const windows = corpus.windows.length;
      let next = 0;
      if (flushOnly) {
        return {
          before(): void {
            ingestOnly(service, corpus, next, mode);
            next = (next + 1) % windows;
          },
          run(): void {
            service.flush();
          },
          get sink(): number {
            return reporter.sink;
          },
        };
      }
      return {
        run(): void {
          ingestWindow(service, corpus, next, mode);
          next = (next + 1) % windows;
        },
        get sink(): number {
          return reporter.sink;
        },
      };
    },
  };
}

// ---- coalesce cases ---------------------------------------------------------------------------

function coalesceCase(impl: Impl, k: number): BenchCase {
  const name = `coalesce/${impl}/w1-k${k}`;
  return {
    name,
    op: "coalesce",
    impl,
    shape: `w1-k${k}`,
    statsPerOp: k,
    gcOps: 200_000,
    allocOps: 20_000,
    minSamples: 64,
    baselineKey: baselineKeyOf(impl, `w1-k${k}`),
    async prepare(all: Expected): Promise<Runner> {
      const groups = coalesceCorpus(k, W1_GROUPS);
      const engine = await makeEngine(impl);
      const expected = all[baselineKeyOf(impl, `w1-k${k}`)] ?? [];
      for (let g = 0; g < groups.length; g++) {
        sameOutput(name, `group ${g}`, [engine.coalesce(groups[g]!)!], expected[g]);
      }
      let sink = 0;
      let next = 0;
      return {
        run(): void {
          const out = engine.coalesce(groups[next]!)!;
          sink += out.streams.length;
          next = (next + 1) % W1_GROUPS;
        },
        get sink(): number {
          return sink;
        },
      };
    },
  };
}

// ---- decode-only peers ------------------------------------------------------------------------

/**
 * One W2 window's messages decoded, nothing else: protobufjs `decode` or protobuf-es `fromBinary`
 * of every message, from subarrays of the window's one received buffer (`sub-bytes`) or from
 * separate arrays (`bytes`). What the engine's whole aggregation (`flush/wasm/w2-batch-bytes-out`,
 * `flush/wasm/w2-sub-bytes-out`, `flush/wasm/w2-bytes-out`) is compared against.
 */
function decodeCase(peer: DecodePeer, mode: "sub-bytes" | "bytes"): BenchCase {
  const name = `decode/${peer}/w2-${mode}`;
  return {
    name,
    op: "decode",
    impl: peer,
    shape: `w2-${mode}`,
    statsPerOp: () => w2().statsPerWindow,
    gcOps: 200,
    allocOps: 8,
    minSamples: 10,
    baselineKey: "w2",
    async prepare(): Promise<Runner> {
      const corpus = w2();
      const decode = peer === "protobuf-es" ? (b: Uint8Array) => fromBinary(AnalyticsStatSchema, b) : await protobufjsDecoder();
      const messagesOf = (w: (typeof corpus.windows)[number]) => (mode === "sub-bytes" ? w.received : w.bytes);
      // checked like the other cases: the first window decodes to the corpus's own stats
      const w = corpus.windows[0]!;
      const first = messagesOf(w);
      for (let i = 0; i < first.length; i++) {
        const got = decode(first[i]!) as { trackId: string; streams: unknown[] };
        const want = w.stats[i]!;
        if (got.trackId !== want.trackId || got.streams.length !== want.streams.length) {
          throw new CaseMismatchError(`${name}: message ${i} decoded to ${got.trackId}, not ${want.trackId}`);
        }
      }
      let sink = 0;
      let next = 0;
      return {
        run(): void {
          const messages = messagesOf(corpus.windows[next]!);
          for (let i = 0; i < messages.length; i++) sink += (decode(messages[i]!) as { streams: unknown[] }).streams.length;
          next = (next + 1) % corpus.windows.length;
        },
        get sink(): number {
          return sink;
        },
      };
    },
  };
}

// ---- end-to-end cases -------------------------------------------------------------------------

/** The node name the end-to-end HTTP case stamps. */
const E2E_NODE = "SFU_bench";
const STAT_ID = /^AS_[0-9A-Za-z]{12}$/;

/**
 * One flush window end to end (see the module documentation): `wasm-http` through `HttpReporter`
 * to a receiver in a child process, `wasm-sink` into a bare `reportBytes` sink.
 */
function e2eCase(
  impl: E2eImpl,
  corpusOf: () => FlushCorpus,
  shape: string,
  gcOps: number,
  allocOps: number,
  minSamples: number,
  flushOnly = false,
): BenchCase {
  const name = `${flushOnly ? "flush-only" : "e2e"}/${impl}/${shape}`;
  return {
    name,
    op: flushOnly ? "flush-only" : "e2e",
    impl,
    shape,
    async: impl === "wasm-http",
    statsPerOp: () => corpusOf().statsPerWindow,
    gcOps,
    allocOps,
    minSamples,
    baselineKey: shape,
    async prepare(all: Expected): Promise<Runner> {
      const corpus = corpusOf();
      const expected = all[shape] ?? [];
      if (impl === "wasm-sink") {
        const capture = new CaptureBytesReporter();
        const checked = newService(await makeEngine("wasm"), corpus, capture);
        for (let i = 0; i < CHECKED_WINDOWS; i++) {
          ingestWindow(checked, corpus, i % corpus.windows.length, "batch-bytes-out");
          sameOutput(name, `window ${i}`, capture.stats.splice(0), expected[i]);
        }
        await checked.stop();
        const reporter = new SinkBytesReporter();
        const service = newService(await makeEngine("wasm"), corpus, reporter);
        let next = 0;
        return {
          run(): void {
            service.ingestBatch(corpus.windows[next]!.batch);
            service.flush();
            next = (next + 1) % corpus.windows.length;
          },
          get sink(): number {
            return reporter.sink;
          },
        };
      }

      const receiver = await startReceiver();
      try {
        // check first, on a service and reporter of their own, through the receiver's kept bodies
        const checkReporter = new HttpReporter({ url: receiver.keepUrl, node: E2E_NODE });
        const checked = newService(await makeEngine("wasm"), corpus, checkReporter);
        const ids = new Set<string>();
        for (let i = 0; i < CHECKED_WINDOWS; i++) {
          checked.ingestBatch(corpus.windows[i % corpus.windows.length]!.batch);
          checked.flush();
          await checkReporter.flush();
          const stats = fromBinary(AnalyticsStatsSchema, await receiver.bodies()).stats;
          for (const st of stats) {
            if (st.node !== E2E_NODE || !STAT_ID.test(st.id) || ids.has(st.id)) {
              throw new CaseMismatchError(`${name}: window ${i}: a stat arrived with node ${JSON.stringify(st.node)}, id ${JSON.stringify(st.id)}`);
            }
            ids.add(st.id);
            st.node = "";
            st.id = "";
          }
          sameOutput(name, `window ${i}`, stats, expected[i]);
        }
        await checked.stop();
        await checkReporter.close();
      } catch (err) {
        receiver.stop();
        throw err;
      }

      const before = await receiver.counts();
      const reporter = new HttpReporter({ url: receiver.url, node: E2E_NODE });
      const service = newService(await makeEngine("wasm"), corpus, reporter);
      let next = 0;
      const timed = flushOnly
        ? {
            async before(): Promise<void> {
              await reporter.flush();
              service.ingestBatch(corpus.windows[next]!.batch);
              next = (next + 1) % corpus.windows.length;
            },
            run(): void {
              service.flush();
            },
          }
        : {
            run(): Promise<void> {
              service.ingestBatch(corpus.windows[next]!.batch);
              service.flush();
              next = (next + 1) % corpus.windows.length;
              return reporter.flush();
            },
          };
      return {
        ...timed,
        get sink(): number {
          return reporter.counters.sentStats;
        },
        async finish(): Promise<void> {
          try {
            await reporter.flush();
            const got = await receiver.counts();
            const c = reporter.counters;
            if (!exactlyOnce(got, c, before)) {
              throw new CaseMismatchError(
                `${name}: not delivered exactly once: ${got.stats - before.stats} stats and ${got.distinctIds - before.distinctIds} distinct ids received, ${c.stats} reported, ${c.dropped} dropped`,
              );
            }
            await service.stop();
            await reporter.close();
          } finally {
            receiver.stop();
          }
        },
      };
    },
  };
}

/** protobufjs's decoder for AnalyticsStat, from the project's own .proto (reflection, as its users load it). */
async function protobufjsDecoder(): Promise<(b: Uint8Array) => unknown> {
  const protobuf = (await import("protobufjs")).default;
  const root = protobuf.loadSync(new URL("../proto/livekit/livekit_analytics.proto", import.meta.url).pathname);
  const type = root.lookupType("livekit.AnalyticsStat");
  return (b) => type.decode(b);
}

/**
 * The wasm engine decoding one W2 window's batch, nothing else: `ingestBatch` into a stopped
 * service, which frames, decodes and validates every message and counts it as dropped (no
 * routing, no fold, no output). The engine's own decode-only line beside the peers'.
 */
function wasmDecodeCase(): BenchCase {
  const name = "decode/wasm/w2-batch";
  return {
    name,
    op: "decode",
    impl: "wasm",
    shape: "w2-batch",
    statsPerOp: () => w2().statsPerWindow,
    gcOps: 200,
    allocOps: 8,
    minSamples: 10,
    baselineKey: "w2",
    async prepare(): Promise<Runner> {
      const corpus = w2();
      const reporter = new SinkReporter();
      const service = new TelemetryService({ engine: await makeEngine("wasm"), reporter, now: fixedClock });
      await service.stop();
      // checked: every message of every window decodes, none is malformed
      for (const w of corpus.windows) {
        const { dropped, malformed } = service.counters;
        service.ingestBatch(w.batch);
        if (service.counters.dropped - dropped !== w.received.length || service.counters.malformed !== malformed) {
          throw new CaseMismatchError(`${name}: a window's ${w.received.length} messages were not all decoded`);
        }
      }
      let next = 0;
      return {
        run(): void {
          service.ingestBatch(corpus.windows[next]!.batch);
          next = (next + 1) % corpus.windows.length;
        },
        get sink(): number {
          return service.counters.dropped;
        },
      };
    },
  };
}

// ---- the list ---------------------------------------------------------------------------------

const IMPLS: readonly Impl[] = ["ts", "ts-flat", "wasm"];
const CURRENT_IMPLS: readonly Impl[] = ["ts-current", "wasm-current"];

/** Every case, in the order the table prints them. */
export function allCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const k of [2, 16]) for (const impl of IMPLS) cases.push(coalesceCase(impl, k));
  for (const mode of ["objects", "bytes", "bytes-out"] as const) {
    for (const impl of IMPLS) cases.push(flushCase(impl, w2, "w2", mode, 200, 8, 10));
  }
  // ts-flat has no batch router: TelemetryService would decode its batches with protobuf-es,
  // which measures the ts path again, so only ts and wasm run batches
  for (const impl of ["ts", "wasm"] as const) cases.push(flushCase(impl, w2, "w2", "batch-bytes-out", 200, 8, 10));
  for (const mode of ["sub-bytes", "sub-bytes-out"] as const) {
    for (const impl of IMPLS) cases.push(flushCase(impl, w2, "w2", mode, 200, 8, 10));
  }
  for (const impl of IMPLS) cases.push(flushCase(impl, w3, "w3", "objects", 20, 1, 5));
  // W3 bytes out: the flush whose p99 the targets bound (30 samples, so p99 is not just the max of 5)
  for (const mode of ["bytes-out", "batch-bytes-out"] as const) cases.push(flushCase("wasm", w3, "w3", mode, 20, 1, 30));
  cases.push(flushCase("wasm", w3, "w3", "batch-bytes-out", 20, 1, 30, true));
  cases.push(e2eCase("wasm-http", w3, "w3", 20, 1, 30, true));
  for (const peer of ["protobufjs", "protobuf-es"] as const) {
    for (const mode of ["sub-bytes", "bytes"] as const) cases.push(decodeCase(peer, mode));
  }
  cases.push(wasmDecodeCase());
  // end to end, the bare sink next to HTTP so their ratio is read off one table
  for (const [corpusOf, shape, gcOps, allocOps, minSamples] of [[w2, "w2", 200, 8, 20], [w3, "w3", 20, 1, 10]] as const) {
    for (const impl of ["wasm-sink", "wasm-http"] as const) cases.push(e2eCase(impl, corpusOf, shape, gcOps, allocOps, minSamples));
  }
  // the livekit-current profile next to the default: objects and bytes paths
  for (const impl of CURRENT_IMPLS) cases.push(coalesceCase(impl, 16));
  for (const mode of ["objects", "bytes-out", "batch-bytes-out"] as const) {
    for (const impl of CURRENT_IMPLS) cases.push(flushCase(impl, w2, "w2", mode, 200, 8, 10));
  }
  return cases;
}
