/**
 * StatsWorker: one participant's telemetry window (Go `StatsWorker`, statsworker.go,
 * livekit/livekit commit 29039b4e).
 *
 * @module
 */
import { newCounters, type TelemetryCounters } from "./counters.ts";
import { engineImpl, type BatchRouter, type Bucket, type Engine, type TrackTable } from "./engine/engine.ts";
import { profileLifecycle } from "./engine/profile.ts";
import { ArgumentError, isDecodeError, isLimitError, isTrackBound } from "./errors.ts";
import { StreamType, type AnalyticsStat } from "./gen/livekit/livekit_analytics_pb.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { STAMPED, stampRequestOf, type StampedBatch, type TelemetryReporter } from "./reporter.ts";
import type { AnalyticsStatInput } from "./engine/read-stat.ts";

/**
 * A worker dropped without `close()` (or a service's reaping) would keep its share of the engine's
 * memory for good: once the worker is collected, its table is disposed. The table holds a copy of
 * the worker's identity, never the worker, so registering cannot keep the worker alive.
 */
const orphans =
  typeof FinalizationRegistry === "function" ? new FinalizationRegistry<TrackTable>(disposeOrphan) : undefined;

function disposeOrphan(table: TrackTable): void {
  try {
    table.dispose();
  } catch {
    // a finalizer has no caller to tell: the engine itself is gone (disposed), and so is the memory
  }
}

/** The range of a JavaScript Date: +-100 000 000 days from the epoch, in milliseconds. */
const MAX_DATE_MS = 8.64e15;

/** Options of {@link StatsWorker}. */
export interface StatsWorkerOptions {
  /** the engine that validates and coalesces (`loadEngine()`) */
  engine: Engine;
  /** where each window's batch goes */
  reporter: TelemetryReporter;
  /** patched into every reported stat (R3) */
  roomId: string;
  /** patched into every reported stat (R3) */
  roomName: string;
  /** patched into every reported stat (R3) */
  participantId: string;
  /** kept for the host; not reported (as in Go) */
  participantIdentity: string;
  /** clock for `timeStamp` and `closedAt`; default: the system clock */
  now?: () => Date;
  /** where invalid stats and reporter failures are logged; default: silent */
  logger?: Logger;
  /** counters to add into (a TelemetryService shares one set); default: a new set */
  counters?: TelemetryCounters;
}

/**
 * @internal The key under which a TelemetryService hands its workers its batch router; a symbol
 * that the package entry does not export, so it is no part of {@link StatsWorkerOptions}.
 */
export const ROUTER: unique symbol = Symbol("statsworker-wasm.router");

/**
 * @internal The key of a worker's "holds stats for its next `update()`" flag, which a replay
 * reads to tell a participant that sent nothing during a window; not exported by the package.
 */
export const PENDING: unique symbol = Symbol("statsworker-wasm.pending");

/** @internal The options a TelemetryService makes its workers with. */
export interface ServiceWorkerOptions extends StatsWorkerOptions {
  [ROUTER]: BatchRouter;
}

/**
 * Buffers one participant's stats per track and direction, and on `update()` reports one
 * coalesced stat per track.
 *
 * Single-threaded stand-in for Go's mutex: `update()` takes the window and starts an empty one
 * before it calls the reporter, so a stat that arrives while `report()` runs (even from inside
 * it) belongs to the next window, and nothing is lost or reported twice.
 */
export class StatsWorker {
  /** patched into every reported stat (R3) */
  readonly roomId: string;
  /** patched into every reported stat (R3) */
  readonly roomName: string;
  /** patched into every reported stat (R3) */
  readonly participantId: string;
  /** the participant's identity, kept for the host */
  readonly participantIdentity: string;
  /** running totals of this worker (shared with its service, if any) */
  readonly counters: TelemetryCounters;

  private readonly table: TrackTable;
  private readonly reporter: TelemetryReporter;
  private readonly now: () => Date;
  // update() reads the clock on every window; Date.now() spares the default clock a Date object
  private readonly nowMs: () => number;
  private readonly logger: Logger;
  // the engine's profile decides what close() means (see ProfileLifecycle.reportsAfterClose)
  private readonly reportsAfterClose: boolean;
  // a network reporter of this library asks for stamped batches: the engine writes its node and
  // ids as it encodes, and this record (reused every window) tells the reporter so; undefined
  // for every other reporter
  private readonly stamped: { readonly [STAMPED]: true; stats: number } | undefined;
  private closed: Date | undefined = undefined;

  constructor(options: StatsWorkerOptions) {
    if (options === null || typeof options !== "object") throw new ArgumentError("invalid options: expected an object");
    const { reporter } = options;
    checkReporter(reporter);
    for (const key of ["roomId", "roomName", "participantId", "participantIdentity"] as const) {
      if (typeof options[key] !== "string") throw new ArgumentError(`invalid ${key}: ${String(options[key])}`);
    }
    const engine = engineImpl(options.engine);
    if (options.now !== undefined && typeof options.now !== "function") throw new ArgumentError("invalid now: expected a function returning a Date");
    this.reporter = reporter;
    this.roomId = options.roomId;
    this.roomName = options.roomName;
    this.participantId = options.participantId;
    this.participantIdentity = options.participantIdentity;
    const now = options.now;
    this.now = now ?? (() => new Date());
    this.nowMs = now === undefined ? Date.now : () => now().getTime();
    this.logger = options.logger ?? silentLogger;
    this.counters = options.counters ?? newCounters();
    this.reportsAfterClose = profileLifecycle(engine.profile).reportsAfterClose;
    const request = stampRequestOf(reporter);
    this.stamped = request === undefined ? undefined : { [STAMPED]: true, stats: 0 };
    // the table gets a copy of the identity, not the worker: it must not keep the worker alive
    const identity = {
      roomId: this.roomId,
      roomName: this.roomName,
      participantId: this.participantId,
      ...(request?.node === undefined ? {} : { node: request.node }),
    };
    this.table = engine.createTrackTable(identity, (options as Partial<ServiceWorkerOptions>)[ROUTER]);
    orphans?.register(this, this.table, this.table);
  }

  /** When `close()` last ran; undefined while the worker is open (R4). */
  get closedAt(): Date | undefined {
    return this.closed;
  }

  /**
   * Buffers `stat` for `trackId` (Go `OnTrackStat`, R1): in the DOWNSTREAM bucket when `direction`
   * is `StreamType.DOWNSTREAM`, otherwise (UPSTREAM or any other value) in the UPSTREAM bucket.
   * The stat's values are read now, each field once; the object is never mutated or kept. It may be
   * a protobuf-es `AnalyticsStat`, a plain init-shape object (omitted fields are 0 or empty) or a
   * `@livekit/protocol` `AnalyticsStat`. An invalid stat (R7) is logged and counted here. After
   * `close()` the stat is dropped and counted (R5), except in the `"livekit-current"` profile,
   * which buffers it for the next `update()`.
   *
   * @throws ArgumentError naming the field when a value has the wrong type or is out of range
   * @throws LimitError when the stat has more streams or layers than `LIMITS`
   */
  onTrackStat(trackId: string, direction: StreamType, stat: AnalyticsStatInput): void {
    checkTrackId(trackId);
    // the fields are checked as the engine reads them, once; here only what a closed worker needs
    if (stat === null || typeof stat !== "object") {
      throw new ArgumentError(`invalid stat for track ${trackId}: expected an AnalyticsStat`);
    }
    if (this.isClosed()) {
      // R5, deliberate improvement: Go keeps buffering until the worker is reaped
      this.counters.dropped++;
      return;
    }
    let valid: boolean;
    try {
      valid = this.table.add(trackId, bucketOf(direction), stat);
    } catch (err) {
      if (isLimitError(err) && isTrackBound(err.code)) this.counters.refused++;
      throw err;
    }
    this.accepted(trackId, direction, valid);
  }

  /**
   * Like {@link onTrackStat}, for one encoded `AnalyticsStat`.
   *
   * @throws DecodeError when the bytes are malformed, LimitError when the stat is over `LIMITS`;
   *   nothing of the message is kept and the rest of the window is intact
   */
  onTrackStatBytes(trackId: string, direction: StreamType, bytes: Uint8Array): void {
    checkTrackId(trackId);
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`invalid bytes for track ${trackId}: expected a Uint8Array`);
    if (this.isClosed()) {
      this.counters.dropped++;
      return;
    }
    let valid: boolean;
    try {
      valid = this.table.addBytes(trackId, bucketOf(direction), bytes);
    } catch (err) {
      if (isLimitError(err) && isTrackBound(err.code)) this.counters.refused++;
      else if (isDecodeError(err) || isLimitError(err)) this.counters.malformed++;
      throw err;
    }
    this.accepted(trackId, direction, valid);
  }

  // closed for the stats it takes and reports: never in the livekit-current profile
  private isClosed(): boolean {
    return this.closed !== undefined && !this.reportsAfterClose;
  }

  private accepted(trackId: string, direction: StreamType, valid: boolean): void {
    this.counters.statsIn++;
    if (!valid) {
      this.counters.invalid++;
      this.logger.warn("telemetry skipping invalid stat", { participantId: this.participantId, trackId, direction });
    }
  }

  /** @internal whether the worker holds stats for its next `update()` */
  get [PENDING](): boolean {
    return this.table.pending;
  }

  /**
   * Reports the window (Go `Update`, R2): does nothing when closed (in the `"livekit-current"`
   * profile a closed worker still reports, as Go's `Flush` does); otherwise coalesces each
   * track's stats, patches them (R3) and calls the reporter once, UPSTREAM results first.
   * With nothing buffered the reporter is not called. A reporter that throws is logged and
   * counted; the error does not propagate.
   *
   * @throws ArgumentError when the clock gives an invalid date (the window is kept)
   */
  update(): void {
    const startedMs = this.nowMs();
    if (this.isClosed() || !this.table.pending) return;
    // checked before the window is taken, so a broken clock loses nothing; beyond a Date's range
    // the engines' time stamps would no longer agree
    if (!(Math.abs(startedMs) <= MAX_DATE_MS)) {
      throw new ArgumentError(`invalid clock: now() returned ${String(startedMs)} ms`);
    }
    const reporter = this.reporter;
    // the window is taken before the reporter runs (R2); only the reporter call is guarded.
    // No closure or patch object is made here: a steady bytes-out window allocates nothing.
    if (typeof reporter.reportBytes === "function") {
      // the batch may be engine memory, lent until release(), so that a drain the reporter causes
      // (participantLeft, flush) cannot overwrite it
      const lease = this.table.drainBytes(startedMs, this.stamped !== undefined);
      if (lease === undefined) return;
      this.counters.reports++;
      this.counters.statsOut += lease.count;
      let stamped: StampedBatch | undefined;
      if (lease.stamped && this.stamped !== undefined) {
        this.stamped.stats = lease.count;
        stamped = this.stamped;
      }
      try {
        // a reporter that asked for nothing sees the one argument it always saw
        this.settled(stamped === undefined ? reporter.reportBytes(lease.bytes) : reporter.reportBytes(lease.bytes, stamped));
      } catch (err) {
        this.reporterFailed(err);
      } finally {
        lease.release();
      }
    } else {
      const stats: AnalyticsStat[] = [];
      this.table.drain(startedMs, stats);
      if (stats.length === 0) return;
      this.counters.reports++;
      this.counters.statsOut += stats.length;
      try {
        this.settled(reporter.report(stats));
      } catch (err) {
        this.reporterFailed(err);
      }
    }
  }

  // an async reporter's rejection would otherwise be an unhandled rejection, which ends a Node
  // process: it is caught, logged and counted like a throw
  private settled(result: unknown): void {
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      // a closure only for reporters that return promises: a worker carries none of its own
      (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.reporterFailed(err));
    }
  }

  private reporterFailed(err: unknown): void {
    this.counters.reporterErrors++;
    this.logger.error("telemetry reporter failed", { participantId: this.participantId, error: err });
  }

  /**
   * Reports what is buffered and closes the worker (Go `Close`, R4): `update()`, then `closedAt`
   * is set to now. A repeated `close()` reports nothing and moves `closedAt` to the newer time.
   * In the `"livekit-current"` profile `close()` only sets `closedAt`, once (Go `Close` at
   * 788d4c35): what the worker holds and receives later goes out with the next `update()`.
   */
  close(): void {
    if (this.reportsAfterClose) {
      this.closed ??= this.now();
      return;
    }
    this.update();
    this.closed = this.now();
    this.table.close();
  }

  /** @internal Gives the worker's engine memory back for good (the service reaps it). */
  dispose(): void {
    orphans?.unregister(this.table);
    this.table.dispose();
  }
}

/** @internal Throws an ArgumentError unless `reporter` is a TelemetryReporter. */
export function checkReporter(reporter: TelemetryReporter): void {
  if (reporter === null || typeof reporter !== "object" || typeof reporter.report !== "function") {
    throw new ArgumentError("invalid reporter: expected an object with report()");
  }
}

function bucketOf(direction: StreamType): Bucket {
  return direction === StreamType.DOWNSTREAM ? 1 : 0;
}

function checkTrackId(trackId: string): void {
  if (typeof trackId !== "string") throw new ArgumentError(`invalid trackId: ${String(trackId)}`);
}
