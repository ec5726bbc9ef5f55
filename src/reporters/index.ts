/**
 * The reporters shipped with statsworker-wasm: where a StatsWorker's batches go.
 *
 * @module
 */
export { callbackReporter, type CallbackReporter } from "./callback-reporter.ts";
export type { ReporterCounters } from "./counters.ts";
export {
  DEFAULT_CLOSE_DEADLINE_MS,
  HttpReporter,
  newStatId,
  type FetchFunction,
  type HttpReporterFormat,
  type HttpReporterOptions,
} from "./http-reporter.ts";
export { NdjsonReporter, type NdjsonReporterOptions, type NdjsonSink } from "./ndjson-reporter.ts";
