/**
 * statsworker-wasm/grpc (Node only): LiveKit's `AnalyticsRecorderService/IngestStats` over
 * `@grpc/grpc-js`, for sending coalesced stats to a LiveKit-compatible analytics recorder and
 * for receiving them.
 *
 * @module
 */
export {
  analyticsRecorderServiceDefinition,
  INGEST_STATS_PATH,
  type IngestStatsMethod,
} from "./service.ts";
export {
  ingestStatsHandler,
  type IngestStatsContext,
  type IngestStatsHandlerOptions,
  type IngestStatsImplementation,
} from "./receiver.ts";
export {
  AnalyticsRecorderReporter,
  type AnalyticsRecorderReporterOptions,
  type MetadataOption,
} from "./analytics-recorder-reporter.ts";
