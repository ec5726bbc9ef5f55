// Field numbers of livekit_analytics.proto (package livekit) and google.protobuf.Timestamp:
// the names the decoder dispatches on and the encoder builds its tags from.

// AnalyticsStats
// @ts-ignore: decorator
@inline export const STATS_STATS: u32 = 1;

// AnalyticsStat
// @ts-ignore: decorator
@inline export const STAT_ANALYTICS_KEY: u32 = 1;
// @ts-ignore: decorator
@inline export const STAT_KIND: u32 = 2;
// @ts-ignore: decorator
@inline export const STAT_TIME_STAMP: u32 = 3;
// @ts-ignore: decorator
@inline export const STAT_NODE: u32 = 4;
// @ts-ignore: decorator
@inline export const STAT_ROOM_ID: u32 = 5;
// @ts-ignore: decorator
@inline export const STAT_ROOM_NAME: u32 = 6;
// @ts-ignore: decorator
@inline export const STAT_PARTICIPANT_ID: u32 = 7;
// @ts-ignore: decorator
@inline export const STAT_TRACK_ID: u32 = 8;
// @ts-ignore: decorator
@inline export const STAT_SCORE: u32 = 9;
// @ts-ignore: decorator
@inline export const STAT_STREAMS: u32 = 10;
// @ts-ignore: decorator
@inline export const STAT_MIME: u32 = 11;
// @ts-ignore: decorator
@inline export const STAT_MIN_SCORE: u32 = 12;
// @ts-ignore: decorator
@inline export const STAT_MEDIAN_SCORE: u32 = 13;
// @ts-ignore: decorator
@inline export const STAT_ID: u32 = 14;

// AnalyticsStream
// @ts-ignore: decorator
@inline export const STREAM_SSRC: u32 = 1;
// @ts-ignore: decorator
@inline export const STREAM_PRIMARY_PACKETS: u32 = 2;
// @ts-ignore: decorator
@inline export const STREAM_PRIMARY_BYTES: u32 = 3;
// @ts-ignore: decorator
@inline export const STREAM_RETRANSMIT_PACKETS: u32 = 4;
// @ts-ignore: decorator
@inline export const STREAM_RETRANSMIT_BYTES: u32 = 5;
// @ts-ignore: decorator
@inline export const STREAM_PADDING_PACKETS: u32 = 6;
// @ts-ignore: decorator
@inline export const STREAM_PADDING_BYTES: u32 = 7;
// @ts-ignore: decorator
@inline export const STREAM_PACKETS_LOST: u32 = 8;
// @ts-ignore: decorator
@inline export const STREAM_FRAMES: u32 = 9;
// @ts-ignore: decorator
@inline export const STREAM_RTT: u32 = 10;
// @ts-ignore: decorator
@inline export const STREAM_JITTER: u32 = 11;
// @ts-ignore: decorator
@inline export const STREAM_NACKS: u32 = 12;
// @ts-ignore: decorator
@inline export const STREAM_PLIS: u32 = 13;
// @ts-ignore: decorator
@inline export const STREAM_FIRS: u32 = 14;
// @ts-ignore: decorator
@inline export const STREAM_VIDEO_LAYERS: u32 = 15;
// @ts-ignore: decorator
@inline export const STREAM_START_TIME: u32 = 17;
// @ts-ignore: decorator
@inline export const STREAM_END_TIME: u32 = 18;
// @ts-ignore: decorator
@inline export const STREAM_PACKETS_OUT_OF_ORDER: u32 = 19;

// AnalyticsVideoLayer
// @ts-ignore: decorator
@inline export const LAYER_LAYER: u32 = 1;
// @ts-ignore: decorator
@inline export const LAYER_PACKETS: u32 = 2;
// @ts-ignore: decorator
@inline export const LAYER_BYTES: u32 = 3;
// @ts-ignore: decorator
@inline export const LAYER_FRAMES: u32 = 4;

// google.protobuf.Timestamp
// @ts-ignore: decorator
@inline export const TIMESTAMP_SECONDS: u32 = 1;
// @ts-ignore: decorator
@inline export const TIMESTAMP_NANOS: u32 = 2;
