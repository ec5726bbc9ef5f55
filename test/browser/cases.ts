/**
 * What the in-page suite runs and how it reports back: shared by the page entry (which runs the
 * cases inside Chromium) and browser.test.ts (which turns each result into one node:test test).
 */

/** Engine kinds the in-page scenarios run against, each case once per kind. */
export const PAGE_ENGINE_KINDS = ["ts", "wasm"] as const;

/** How many random stats each differential case feeds (the brief asks for at least 20 000). */
export const DIFFERENTIAL_STATS = { coalesce: 24_000, worker: 24_000, reportBytes: 6_000 } as const;

const SCENARIOS = [
  "two stats on one downstream track sum to 56 bytes and 2 packets",
  "upstream stats come before downstream ones",
  "after close() stats are dropped and never reported",
  "malformed bytes throw a DecodeError and the worker keeps working",
] as const;

/** Every case name the page must report, in run order. */
export const PAGE_CASES: readonly string[] = [
  "the page runs in a browser, not in Node",
  `differential: coalesce() and isValid() agree on ${DIFFERENTIAL_STATS.coalesce} random stats`,
  `differential: StatsWorker agrees on ${DIFFERENTIAL_STATS.worker} random stats from objects and bytes`,
  `differential: StatsWorker agrees through reportBytes on ${DIFFERENTIAL_STATS.reportBytes} random stats`,
  ...PAGE_ENGINE_KINDS.flatMap((kind) => SCENARIOS.map((s) => scenarioName(kind, s))),
];

/** The case name of scenario `s` run with engine `kind`. */
export function scenarioName(kind: string, s: (typeof SCENARIOS)[number]): string {
  return `StatsWorker [${kind}]: ${s}`;
}

/** One case's outcome, as the page reports it. */
export interface PageResult {
  name: string;
  ok: boolean;
  /** the failure, with the stack when there is one */
  error?: string;
  /** a line for the node test output (counts, user agent) */
  info?: string;
  ms: number;
}

/** What the page leaves in `window.__results` when every case has run. */
export interface PageReport {
  userAgent: string;
  seed: number;
  results: PageResult[];
}

declare global {
  interface Window {
    __results?: PageReport;
  }
}
