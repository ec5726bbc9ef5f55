/**
 * What the demo page exposes on `window.__demo`, for a person in the devtools console and for
 * the browser test suite (test/browser/browser.test.ts), which waits on it.
 */

/** One benchmark workload: throughput of each engine in stats per second. */
export interface BenchRow {
  workload: string;
  /** stats handled per iteration */
  stats: number;
  ts: number;
  wasm: number;
}

/** What the demo charts: the simulated call (default) or a real call in the page (`?mode=real`). */
export type DemoMode = "simulated" | "real";

/** The demo's live state. */
export interface DemoState {
  mode: DemoMode;
  /** the real call: getStats() rounds read, and dictionaries the collectors skipped */
  real?: { collects: number; malformed: number };
  /** why the real call could not start or a sample failed */
  error?: string;
  /** reporting windows received (one point per track per chart each) */
  points: number;
  /** tracks charted */
  tracks: number;
  /** data points drawn per chart (bitrate: the video and audio charts together) */
  charts: { score: number; bitrate: number; loss: number };
  /** engine counters of the simulated call's TelemetryService */
  counters: { statsIn: number; statsOut: number; invalid: number };
  /** the benchmark, once the button was pressed */
  bench?: { done: boolean; error?: string; identical: boolean; rows: BenchRow[] };
}

declare global {
  interface Window {
    __demo?: DemoState;
  }
}
