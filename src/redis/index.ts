/**
 * `statsworker-wasm/redis`: a fleet of SFU nodes fanning in through a Redis stream. Node only
 * (it opens TCP connections), so it is kept out of the main entry and browser bundles stay clean.
 *
 * @module
 */
export {
  StreamCollector,
  DEFAULT_STOP_DEADLINE_MS,
  type StreamCollectorOptions,
  type CollectorCounters,
  type CollectorSink,
} from "./stream-collector.ts";
export { STATS_FIELD } from "./stream-entry.ts";
export { RedisStreamReporter, type RedisStreamReporterOptions } from "./redis-stream-reporter.ts";
