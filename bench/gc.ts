/**
 * GC accounting for the benchmark cases (TOOLCHAIN section 6), run in child processes:
 *
 * - `gc` mode (default heap flags, `--expose-gc`): GC events by kind and total GC time over a
 *   fixed number of operations, after a warm-up and a forced full GC.
 * - `alloc` mode (`--max-semi-space-size=1024 --min-semi-space-size=1024`): the young generation
 *   is so large that no scavenge runs during the measured operations, so the growth of
 *   `used_heap_size` is the number of JS heap bytes they allocated. Node 20 has no
 *   `total_allocated_bytes`. A measurement during which a GC ran anyway is reported as `null`.
 *
 * Both warm up first (unoptimised code boxes doubles and would show allocations that optimised
 * code does not make) and keep every result in a sink (or escape analysis removes allocations).
 *
 * @module
 */
import { PerformanceObserver, constants } from "node:perf_hooks";
import v8 from "node:v8";
import type { Runner } from "./cases.ts";

/** GC events and time over `ops` operations. */
export interface GcResult {
  ops: number;
  minor: number;
  major: number;
  incremental: number;
  weakcb: number;
  /** total time of all GC events, ms */
  gcMs: number;
  /** the longest single GC event, ms */
  maxPauseMs: number;
  /** wall time of the `ops` operations, ms */
  wallMs: number;
}

/** JS heap bytes allocated over `ops` operations. */
export interface AllocResult {
  ops: number;
  /** used_heap_size growth; null when a GC ran during the measurement (too much allocation) */
  bytes: number | null;
  /** GC events seen during the measurement (0 for a valid one) */
  gcEvents: number;
}

const KIND: Record<number, "minor" | "major" | "incremental" | "weakcb"> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
};

function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("GC accounting needs node --expose-gc");
  gc();
  gc();
}

// gc entries are delivered asynchronously, after the current task
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 10));

interface Observed {
  counts: { minor: number; major: number; incremental: number; weakcb: number };
  gcMs: number;
  maxPauseMs: number;
  events: number;
}

function observe(): { stop(): Promise<Observed> } {
  const result: Observed = { counts: { minor: 0, major: 0, incremental: 0, weakcb: 0 }, gcMs: 0, maxPauseMs: 0, events: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = KIND[(e as unknown as { detail: { kind: number } }).detail.kind];
      if (kind !== undefined) result.counts[kind]++;
      result.events++;
      result.gcMs += e.duration;
      if (e.duration > result.maxPauseMs) result.maxPauseMs = e.duration;
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  return {
    async stop() {
      await nextTask();
      obs.disconnect();
      return result;
    },
  };
}

/** `n` runs, each waited for only when it returns a promise (a sync case pays no microtask turn). */
async function runMany(runner: Runner, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const b = runner.before?.();
    if (b !== undefined) await b;
    const p = runner.run();
    if (p !== undefined) await p;
  }
}

/** Counts GC events over `ops` runs, after `warmup` runs and a full GC. */
export async function measureGc(runner: Runner, warmup: number, ops: number): Promise<GcResult> {
  await runMany(runner, warmup);
  forceGc();
  await nextTask();
  const o = observe();
  const t0 = performance.now();
  await runMany(runner, ops);
  const wallMs = performance.now() - t0;
  const r = await o.stop();
  return { ops, ...r.counts, gcMs: r.gcMs, maxPauseMs: r.maxPauseMs, wallMs };
}

/** Measures JS heap bytes allocated by `ops` runs, after `warmup` runs and a full GC. */
export async function measureAlloc(runner: Runner, warmup: number, ops: number): Promise<AllocResult> {
  await runMany(runner, warmup);
  forceGc();
  await nextTask();
  const o = observe();
  const u0 = v8.getHeapStatistics().used_heap_size;
  await runMany(runner, ops);
  const u1 = v8.getHeapStatistics().used_heap_size;
  const r = await o.stop();
  return { ops, bytes: r.events === 0 ? u1 - u0 : null, gcEvents: r.events };
}
