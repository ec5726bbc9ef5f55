/**
 * The end-of-run report of the `statsworker` commands: a two-column table, garbage-collection
 * counting and heap numbers.
 *
 * @module
 */
import { PerformanceObserver } from "node:perf_hooks";

/** Formats `rows` as an aligned two-column table under `title`, one row per line. */
export function formatTable(title: string, rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  let text = `${title}\n`;
  for (const [k, v] of rows) text += `  ${k.padEnd(width)}  ${v}\n`;
  return text;
}

/** GC events and their pause time. */
export interface GcTotals {
  events: number;
  pauseMs: number;
}

/**
 * Counts garbage collections of the whole process (PerformanceObserver entry type `"gc"`) from
 * construction on, and, separately, those that started inside intervals marked with
 * {@link begin} and {@link end} (such as the library's share of a run).
 */
export class GcCounter {
  private readonly all: GcTotals = { events: 0, pauseMs: 0 };
  private readonly marked: GcTotals = { events: 0, pauseMs: 0 };
  // [start, end) of the marked intervals, in performance.now() ms; the open one ends at Infinity
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly observer: PerformanceObserver;

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.all.events++;
        this.all.pauseMs += entry.duration;
        if (this.inMarked(entry.startTime)) {
          this.marked.events++;
          this.marked.pauseMs += entry.duration;
        }
      }
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** Starts a marked interval now. */
  begin(): void {
    this.starts.push(performance.now());
    this.ends.push(Infinity);
  }

  /** Ends the marked interval begun last. */
  end(): void {
    this.ends[this.ends.length - 1] = performance.now();
  }

  // entries arrive in time order, a little after the fact: search from the newest interval back
  private inMarked(t: number): boolean {
    for (let i = this.starts.length - 1; i >= 0; i--) {
      if (t >= this.starts[i]!) return t < this.ends[i]!;
    }
    return false;
  }

  /**
   * Stops counting and returns the totals of the whole process and of the marked intervals. GC
   * entries are delivered asynchronously, so this waits one macrotask first to collect the last
   * ones.
   */
  async stop(): Promise<GcTotals & { marked: GcTotals }> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.observer.disconnect();
    return { ...this.all, marked: { ...this.marked } };
  }
}

/** `n` as an integer with thousands separators (`1 234 567`), locale-independent. */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

/** `bytes` in MiB with one decimal. */
export function formatMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A rate per second, scaled to k or M. */
export function formatRate(count: number, ms: number, unit: string): string {
  if (!(ms > 0)) return "-";
  const perSecond = (count / ms) * 1000;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M ${unit}/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k ${unit}/s`;
  return `${perSecond.toFixed(0)} ${unit}/s`;
}
