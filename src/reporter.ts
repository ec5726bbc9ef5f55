import type { AnalyticsStat } from "./gen/livekit/livekit_analytics_pb.ts";

/**
 * Where a StatsWorker hands each flush window's batch (Go `TelemetryReporter.Report`).
 *
 * `report` is called at most once per worker per window, with at least one stat, UPSTREAM
 * results first. The array and its stats belong to the reporter from then on.
 *
 * When `reportBytes` is present the batch is handed over encoded instead: one `AnalyticsStats`
 * message, and no `AnalyticsStat` objects are built. The buffer may be a view into engine memory
 * that is valid only during the call: a reporter that keeps it must copy it (`batch.slice()`).
 *
 * A reporter that throws never breaks the worker: the error is caught, logged and counted. Either
 * method may return a promise; a rejection is caught, logged and counted the same way (the
 * worker does not wait for it). The bytes of `reportBytes` are valid only until the call returns,
 * so an async reporter copies them before its first `await`.
 */
export interface TelemetryReporter {
  report(stats: AnalyticsStat[]): void | Promise<unknown>;
  reportBytes?(batch: Uint8Array): void | Promise<unknown>;
}
