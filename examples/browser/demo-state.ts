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

/** The demo's live state. */
export interface DemoState {
  /** reporting windows received (one point per track per chart each) */
  points: number;
  /** tracks charted */
  tracks: number;
  /** data points drawn per chart */
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
