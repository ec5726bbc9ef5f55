import { create, toBinary } from "@bufbuild/protobuf";
import { AnalyticsStatsSchema, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";

/** Encodes a batch as one `AnalyticsStats` message with protobuf-es (the object-path encoder). */
export function encodeBatch(stats: AnalyticsStat[]): Uint8Array {
  return toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats }));
}
