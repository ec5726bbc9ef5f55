/**
 * The reporters shipped with statsworker-wasm: where a StatsWorker's batches go.
 *
 * @module
 */
export { callbackReporter, type CallbackReporter } from "./callback-reporter.ts";
export type { ReporterCounters } from "./counters.ts";
export {
  checkDeadline,
  DEFAULT_CLOSE_DEADLINE_MS,
  DeliveryError,
  type DeliveryErrorCode,
  type DeliveryErrorOptions,
  type DeliveryOptions,
  DeliveryQueue,
  type DeliveryTransport,
  isDeliveryError,
  type QueuedBatch,
} from "./delivery.ts";
export { type FetchFunction, type HeadersOption, parseRetryAfter } from "./http-post.ts";
export { HttpReporter, type HttpReporterFormat, type HttpReporterOptions } from "./http-reporter.ts";
export { NdjsonReporter, type NdjsonReporterOptions, type NdjsonSink } from "./ndjson-reporter.ts";
export { NetworkReporter, type NetworkReporterOptions } from "./network-reporter.ts";
export {
  OTLP_EVENT_NAME,
  OTLP_SCOPE_NAME,
  otlpLogsRequest,
  type OtlpAttributeValue,
  type OtlpFormat,
  OtlpReporter,
  type OtlpReporterOptions,
} from "./otlp-reporter.ts";
export { concatBatches, stampBatch, type StampedBatch, type StampOptions } from "./stamp.ts";
export { newStatId, STAT_ID_LENGTH, writeStatIdInto } from "./stat-id.ts";
