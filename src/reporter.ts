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
  /**
   * @param batch one encoded `AnalyticsStats`
   * @param stamped given only by this library's workers, to the library's own network reporters:
   *   the batch is the engine's encoding with every stat stamped as they asked. Other reporters
   *   ignore it.
   */
  reportBytes?(batch: Uint8Array, stamped?: StampedBatch): void | Promise<unknown>;
}

/**
 * @internal The key of what a reporter asks its workers to stamp into encoded batches (the node,
 * if any, and a new `AS_` id per stat), so that it can send the engine's bytes without walking
 * and re-writing them. A symbol the package entry does not export.
 */
export const STAMP_REQUEST: unique symbol = Symbol("statsworker-wasm.stampRequest");

/** @internal The key that marks a {@link StampedBatch}; not exported by the package entry. */
export const STAMPED: unique symbol = Symbol("statsworker-wasm.stamped");

/** @internal What a reporter that wants stamped batches holds under {@link STAMP_REQUEST}. */
export interface StampRequest {
  /** written into `node` of every stat; undefined: `node` is left empty */
  readonly node: string | undefined;
}

/**
 * What a worker tells its reporter of an encoded batch it stamped: how many stats it holds. Only
 * a StatsWorker makes one (its key is internal); valid during the `reportBytes` call only.
 */
export interface StampedBatch {
  /** @internal */
  readonly [STAMPED]: true;
  /** stats in the batch */
  readonly stats: number;
}

/** @internal The stamp request of `reporter`, when it is one of the library's network reporters. */
export function stampRequestOf(reporter: TelemetryReporter): StampRequest | undefined {
  const request = (reporter as { [STAMP_REQUEST]?: unknown })[STAMP_REQUEST];
  if (request === null || typeof request !== "object") return undefined;
  const node = (request as StampRequest).node;
  return node === undefined || typeof node === "string" ? { node } : undefined;
}

/** @internal Whether `stamped` is a worker's {@link StampedBatch}. */
export function isStampedBatch(stamped: unknown): stamped is StampedBatch {
  return stamped !== null && typeof stamped === "object" && (stamped as { [STAMPED]?: unknown })[STAMPED] === true;
}
