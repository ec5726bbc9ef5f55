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

/** Counts garbage collections (PerformanceObserver entry type `"gc"`) from construction on. */
export class GcCounter {
  private count = 0;
  private pauseMs = 0;
  private readonly observer: PerformanceObserver;

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.count++;
        this.pauseMs += entry.duration;
      }
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /**
   * Stops counting and returns the totals. GC entries are delivered asynchronously, so this
   * waits one macrotask first to collect the last ones.
   */
  async stop(): Promise<{ events: number; pauseMs: number }> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.observer.disconnect();
    return { events: this.count, pauseMs: this.pauseMs };
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
