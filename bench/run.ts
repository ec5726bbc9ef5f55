/**
 * The benchmark runner: `npm run bench [-- [REGEX...] [--time MS] [--out FILE] [--no-gc]]`.
 *
 * Computes the ts baseline's output once, then times every selected case with tinybench in a
 * child process of its own (so the JIT of one implementation never sees another's classes:
 * shared call sites in StatsWorker would turn polymorphic and penalise whichever runs later),
 * then measures GC events and heap allocation per case in two more child processes (GC needs its
 * own heap flags), prints one table and writes the results as JSON for `npm run bench:compare`.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Bench, hrtimeNowTimestampProvider } from "tinybench";
import { allCases, computeBaseline, type BenchCase, type Expected, type Runner } from "./cases.ts";
import { measureAlloc, measureGc, type AllocResult, type GcResult } from "./gc.ts";

const HELP = `usage: npm run bench -- [REGEX...] [options]

Runs the statsworker-wasm benchmarks (workloads W1-W3 of docs/rules.md): coalesce (W1) and flush windows (W2, W3)
for the ts baseline, ts-flat and wasm, each checked against the baseline's output first; decode-only
peers (protobufjs, protobuf-es); and end to end (e2e/): wasm -> HttpReporter -> a receiver in a child
process, next to a bare bytes sink, checked for every stat delivered exactly once.

arguments:
  REGEX            run only cases whose name (op/impl/shape) matches any of these
                   regular expressions, e.g. 'flush/wasm' 'w2-bytes$'

options:
  --time MS        minimum time per case, in milliseconds (default 1000)
  --out FILE       where to write the JSON results (default bench/results/latest.json)
  --no-gc          skip the GC and heap-allocation measurements (faster)
  --list           print the case names and exit
  -h, --help       print this help and exit

GC columns: GC events (minor/major) and GC time over a fixed number of operations (200 W2
windows, 20 W3 windows, 100 000 coalesces) in a child process with default heap flags; heap
bytes allocated per ingested stat in a child process with a 1 GiB young generation, so no
scavenge runs and used_heap_size growth equals the bytes allocated.

compare two result files: npm run bench:compare -- OLD.json NEW.json --threshold 10`;

const here = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = path.join(here, "results", "latest.json");

interface Args {
  filters: RegExp[];
  time: number;
  out: string;
  gc: boolean;
  list: boolean;
  child: "time" | "gc" | "alloc" | undefined;
  cases: string[] | undefined;
  expect: string | undefined;
}

function fail(message: string): never {
  console.error(`bench: ${message}\n(see --help)`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { filters: [], time: 1000, out: DEFAULT_OUT, gc: true, list: false, child: undefined, cases: undefined, expect: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case "-h":
      case "--help":
        console.log(HELP);
        process.exit(0);
      case "--time": {
        const v = value();
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) fail(`invalid --time: ${v}`);
        args.time = n;
        break;
      }
      case "--out":
        args.out = path.resolve(value());
        break;
      case "--no-gc":
        args.gc = false;
        break;
      case "--list":
        args.list = true;
        break;
      case "--child": {
        const v = value();
        if (v !== "time" && v !== "gc" && v !== "alloc") fail(`invalid --child: ${v}`);
        args.child = v;
        break;
      }
      case "--cases":
        args.cases = value().split(",");
        break;
      case "--expect":
        args.expect = value();
        break;
      default:
        if (a.startsWith("-")) fail(`unknown option: ${a}`);
        try {
          args.filters.push(new RegExp(a));
        } catch {
          fail(`invalid regular expression: ${a}`);
        }
    }
  }
  return args;
}

function statsPerOp(c: BenchCase): number {
  return typeof c.statsPerOp === "function" ? c.statsPerOp() : c.statsPerOp;
}

/** One case's measurements, as written to the JSON file. */
export interface CaseResult {
  op: string;
  impl: string;
  shape: string;
  statsPerOp: number;
  nsPerOp: number;
  opsPerSec: number;
  statsPerSec: number;
  rme: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  gc?: GcResult;
  alloc?: AllocResult;
  heapBytesPerStat?: number | null;
}

/** The JSON results file. */
export interface ResultsFile {
  schema: 1;
  date: string;
  node: string;
  v8: string;
  cpu: string;
  cores: number;
  platform: string;
  timeMs: number;
  cases: Record<string, CaseResult>;
}

// ---- child processes --------------------------------------------------------------------------

const RESULT_PREFIX = "@@bench-result ";

async function runChild(args: Args): Promise<void> {
  const wanted = new Set(args.cases ?? []);
  const expected = JSON.parse(readFileSync(args.expect ?? fail("--child needs --expect"), "utf8")) as Expected;
  const out: Record<string, CaseResult | GcResult | AllocResult> = {};
  for (const c of allCases()) {
    if (!wanted.has(c.name)) continue;
    const runner = await c.prepare(expected); // throws CaseMismatchError when the output is wrong
    if (args.child === "time") {
      out[c.name] = await timeCase(c, runner, args.time);
    } else {
      const warmup = c.op === "coalesce" ? 5000 : Math.max(3, Math.ceil(c.allocOps / 2));
      out[c.name] = args.child === "gc" ? await measureGc(runner, warmup, c.gcOps) : await measureAlloc(runner, warmup, c.allocOps);
    }
    if (runner.sink < 0) console.error("unreachable: keeps the sink alive");
    await runner.finish?.(); // throws CaseMismatchError when an end-to-end case lost or doubled a stat
  }
  process.stdout.write(RESULT_PREFIX + JSON.stringify(out) + "\n");
}

async function timeCase(c: BenchCase, runner: Runner, time: number): Promise<CaseResult> {
  const bench = new Bench({
    name: c.name,
    time,
    iterations: c.minSamples,
    warmupTime: Math.min(250, time / 4),
    warmupIterations: Math.min(16, c.minSamples),
    timestampProvider: hrtimeNowTimestampProvider,
    throws: true,
  });
  const before = runner.before?.bind(runner);
  bench.add(c.name, () => runner.run(), before === undefined ? {} : { beforeEach: () => before() });
  // an end-to-end case resolves once its window is delivered: the wait is part of the operation
  // (and a case whose untimed set-up waits for a delivery, flush-only/wasm-http)
  const [task] = c.async === true ? await bench.run() : bench.runSync();
  const r = task?.result;
  if (r === undefined || r.state !== "completed") throw new Error(`${c.name}: benchmark did not complete (${r?.state ?? "no result"})`);
  const perOp = statsPerOp(c);
  return {
    op: c.op,
    impl: c.impl,
    shape: c.shape,
    statsPerOp: perOp,
    nsPerOp: r.latency.mean * 1e6,
    opsPerSec: 1000 / r.latency.mean,
    statsPerSec: (perOp * 1000) / r.latency.mean,
    rme: r.latency.rme,
    samples: r.latency.samplesCount,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
  };
}

function spawnChild(mode: "time" | "gc" | "alloc", names: string[], expectFile: string, time: number): Record<string, unknown> {
  const flags = mode === "alloc" ? ["--expose-gc", "--max-semi-space-size=1024", "--min-semi-space-size=1024"] : ["--expose-gc"];
  const r = spawnSync(
    process.execPath,
    [...flags, "--import", "tsx", fileURLToPath(import.meta.url), "--child", mode, "--cases", names.join(","), "--expect", expectFile, "--time", String(time)],
    { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) {
    console.error(`bench: ABORTED: ${mode} run of ${names.length === 1 ? names[0] : `${names.length} cases`} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  const line = r.stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined) throw new Error(`bench ${mode} child printed no result`);
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as Record<string, unknown>;
}

// ---- the table --------------------------------------------------------------------------------

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtRate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 0.1 ? ms.toFixed(2) : ms.toFixed(4);
}

/** The results as a markdown table (also what the README shows). */
export function renderTable(file: ResultsFile): string {
  const head = ["case", "ns/op", "stats/s", "vs ts", "rme %", "samples", "p50 ms", "p99 ms", "GC minor/major", "GC ms (max)", "heap B/stat"];
  const rows: string[][] = [];
  for (const [name, r] of Object.entries(file.cases)) {
    const base = file.cases[`${r.op}/ts/${r.shape}`];
    const gc = r.gc;
    rows.push([
      name,
      fmt(r.nsPerOp),
      fmtRate(r.statsPerSec),
      base !== undefined ? `${(r.statsPerSec / base.statsPerSec).toFixed(1)}x` : "",
      `±${r.rme.toFixed(1)}`,
      String(r.samples),
      fmtMs(r.p50Ms),
      fmtMs(r.p99Ms),
      gc !== undefined ? `${gc.minor}/${gc.major} per ${fmt(gc.ops)}` : "",
      gc !== undefined ? `${gc.gcMs.toFixed(0)} (${gc.maxPauseMs.toFixed(1)})` : "",
      r.heapBytesPerStat === undefined ? "" : r.heapBytesPerStat === null ? "n/a" : fmt(r.heapBytesPerStat, r.heapBytesPerStat < 10 ? 2 : 0),
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // end-to-end cases: each path against the bare sink of the same shape, from the same run
  const ratios: string[] = [];
  for (const [name, r] of Object.entries(file.cases)) {
    const sink = file.cases[`e2e/wasm-sink/${r.shape}`];
    if (r.op !== "e2e" || sink === undefined || r.impl === "wasm-sink") continue;
    ratios.push(`${name}: ${(r.statsPerSec / sink.statsPerSec).toFixed(2)}x e2e/wasm-sink/${r.shape}`);
  }
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const table = [line(head), `|${widths.map((w, i) => (i === 0 ? ":" : "-") + "-".repeat(w) + (i === 0 ? "-" : ":")).join("|")}|`, ...rows.map(line)];
  return [...table, ...(ratios.length === 0 ? [] : ["", ...ratios])].join("\n");
}

// ---- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child !== undefined) return runChild(args);

  const cases = allCases().filter((c) => args.filters.length === 0 || args.filters.some((f) => f.test(c.name)));
  if (args.list) {
    for (const c of cases) console.log(c.name);
    return;
  }
  if (cases.length === 0) fail(`no case matches ${args.filters.map(String).join(" ")}`);

  const file: ResultsFile = {
    schema: 1,
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    platform: `${os.platform()} ${os.arch()}`,
    timeMs: args.time,
    cases: {},
  };
  console.log(`statsworker-wasm benchmarks: node ${file.node} (V8 ${file.v8}), ${file.cpu} x ${file.cores}, ${file.platform}`);
  const started = performance.now();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "statsworker-bench-"));
  try {
    // the baseline's output, computed once here and checked by every case before it is timed
    const expected: Expected = {};
    for (const key of new Set(cases.map((c) => c.baselineKey))) expected[key] = await computeBaseline(key);
    const expectFile = path.join(tmp, "expected.json");
    writeFileSync(expectFile, JSON.stringify(expected));
    console.log(`  baseline outputs computed in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    for (const c of cases) {
      const result = spawnChild("time", [c.name], expectFile, args.time)[c.name] as CaseResult;
      file.cases[c.name] = result;
      console.log(`  ${c.name.padEnd(34)} ${fmt(result.nsPerOp).padStart(14)} ns/op  ${fmtRate(result.statsPerSec).padStart(9)} stats/s  ±${result.rme.toFixed(1)}%  (${result.samples} samples)`);
    }

    if (args.gc) {
      const names = cases.map((c) => c.name);
      let t = performance.now();
      const gc = spawnChild("gc", names, expectFile, args.time);
      console.log(`  gc accounting: ${names.length} cases in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      t = performance.now();
      const alloc = spawnChild("alloc", names, expectFile, args.time);
      console.log(`  alloc accounting: ${names.length} cases in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      for (const c of cases) {
        const r = file.cases[c.name]!;
        const g = gc[c.name] as GcResult | undefined;
        const a = alloc[c.name] as AllocResult | undefined;
        if (g !== undefined) r.gc = g;
        if (a !== undefined) {
          r.alloc = a;
          r.heapBytesPerStat = a.bytes === null ? null : a.bytes / (a.ops * r.statsPerOp);
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  mkdirSync(path.dirname(args.out), { recursive: true });
  writeFileSync(args.out, JSON.stringify(file, null, 2) + "\n");
  console.log(`\nnode ${file.node}, V8 ${file.v8}, ${file.cpu} x ${file.cores} (${file.platform}); min ${args.time} ms per case\n`);
  console.log(renderTable(file));
  console.log(`\n${cases.length} cases in ${((performance.now() - started) / 1000).toFixed(0)} s; results: ${path.relative(process.cwd(), args.out)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error && err.name === "CaseMismatchError" ? `bench: ABORTED: ${err.message}` : err);
  process.exit(1);
});
