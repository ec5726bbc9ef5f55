/**
 * The engine interface: the rules of `coalesce` and `isValid` (docs/rules.md R6-R12, Q1), and the
 * per-worker track tables that StatsWorker folds stats into.
 *
 * @module
 */
import type { AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import type { Logger } from "../logger.ts";
import type { AnalyticsStatInput } from "./read-stat.ts";
import type { EngineBounds } from "../limits.ts";
import { ArgumentError } from "../errors.ts";
import type { Profile } from "./profile.ts";

/** Which implementation of the rules: WebAssembly (`"wasm"`) or pure TypeScript (`"ts"`). */
export type EngineKind = "wasm" | "ts";

/**
 * An implementation of LiveKit's coalescing rules. Both kinds give identical results for every
 * input: the same numbers, the same float32 bits, the same layer.
 */
export interface Engine {
  readonly kind: EngineKind;
  /** Which generation of LiveKit's rules it follows; workers and services made with it follow it too. */
  readonly profile: Profile;
  /**
   * Coalesces one track's stats into one stat (Go `coalesce`, R6-R12): `undefined` for an empty
   * list, else a new `AnalyticsStat` with only `score` and one stream (ssrc 0). Invalid stats are
   * skipped and logged. Throws a `LimitError` for a stat over `LIMITS`.
   */
  coalesce(stats: readonly AnalyticsStatInput[]): AnalyticsStat | undefined;
  /** Go `isValid` (R7): false when a counter of a stream or layer has its sign bit set. */
  isValid(stat: AnalyticsStatInput): boolean;
  /**
   * Gives back everything the engine holds (the wasm engine: its instance and linear memory, which
   * a JS object graph would otherwise keep until every worker and service of it is collected).
   * Every later call on the engine, or on a worker or service made with it, throws a `WasmError`
   * with code `"disposed"`. The ts engine holds nothing: for it this is a no-op.
   */
  dispose(): void;
}

/** @internal What an engine holds right now, for tests and the bounds suite. */
export interface EngineUsage {
  /** bytes of linear memory (wasm), 0 for the ts engine */
  memoryBytes: number;
  /** track slots in use (wasm), -1 where the engine does not count them */
  slots: number;
  /** bytes of the engine heap's free blocks, reusable by any size (wasm), 0 elsewhere */
  heapFreeBytes: number;
}

/** Options of {@link loadEngine}. */
export interface EngineOptions {
  /** where `coalesce` logs skipped invalid stats; default: silent */
  logger?: Logger;
  /** what one participant or one service may make the engine hold; default `DEFAULT_BOUNDS` */
  bounds?: Partial<EngineBounds>;
  /** the rules to follow: `"livekit-v1.2"` (the 2022 reference) or `"livekit-current"`; default `"livekit-v1.2"` */
  profile?: Profile;
}

/** Which bucket a stat goes to: 0 UPSTREAM, 1 DOWNSTREAM (R1). */
export type Bucket = 0 | 1;

/** The worker a track table belongs to: what R3 patches into every result. */
export interface TrackIdentity {
  readonly roomId: string;
  readonly roomName: string;
  readonly participantId: string;
  /** the node of a stamping reporter: written into every result `drainBytes` encodes */
  readonly node?: string;
}

/**
 * One window's results, encoded as one `AnalyticsStats` message and lent to the caller until
 * `release()`: the bytes may be engine memory, which no drain overwrites while they are lent.
 * @internal
 */
export interface BytesLease {
  /** the encoded `AnalyticsStats`; valid until `release()` */
  readonly bytes: Uint8Array;
  /** how many stats it holds */
  readonly count: number;
  /** whether each stat carries the identity's node (when it has one) and a new unique id */
  readonly stamped: boolean;
  /** gives the bytes back; the lease must not be used after */
  release(): void;
}

/** @internal A lease of bytes that nobody else holds: releasing it is a no-op. */
export function ownedLease(bytes: Uint8Array, count: number, stamped: boolean): BytesLease {
  return { bytes, count, stamped, release: noop };
}

function noop(): void {}

/**
 * One worker's window: for each (bucket, track), the stats received since the last drain.
 * @internal
 */
export interface TrackTable {
  /** Takes one stat object; returns false when it is invalid (R7) and was only counted. */
  add(trackId: string, bucket: Bucket, stat: AnalyticsStatInput): boolean;
  /**
   * Takes one encoded `AnalyticsStat`; returns false when it is invalid. Throws `DecodeError` or
   * `LimitError` and keeps nothing of the message when it is malformed or over a bound.
   */
  addBytes(trackId: string, bucket: Bucket, bytes: Uint8Array): boolean;
  /** Whether any stat arrived since the last drain (batches included). */
  readonly pending: boolean;
  /**
   * Ends the window: appends one patched result per track to `out` (R3, time stamp `timeMs`),
   * every UPSTREAM result before every DOWNSTREAM one (R2), and starts an empty window before
   * returning.
   */
  drain(timeMs: number, out: AnalyticsStat[]): void;
  /**
   * Like `drain`, but lends the results encoded; undefined when there are none. With `stamp`
   * every result also gets the identity's node (when it has one) and a new `AS_` id, as a
   * network reporter sends it (the lease says whether it did).
   */
  drainBytes(timeMs: number, stamp?: boolean): BytesLease | undefined;
  /** The worker closed: drops the window; routed batch stats for it now count as dropped (R5). */
  close(): void;
  /** The worker is gone (reaped): gives everything back; the table is unusable after. */
  dispose(): void;
}

/** What one `ingestBatch` did. @internal */
export interface BatchResult {
  statsIn: number;
  invalid: number;
  dropped: number;
  malformed: number;
  /** well-formed stats refused because their new track would pass a bound */
  refused: number;
  /** the first bad message's error (a DecodeError placed by `inBatch`, or a LimitError) */
  error: Error | undefined;
  /** up to {@link MAX_INVALID_LISTED} of the invalid stats, for logging */
  invalidTracks: { participantId: string; trackId: string; direction: Bucket }[];
  /** messages framed; windowed: messages taken */
  messages: number;
  /** windowed: of those, messages whose time stamp is before `lateBeforeMs` */
  late: number;
  /** windowed: bytes taken, the offset of the message the batch stopped before (or its length) */
  taken: number;
}

/**
 * Where a windowed ingest stops (times in ms since the epoch, a time stamp being
 * `seconds * 1000 + floor(nanos / 1e6)`): before the first message that is not well-formed and
 * within bounds, lacks room_id, participant_id, track_id or time_stamp, has a time outside
 * `[fromMs, untilMs)`, has no open worker, or has a new track that a bound refuses. Nothing is
 * counted for that message: it is the caller's (a replay) to look at. @internal
 */
export interface BatchWindow {
  readonly fromMs: number;
  readonly untilMs: number;
  /** messages taken with a time before this are counted as late */
  readonly lateBeforeMs: number;
}

/** How many invalid stats one `ingestBatch` lists by track for the log; the rest are counted. */
export const MAX_INVALID_LISTED = 64;

/**
 * Routes size-delimited batches to the workers of one TelemetryService: one per service, and
 * every track table made with it can be reached by its (room id, participant id).
 * @internal
 */
export interface BatchRouter {
  /**
   * Ingests one batch; with `dropAll` every well-formed message is counted as dropped. With a
   * `window`, only up to where {@link BatchWindow} says to stop.
   */
  ingest(bytes: Uint8Array, dropAll: boolean, window?: BatchWindow): BatchResult;
}

/** @internal What loadEngine returns: the public Engine plus what StatsWorker needs. */
export interface EngineImpl extends Engine {
  /** A new, empty track table for one worker; with `router`, batches can reach it. */
  createTrackTable(identity: TrackIdentity, router?: BatchRouter): TrackTable;
  /** A batch router for one TelemetryService. */
  createRouter(): BatchRouter;
  /** What the engine holds right now. */
  usage(): EngineUsage;
  /** The bounds it was made with. */
  readonly bounds: Readonly<EngineBounds>;
}

/** @internal Narrows a public Engine to the implementation StatsWorker needs. */
export function engineImpl(engine: Engine): EngineImpl {
  const impl = engine as Partial<EngineImpl> | null | undefined;
  if (impl === null || typeof impl !== "object" || typeof impl.createTrackTable !== "function") {
    throw new ArgumentError(`invalid engine: ${String((engine as Engine | undefined)?.kind ?? engine)} was not made by loadEngine()`);
  }
  return engine as EngineImpl;
}
