/**
 * The demo's short ts-vs-wasm benchmark (tinybench, in the page): W1 and a scaled-down
 * W2 workload, after checking that both engines give the same output for the same input.
 */
import { Bench } from "tinybench";
import { TelemetryService, type AnalyticsStat, type Engine, type EngineKind } from "../../src/index.ts";
import { SyntheticSfu } from "../../src/sim/synthetic-sfu.ts";
import type { BenchRow } from "./demo-state.ts";

const PARTICIPANTS = 250;
const STATS_PER_TRACK = 2;
const WINDOW_STATS = PARTICIPANTS * 4 * STATS_PER_TRACK;

/** The workloads the benchmark runs, in order (the demo draws them as empty bars before a run). */
export const WORKLOADS = ["coalesce, k=16", `window, objects (${WINDOW_STATS} stats)`, `window, bytes (${WINDOW_STATS} stats)`] as const;

/** The W2 corpus, scaled down: 250 participants x 4 tracks x 2 stats per window. */
function corpus() {
  const sfu = new SyntheticSfu({ participants: PARTICIPANTS, participantsPerRoom: 10, tracks: 4, seed: 7 });
  const stats: { p: (typeof sfu.participants)[number]; trackId: string; direction: number; stat: AnalyticsStat; bytes: Uint8Array }[] = [];
  for (const p of sfu.participants) {
    for (const t of p.tracks) {
      for (let i = 0; i < STATS_PER_TRACK; i++) {
        const stat = sfu.stat(p, t);
        stats.push({ p, trackId: t.trackId, direction: t.direction, stat, bytes: new Uint8Array() });
      }
    }
  }
  return { sfu, stats };
}

function newService(engine: Engine, sfu: SyntheticSfu, report: (stats: AnalyticsStat[]) => void): TelemetryService {
  const service = new TelemetryService({ engine, reporter: { report }, now: () => new Date(0) });
  for (const p of sfu.participants) service.participantJoined({ sid: p.roomId, name: p.roomName }, { sid: p.participantId, identity: p.identity });
  return service;
}

/** A comparable text of a batch list: sorted by room, participant, kind and track (order within a direction is unspecified). */
function digest(stats: AnalyticsStat[]): string {
  const key = (s: AnalyticsStat) => `${s.roomId}/${s.participantId}/${s.kind}/${s.trackId}`;
  return JSON.stringify(
    [...stats].sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : typeof v === "number" && !Number.isFinite(v) ? String(v) : v),
  );
}

/**
 * Runs the benchmark; `progress` gets a line of status now and then.
 * @returns throughput per workload and engine, and whether both engines gave identical output
 */
export async function runBenchmark(engines: Record<EngineKind, Engine>, encode: (s: AnalyticsStat) => Uint8Array, progress: (line: string) => void): Promise<{ rows: BenchRow[]; identical: boolean }> {
  progress("building the corpus…");
  const { sfu, stats } = corpus();
  for (const s of stats) s.bytes = encode(s.stat);
  const groups: AnalyticsStat[][] = [];
  for (let i = 0; i + 16 <= stats.length && groups.length < 100; i += 16) groups.push(stats.slice(i, i + 16).map((s) => s.stat));

  // every case first checks that its output equals the baseline's (docs/rules.md, benchmark workloads)
  progress("checking that ts and wasm agree…");
  const outputs = (["ts", "wasm"] as const).map((kind) => {
    const got: AnalyticsStat[] = [];
    const service = newService(engines[kind], sfu, (batch) => got.push(...batch));
    for (const s of stats) service.trackStats(s.p.roomId, s.p.participantId, s.trackId, s.direction, s.stat);
    service.flush();
    for (const s of stats) service.trackStats(s.p.roomId, s.p.participantId, s.trackId, s.direction, s.bytes);
    service.flush();
    const coalesced = groups.map((g) => engines[kind].coalesce(g)!);
    return digest(got) + digest(coalesced);
  });
  const identical = outputs[0] === outputs[1];

  const bench = new Bench({ time: 350, warmupTime: 80, iterations: 8 });
  const services = {
    ts: newService(engines.ts, sfu, () => {}),
    wasm: newService(engines.wasm, sfu, () => {}),
  };
  const workloads = [
    { workload: WORKLOADS[0], stats: groups.length * 16 },
    { workload: WORKLOADS[1], stats: stats.length },
    { workload: WORKLOADS[2], stats: stats.length },
  ];
  for (const kind of ["ts", "wasm"] as const) {
    const engine = engines[kind];
    const service = services[kind];
    bench.add(`${workloads[0]!.workload}/${kind}`, () => {
      for (const g of groups) engine.coalesce(g);
    });
    bench.add(`${workloads[1]!.workload}/${kind}`, () => {
      for (const s of stats) service.trackStats(s.p.roomId, s.p.participantId, s.trackId, s.direction, s.stat);
      service.flush();
    });
    bench.add(`${workloads[2]!.workload}/${kind}`, () => {
      for (const s of stats) service.trackStats(s.p.roomId, s.p.participantId, s.trackId, s.direction, s.bytes);
      service.flush();
    });
  }
  let done = 0;
  bench.addEventListener("cycle", (e) => {
    done++;
    progress(`ran ${e.task?.name ?? "?"} (${done}/${bench.tasks.length})`);
  });
  progress(`running ${bench.tasks.length} tasks…`);
  await bench.run();

  const throughput = (name: string, perIteration: number): number => {
    const task = bench.tasks.find((t) => t.name === name);
    const r = task?.result;
    if (!r || r.state !== "completed") throw new Error(`benchmark task ${name} did not complete (${r?.state ?? "missing"})`);
    return r.latency.mean > 0 ? (perIteration * 1000) / r.latency.mean : 0;
  };
  const rows = workloads.map((w) => ({ ...w, ts: throughput(`${w.workload}/ts`, w.stats), wasm: throughput(`${w.workload}/wasm`, w.stats) }));
  return { rows, identical };
}
