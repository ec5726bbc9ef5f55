/**
 * Counters a StatsWorker or TelemetryService keeps, for a host to export as metrics.
 * All are running totals since creation.
 */
export interface TelemetryCounters {
  /** stats accepted into a window (objects and bytes; invalid ones included) */
  statsIn: number;
  /** accepted stats that failed `isValid` (R7): skipped by coalescing, counted in the score divisor */
  invalid: number;
  /** stats refused without an error: sent to a closed worker (R5), to no worker (T3), or after `stop()` */
  dropped: number;
  /** encoded stats refused with a DecodeError or a LimitError about the message */
  malformed: number;
  /** stats refused because their new track would pass a bound (`EngineBounds`) */
  refused: number;
  /** coalesced stats handed to the reporter */
  statsOut: number;
  /** calls of `report` / `reportBytes` */
  reports: number;
  /** reporter calls that threw (caught and logged) */
  reporterErrors: number;
}

/** A new set of counters, all zero. */
export function newCounters(): TelemetryCounters {
  return { statsIn: 0, invalid: 0, dropped: 0, malformed: 0, refused: 0, statsOut: 0, reports: 0, reporterErrors: 0 };
}
