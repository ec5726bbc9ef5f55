import type { AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import type { TelemetryReporter } from "../reporter.ts";
import { newReporterCounters, type ReporterCounters } from "./counters.ts";

/** A {@link TelemetryReporter} that hands every batch to a function, with counters. */
export interface CallbackReporter extends TelemetryReporter {
  /** a snapshot of the delivery counters, fresh on every read */
  readonly counters: ReporterCounters;
}

/**
 * Returns a reporter that calls `fn` with every batch, synchronously, in the caller's turn.
 *
 * The batch array and its stats belong to `fn` from then on. When `fn` throws, the batch is
 * counted as dropped and as a failure, and the error is rethrown unchanged: the StatsWorker that
 * called `report()` catches and logs it, so this adapter does not log it a second time.
 * It has no `reportBytes`, so the worker always hands it message objects.
 */
export function callbackReporter(fn: (stats: AnalyticsStat[]) => void): CallbackReporter {
  const counters = newReporterCounters();
  return {
    report(stats: AnalyticsStat[]): void {
      counters.batches++;
      counters.stats += stats.length;
      try {
        fn(stats);
      } catch (err) {
        counters.dropped++;
        counters.droppedStats += stats.length;
        counters.failures++;
        throw err;
      }
      counters.sent++;
      counters.sentStats += stats.length;
      counters.requests++;
    },
    get counters(): ReporterCounters {
      return { ...counters };
    },
  };
}
