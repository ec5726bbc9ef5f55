import { ArgumentError, LimitError } from "./errors.ts";
import type { AnalyticsStat } from "./gen/livekit/livekit_analytics_pb.ts";

/**
 * Documented bounds on one incoming `AnalyticsStat`, applied identically by both engines.
 *
 * A stat over a bound is rejected whole with a {@link LimitError}. Real SFUs send 1-3 streams per
 * track (RTX and FEC streams included) and at most 3 simulcast layers per stream, so the bounds
 * are generous while keeping one stat's scratch record small and fixed.
 */
export const LIMITS = {
  /** most streams one stat may carry (entries of `AnalyticsStat.streams`) */
  maxStreamsPerStat: 64,
  /** most video layers one stream may carry (entries of `AnalyticsStream.videoLayers`) */
  maxLayersPerStream: 32,
  /** largest encoded size of one `AnalyticsStat` given as bytes, in bytes (1 MiB) */
  maxMessageBytes: 1 << 20,
  /**
   * most positive scores one track's window may hold in the `"livekit-current"` profile, whose
   * `median_score` needs all of them (4 bytes each); a further stat with a positive score is
   * rejected with a LimitError (code `"too_many_scores"`) until the window is drained
   */
  maxScoresPerWindow: 1024,
} as const;

/**
 * Bounds on what one participant or one service can make an engine hold, so that nobody can fill
 * the memory that the others share. A new track over a bound is refused (a `LimitError` for a
 * single call, `counters.refused` for a batch member); tracks that exist are never affected.
 * A track is held from its first stat until the end of the first window in which it had none,
 * or until its worker closes. Set them with `loadEngine(kind, { bounds })`.
 */
export interface EngineBounds {
  /** most tracks (both directions) one worker holds; default 4096 (a subscriber to a large room has a few hundred) */
  maxTracksPerWorker: number;
  /** most tracks all the workers of one TelemetryService hold; default 1 048 576 */
  maxTracksPerService: number;
  /** most bytes of track ids (UTF-8) one worker holds; default 1 MiB */
  maxIdBytesPerWorker: number;
  /** largest buffer one `ingestBatch` takes, in bytes; default 64 MiB */
  maxBatchBytes: number;
}

/** The default {@link EngineBounds}. */
export const DEFAULT_BOUNDS: Readonly<EngineBounds> = Object.freeze({
  maxTracksPerWorker: 4096,
  maxTracksPerService: 1 << 20,
  maxIdBytesPerWorker: 1 << 20,
  maxBatchBytes: 64 << 20,
});

/** Merges `bounds` over the defaults; throws an ArgumentError for a value that is not an integer in [1, 2^32). */
export function resolveBounds(bounds: Partial<EngineBounds> | undefined): Readonly<EngineBounds> {
  if (bounds === undefined) return DEFAULT_BOUNDS;
  if (bounds === null || typeof bounds !== "object") throw new ArgumentError("invalid bounds: expected an object");
  const out = { ...DEFAULT_BOUNDS };
  for (const key of Object.keys(DEFAULT_BOUNDS) as (keyof EngineBounds)[]) {
    const v = bounds[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v >= 2 ** 32) throw new ArgumentError(`invalid bounds.${key}: ${String(v)}`);
    out[key] = v;
  }
  return Object.freeze(out);
}

/** What the engine could not find memory for: the end of an out-of-memory error's message. */
export type OutOfMemoryWhat =
  | "take an id"
  | "take the message"
  | "take a batch"
  | "add a worker"
  | "add a track"
  | "drain the window"
  | "encode the window";

/**
 * The LimitErrors, one factory per code, so that both engines and every path that refuses an input
 * over a bound say it in the same words.
 */
export const limitError = {
  /** a stat with more than `LIMITS.maxStreamsPerStat` streams */
  tooManyStreams: (): LimitError =>
    new LimitError("too_many_streams", LIMITS.maxStreamsPerStat, `stat has more than ${LIMITS.maxStreamsPerStat} streams`),
  /** a stream with more than `LIMITS.maxLayersPerStream` video layers */
  tooManyLayers: (): LimitError =>
    new LimitError("too_many_layers", LIMITS.maxLayersPerStream, `a stream has more than ${LIMITS.maxLayersPerStream} video layers`),
  /** an encoded stat of more than `LIMITS.maxMessageBytes` bytes */
  messageTooLarge: (): LimitError =>
    new LimitError("message_too_large", LIMITS.maxMessageBytes, `message is larger than ${LIMITS.maxMessageBytes} bytes`),
  /** a new track would make its worker hold more than `maxTracksPerWorker` tracks */
  tooManyTracks: (bound: number): LimitError =>
    new LimitError("too_many_tracks", bound, `worker holds ${bound} tracks, the most it may`),
  /** a new track would make its service hold more than `maxTracksPerService` tracks */
  tooManyServiceTracks: (bound: number): LimitError =>
    new LimitError("too_many_service_tracks", bound, `service holds ${bound} tracks, the most it may`),
  /** a new track's id would make its worker hold more than `maxIdBytesPerWorker` bytes of ids */
  tooManyIdBytes: (bound: number): LimitError =>
    new LimitError("too_many_id_bytes", bound, `worker would hold more than ${bound} bytes of track ids`),
  /** an `ingestBatch` buffer larger than `maxBatchBytes` */
  batchTooLarge: (bound: number): LimitError =>
    new LimitError("batch_too_large", bound, `batch is larger than ${bound} bytes`),
  /** the engine's memory is exhausted (its maximum reached); `what` it could not do */
  outOfMemory: (what: OutOfMemoryWhat): LimitError =>
    new LimitError("out_of_memory", 0, `engine memory exhausted: cannot ${what}`),
} as const;

/**
 * Throws a {@link LimitError} when `stat` carries more streams or layers than {@link LIMITS}.
 *
 * Both engines call it on every stat object before reading it, so they reject the same inputs.
 */
export function checkLimits(stat: AnalyticsStat): void {
  const streams = stat.streams;
  if (streams.length > LIMITS.maxStreamsPerStat) throw limitError.tooManyStreams();
  for (let i = 0; i < streams.length; i++) {
    if (streams[i]!.videoLayers.length > LIMITS.maxLayersPerStream) throw limitError.tooManyLayers();
  }
}
