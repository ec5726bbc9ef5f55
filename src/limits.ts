import { LimitError } from "./errors.ts";
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
} as const;

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
