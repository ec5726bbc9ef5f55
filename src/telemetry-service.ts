/**
 * TelemetryService: the registry of StatsWorkers with its flush and cleanup timers (LiveKit's
 * `telemetryService` around statsworker.go, commit 29039b4e; docs/rules.md T1-T6).
 *
 * @module
 */
import { newCounters, type TelemetryCounters } from "./counters.ts";
import { engineImpl, type BatchResult, type BatchRouter, type BatchWindow, type Engine, type EngineImpl } from "./engine/engine.ts";
import { limitError } from "./limits.ts";
import { checkDeadline, DEFAULT_CLOSE_DEADLINE_MS, settleWithin } from "./deadline.ts";
import { ArgumentError } from "./errors.ts";
import { profileLifecycle } from "./engine/profile.ts";
import type { StreamType } from "./gen/livekit/livekit_analytics_pb.ts";
import { silentLogger, type Logger } from "./logger.ts";
import type { TelemetryReporter } from "./reporter.ts";
import type { AnalyticsStatInput } from "./engine/read-stat.ts";
import { PENDING, ROUTER, StatsWorker, checkReporter, type ServiceWorkerOptions } from "./stats-worker.ts";

/**
 * @internal The keys of what `statsworker aggregate` asks of a service beyond its public API: a
 * windowed ingestBatch and a worker's pending flag. Symbols the package entry does not export.
 */
export const INGEST_WINDOW: unique symbol = Symbol("statsworker-wasm.ingestWindow");
/** @internal see {@link INGEST_WINDOW} */
export const HAS_PENDING: unique symbol = Symbol("statsworker-wasm.hasPending");

/** Options of {@link TelemetryService}. */
export interface TelemetryServiceOptions {
  /** the engine every worker uses; one wasm instance serves them all (T6) */
  engine: Engine;
  /** where every worker reports */
  reporter: TelemetryReporter;
  /**
   * how often `start()`'s timer runs `flush()`, in milliseconds; default 10 000 (T4), 30 000 in
   * the `"livekit-current"` profile
   */
  flushIntervalMs?: number;
  /**
   * how often `start()`'s timer runs `cleanupWorkers()`, in milliseconds; default 60 000 (T4).
   * The `"livekit-current"` profile reaps inside `flush()` and runs this timer only when the
   * option is given.
   */
  cleanupIntervalMs?: number;
  /** how long a closed worker stays registered, in milliseconds (strictly more is reaped); default 180 000 (T4) */
  closeWaitMs?: number;
  /** clock for time stamps, `closedAt` and reaping; default: the system clock */
  now?: () => Date;
  /** where invalid stats, drops and reporter failures are logged; default: silent */
  logger?: Logger;
}

/** Room id and name of a participant's worker, as `roomDetails()` answers them. */
export interface RoomDetails {
  roomId: string;
  roomName: string;
}

const systemClock = (): Date => new Date();


function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new ArgumentError(`invalid ${name}: ${String(value)}`);
  }
  return value;
}

/**
 * Keeps one StatsWorker per (room, participant), flushes them every `flushIntervalMs` and reaps
 * closed ones `closeWaitMs` after they closed.
 *
 * After `stop()`, stats are dropped and counted, and `participantJoined` and `start` throw an
 * `ArgumentError` with code `"closed"`.
 */
export class TelemetryService {
  /** running totals over every worker this service has had */
  readonly counters: TelemetryCounters = newCounters();

  private readonly engine: Engine;
  // routes ingestBatch's messages to this service's workers, inside the engine
  private readonly router: BatchRouter;
  private readonly engineImpl: EngineImpl;
  private readonly reporter: TelemetryReporter;
  private readonly flushIntervalMs: number;
  private readonly cleanupIntervalMs: number;
  // livekit-current: flush() reaps, and the cleanup timer runs only when asked for
  private readonly reapsInFlush: boolean;
  private readonly cleanupTimerWanted: boolean;
  private readonly closeWaitMs: number;
  private readonly now: () => Date;
  private readonly userNow: (() => Date) | undefined;
  private readonly logger: Logger;
  // Q2: keyed by (roomId, participantId); nested maps avoid building a key string per stat
  private readonly rooms = new Map<string, Map<string, StatsWorker>>();
  // T2: roomDetails() is asked by participant id alone; the newest worker of that id answers
  private readonly byParticipant = new Map<string, StatsWorker>();
  // the closed workers awaiting reaping: reaping walks these, not every worker
  private readonly closedWorkers = new Set<StatsWorker>();
  // trackStats: a producer hands over one participant's tracks in a row, so the last worker
  // answers most lookups without two map probes; cleared wherever a worker leaves the maps
  private lastWorker: StatsWorker | undefined = undefined;
  private count = 0;
  private flushTimer: ReturnType<typeof setInterval> | undefined = undefined;
  private cleanupTimer: ReturnType<typeof setInterval> | undefined = undefined;
  private stopped = false;

  constructor(options: TelemetryServiceOptions) {
    if (options === null || typeof options !== "object") throw new ArgumentError("invalid options: expected an object");
    this.engine = options.engine;
    this.engineImpl = engineImpl(options.engine);
    this.router = this.engineImpl.createRouter();
    this.reporter = options.reporter;
    const lifecycle = profileLifecycle(engineImpl(options.engine).profile);
    this.reapsInFlush = lifecycle.reapsInFlush;
    this.cleanupTimerWanted = !lifecycle.reapsInFlush || options.cleanupIntervalMs !== undefined;
    this.flushIntervalMs = positiveMs("flushIntervalMs", options.flushIntervalMs, lifecycle.flushIntervalMs);
    this.cleanupIntervalMs = positiveMs("cleanupIntervalMs", options.cleanupIntervalMs, 60_000);
    this.closeWaitMs = positiveMs("closeWaitMs", options.closeWaitMs, 180_000);
    this.now = options.now ?? systemClock;
    this.userNow = options.now;
    this.logger = options.logger ?? silentLogger;
    // fail at construction, not at the first join, on a bad reporter or clock
    checkReporter(options.reporter);
    if (options.now !== undefined && typeof options.now !== "function") throw new ArgumentError("invalid now: expected a function returning a Date");
  }

  /** Number of registered workers, closed ones awaiting reaping included. */
  get workerCount(): number {
    return this.count;
  }

  private workerOptions(roomId: string, roomName: string, participantId: string, identity: string): ServiceWorkerOptions {
    return {
      engine: this.engine,
      reporter: this.reporter,
      roomId,
      roomName,
      participantId,
      participantIdentity: identity,
      // without a user clock, workers read Date.now() and make no Date per window
      ...(this.userNow === undefined ? {} : { now: this.userNow }),
      logger: this.logger,
      counters: this.counters,
      [ROUTER]: this.router,
    };
  }

  private worker(roomId: string, participantId: string): StatsWorker | undefined {
    const last = this.lastWorker;
    if (last !== undefined && last.participantId === participantId && last.roomId === roomId) return last;
    const worker = this.rooms.get(roomId)?.get(participantId);
    if (worker !== undefined) this.lastWorker = worker;
    return worker;
  }

  /**
   * Creates the participant's worker (T1). A join for an open worker keeps it; a join for a
   * closed one replaces it (Q2).
   */
  participantJoined(room: { sid: string; name: string }, participant: { sid: string; identity: string }): void {
    if (this.stopped) throw new ArgumentError("telemetry service is stopped", "closed");
    if (room === null || typeof room !== "object" || typeof room.sid !== "string" || typeof room.name !== "string") {
      throw new ArgumentError("invalid room: expected { sid: string, name: string }");
    }
    if (
      participant === null ||
      typeof participant !== "object" ||
      typeof participant.sid !== "string" ||
      typeof participant.identity !== "string"
    ) {
      throw new ArgumentError("invalid participant: expected { sid: string, identity: string }");
    }
    const existing = this.worker(room.sid, participant.sid);
    if (existing !== undefined && existing.closedAt === undefined) return;
    const worker = new StatsWorker(this.workerOptions(room.sid, room.name, participant.sid, participant.identity));
    let participants = this.rooms.get(room.sid);
    if (participants === undefined) {
      participants = new Map();
      this.rooms.set(room.sid, participants);
    }
    if (existing === undefined) this.count++;
    else {
      // Q2: the closed worker it replaces is reaped now; its room details move to the new one.
      // What it still holds (livekit-current buffers after close) is reported first.
      this.updateWorker(existing);
      this.closedWorkers.delete(existing);
      existing.dispose();
      if (this.lastWorker === existing) this.lastWorker = undefined;
    }
    participants.set(participant.sid, worker);
    this.byParticipant.set(participant.sid, worker);
  }

  /**
   * Closes the participant's worker (R4) and keeps it registered until reaped, so that
   * `roomDetails()` still answers for late track events (T2).
   */
  participantLeft(roomId: string, participantId: string): void {
    const worker = this.worker(roomId, participantId);
    if (worker === undefined) return;
    worker.close();
    this.closedWorkers.add(worker);
  }

  /**
   * Hands one stat to the participant's worker (T3), as an object or as one encoded
   * `AnalyticsStat`. With no worker, or after `stop()`, the stat is dropped and counted.
   *
   * @throws DecodeError / LimitError for malformed or over-limit bytes (nothing is kept)
   */
  trackStats(
    roomId: string,
    participantId: string,
    trackId: string,
    direction: StreamType,
    stat: AnalyticsStatInput | Uint8Array,
  ): void {
    const worker = this.stopped ? undefined : this.worker(roomId, participantId);
    if (worker === undefined) {
      this.counters.dropped++;
      this.logger.debug("telemetry dropping stat without worker", { roomId, participantId, trackId });
      return;
    }
    if (stat instanceof Uint8Array) worker.onTrackStatBytes(trackId, direction, stat);
    else worker.onTrackStat(trackId, direction, stat);
  }

  /**
   * Ingests one buffer of size-delimited `AnalyticsStat` messages (a varint length before each),
   * each routed by its own `room_id`, `participant_id`, `track_id` and `kind`.
   *
   * A malformed or over-limit message is skipped and counted, the rest of the batch is ingested,
   * and then a DecodeError (or LimitError) for the first bad message is thrown. A broken length
   * prefix ends the batch there: the messages before it are kept.
   */
  ingestBatch(bytes: Uint8Array): void {
    this.applyBatch(this.routeBatch(bytes, undefined));
  }

  /**
   * @internal A replay's ingestBatch: takes messages only up to where `window` says to stop
   * (see BatchWindow) and returns how far it got; counted and logged as ingestBatch does.
   */
  [INGEST_WINDOW](bytes: Uint8Array, window: BatchWindow): BatchResult {
    const r = this.routeBatch(bytes, window);
    this.applyBatch(r);
    return r;
  }

  /** @internal whether the participant's worker holds stats for its next flush */
  [HAS_PENDING](roomId: string, participantId: string): boolean {
    return this.worker(roomId, participantId)?.[PENDING] === true;
  }

  private routeBatch(bytes: Uint8Array, window: BatchWindow | undefined): BatchResult {
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError("invalid batch: expected a Uint8Array");
    const bound = this.engineImpl.bounds.maxBatchBytes;
    if (bytes.length > bound) throw limitError.batchTooLarge(bound);
    // the engine's router frames, decodes and routes every message: one call for the whole batch
    return this.router.ingest(bytes, this.stopped, window);
  }

  private applyBatch(r: BatchResult): void {
    const c = this.counters;
    c.statsIn += r.statsIn;
    c.invalid += r.invalid;
    c.dropped += r.dropped;
    c.malformed += r.malformed;
    c.refused += r.refused;
    for (const t of r.invalidTracks) this.logger.warn("telemetry skipping invalid stat", t);
    if (r.invalid > r.invalidTracks.length) {
      this.logger.warn("telemetry skipping invalid stats", { count: r.invalid - r.invalidTracks.length });
    }
    if (r.error !== undefined) throw r.error;
  }

  /** Room id and name of the participant's newest worker, also after it left (T2). */
  roomDetails(participantId: string): RoomDetails | undefined {
    const worker = this.byParticipant.get(participantId);
    return worker === undefined ? undefined : { roomId: worker.roomId, roomName: worker.roomName };
  }

  /**
   * Runs `update()` on every worker now: what the flush timer does (T4). In the
   * `"livekit-current"` profile it then reaps the workers closed for more than `closeWaitMs`
   * before this flush began (Go `FlushStats`): their last window is still reported.
   */
  flush(): void {
    const reapAtMs = this.reapsInFlush ? this.clockMs() : undefined;
    // forEach with callbacks made once: unlike for-of, no iterator object per room
    this.rooms.forEach(this.updateRoom);
    if (reapAtMs !== undefined) this.reap(reapAtMs);
  }

  // a worker that throws (a broken clock) must not stop the others or escape a timer
  private readonly updateWorker = (worker: StatsWorker): void => {
    try {
      worker.update();
    } catch (err) {
      this.logger.error("telemetry flush failed", { participantId: worker.participantId, error: err });
    }
  };

  private readonly updateRoom = (participants: Map<string, StatsWorker>): void => participants.forEach(this.updateWorker);

  /** Removes workers closed for more than `closeWaitMs` now: what the cleanup timer does (T4). */
  cleanupWorkers(): void {
    this.reap(this.now().getTime());
  }

  // flush() runs from a timer: a clock that throws is logged, and then nothing is reaped
  private clockMs(): number {
    try {
      return this.now().getTime();
    } catch (err) {
      this.logger.error("telemetry clock failed", { error: err });
      return Number.NaN;
    }
  }

  private reap(now: number): void {
    // a broken clock reaps nothing rather than everything; only closed workers are walked, and
    // with none (the steady state of a livekit-current flush) nothing is allocated
    if (!Number.isFinite(now) || this.closedWorkers.size === 0) return;
    for (const worker of this.closedWorkers) {
      const closedAt = worker.closedAt;
      if (closedAt === undefined || now - closedAt.getTime() <= this.closeWaitMs) continue;
      this.closedWorkers.delete(worker);
      const { roomId, participantId } = worker;
      const participants = this.rooms.get(roomId);
      // Q2: only this very worker is removed, never a newer one under the same key
      if (participants?.get(participantId) !== worker) continue;
      participants.delete(participantId);
      if (participants.size === 0) this.rooms.delete(roomId);
      this.count--;
      if (this.byParticipant.get(participantId) === worker) this.byParticipant.delete(participantId);
      if (this.lastWorker === worker) this.lastWorker = undefined;
      // livekit-current buffers after close: what the worker still holds is reported, never lost
      this.updateWorker(worker);
      worker.dispose();
      this.logger.debug("reaping analytics worker", { roomId, participantId });
    }
  }

  /**
   * Starts the flush and cleanup timers (T4); in the `"livekit-current"` profile only the flush
   * timer, unless `cleanupIntervalMs` was given. They never keep a Node process alive.
   */
  start(): void {
    if (this.stopped) throw new ArgumentError("telemetry service is stopped", "closed");
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setInterval(() => this.flush(), this.flushIntervalMs);
    if (this.cleanupTimerWanted) this.cleanupTimer = setInterval(() => this.cleanupWorkers(), this.cleanupIntervalMs);
    // unref exists in Node and Deno, not in browsers
    (this.flushTimer as { unref?: () => void }).unref?.();
    (this.cleanupTimer as { unref?: () => void } | undefined)?.unref?.();
  }

  /**
   * Stops the timers, flushes every open worker once (T5) and gives back everything the engine
   * holds for this service's workers; then waits for the reporter's `flush()`, if it has one, for
   * at most `deadlineMs`. The reporter is not closed: it may serve other services. Later stats are
   * dropped and counted. A reporter whose flush rejects is logged and counted, never thrown.
   *
   * @param deadlineMs how long to wait for the reporter, in milliseconds; default 10 000;
   *   `Infinity` waits as long as it takes
   * @throws ArgumentError when `deadlineMs` is not a number >= 0
   */
  async stop(deadlineMs: number = DEFAULT_CLOSE_DEADLINE_MS): Promise<void> {
    checkDeadline(deadlineMs);
    if (this.flushTimer !== undefined) clearInterval(this.flushTimer);
    if (this.cleanupTimer !== undefined) clearInterval(this.cleanupTimer);
    this.flushTimer = this.cleanupTimer = undefined;
    if (!this.stopped) {
      this.stopped = true;
      this.flush();
      this.releaseWorkers();
    }
    const reporter = this.reporter as { flush?: () => unknown };
    if (typeof reporter.flush !== "function") return;
    let flushed: unknown;
    try {
      flushed = reporter.flush();
    } catch (err) {
      return this.reporterFlushFailed(err);
    }
    const inTime = await settleWithin(Promise.resolve(flushed), deadlineMs, (err) => this.reporterFlushFailed(err));
    if (!inTime) this.logger.warn("telemetry reporter flush still running at the stop deadline", { deadlineMs });
  }

  /** `await using service = new TelemetryService(...)` stops it (default deadline) at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  private reporterFlushFailed(err: unknown): void {
    this.counters.reporterErrors++;
    this.logger.error("telemetry reporter flush failed", { error: err });
  }

  // stop(): every worker's engine memory goes back at once; nothing can reach them any more
  private releaseWorkers(): void {
    this.rooms.forEach((participants) => participants.forEach((worker) => worker.dispose()));
    this.rooms.clear();
    this.byParticipant.clear();
    this.closedWorkers.clear();
    this.lastWorker = undefined;
    this.count = 0;
  }
}
