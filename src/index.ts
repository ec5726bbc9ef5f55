/**
 * statsworker-wasm: LiveKit's StatsWorker telemetry aggregation for Node.js and browsers,
 * with the hot path in WebAssembly.
 *
 * @module
 */
export {
  StreamType,
  StreamTypeSchema,
  AnalyticsStatSchema,
  AnalyticsStreamSchema,
  AnalyticsVideoLayerSchema,
  AnalyticsStatsSchema,
  file_livekit_livekit_analytics,
} from "./gen/livekit/livekit_analytics_pb.ts";
export type {
  AnalyticsStat,
  AnalyticsStream,
  AnalyticsVideoLayer,
  AnalyticsStats,
} from "./gen/livekit/livekit_analytics_pb.ts";
export type { Engine, EngineKind, EngineOptions } from "./engine/engine.ts";
export type {
  AnalyticsStatInput,
  AnalyticsStreamInput,
  AnalyticsVideoLayerInput,
  TimestampInput,
} from "./engine/read-stat.ts";
export { loadEngine } from "./engine/load-engine.ts";
export { PROFILES, DEFAULT_PROFILE, isProfile, type Profile, type ProfileLifecycle } from "./engine/profile.ts";
export { StatsWorker, type StatsWorkerOptions } from "./stats-worker.ts";
export { TelemetryService, type TelemetryServiceOptions, type RoomDetails } from "./telemetry-service.ts";
export type { StampedBatch, TelemetryReporter } from "./reporter.ts";
export type { TelemetryCounters } from "./counters.ts";
export { silentLogger, type Logger } from "./logger.ts";
export { LIMITS, DEFAULT_BOUNDS, type EngineBounds } from "./limits.ts";
export {
  DecodeError,
  LimitError,
  ArgumentError,
  WasmError,
  isDecodeError,
  isLimitError,
  isArgumentError,
  isWasmError,
  type DecodeErrorCode,
  type LimitErrorCode,
  type ArgumentErrorCode,
  type WasmErrorCode,
} from "./errors.ts";
export {
  callbackReporter,
  NdjsonReporter,
  HttpReporter,
  newStatId,
  DEFAULT_CLOSE_DEADLINE_MS,
  type CallbackReporter,
  type NdjsonSink,
  type NdjsonReporterOptions,
  type HttpReporterOptions,
  type HttpReporterFormat,
  type FetchFunction,
  type ReporterCounters,
  OtlpReporter,
  type OtlpReporterOptions,
  type OtlpFormat,
  DeliveryQueue,
  DeliveryError,
  isDeliveryError,
  type DeliveryOptions,
  type DeliveryTransport,
  type QueuedBatch,
  NetworkReporter,
  type NetworkReporterOptions,
  stampBatch,
  concatBatches,
  type StampOptions,
} from "./reporters/index.ts";
export {
  RtcStatsCollector,
  type RtcStatsCollectorOptions,
  type RtcStatsCollectorCounters,
  type RtcStatsSample,
  type RtcStatsReportLike,
  type RtcStreamInfo,
} from "./sources/rtc-stats-collector.ts";
export { QualityScorer, packetLossWeight, packetScore, scoreToMos, MAX_MOS, MIN_MOS, type QualityScorerOptions, type QualityWindow } from "./sources/connection-quality.ts";
