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
  /**
   * most positive scores one track's window may hold in the `"livekit-current"` profile, whose
   * `median_score` needs all of them (4 bytes each); a further stat with a positive score is
   * rejected with a LimitError (code `"too_many_scores"`) until the window is drained
   */
  maxScoresPerWindow: 1024,
} as const;

/**
 * Throws a {@link LimitError} when `stat` carries more streams or layers than {@link LIMITS}.
 *
 * Both engines call it on every stat object before reading it, so they reject the same inputs.
 */
export function checkLimits(stat: AnalyticsStat): void {
  const streams = stat.streams;
  if (streams.length > LIMITS.maxStreamsPerStat) {
    throw new LimitError(
      "too_many_streams",
      LIMITS.maxStreamsPerStat,
      `stat has ${streams.length} streams, more than the limit of ${LIMITS.maxStreamsPerStat}`,
    );
  }
  for (let i = 0; i < streams.length; i++) {
    const layers = streams[i]!.videoLayers.length;
    if (layers > LIMITS.maxLayersPerStream) {
      throw new LimitError(
        "too_many_layers",
        LIMITS.maxLayersPerStream,
        `stream ${i} has ${layers} video layers, more than the limit of ${LIMITS.maxLayersPerStream}`,
      );
    }
  }
}
