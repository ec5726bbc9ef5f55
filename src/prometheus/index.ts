/**
 * statsworker-wasm/prometheus: a TelemetryService's counters, and its reporters', as
 * Prometheus metrics on `prom-client` (an optional peer dependency).
 *
 * @module
 */
export {
  registerTelemetryMetrics,
  type CountingReporter,
  type TelemetryMetricsOptions,
} from "./register-telemetry-metrics.ts";
