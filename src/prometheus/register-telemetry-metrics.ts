import { Counter, Gauge, Registry } from "prom-client";
import type { TelemetryCounters } from "../counters.ts";
import { ArgumentError } from "../errors.ts";
import type { ReporterCounters } from "../reporters/counters.ts";
import type { TelemetryService } from "../telemetry-service.ts";

/** Anything whose delivery counters can be exported: every reporter of this package. */
export interface CountingReporter {
  /** a snapshot of the reporter's counters, read on every scrape */
  readonly counters: ReporterCounters | Readonly<Record<string, number>>;
}

/** Options of {@link registerTelemetryMetrics}. */
export interface TelemetryMetricsOptions {
  /**
   * The prom-client registry to add the metrics to, for instance prom-client's global
   * `register`. Default: a new `Registry`.
   */
  registry?: Registry;
  /**
   * Prepended to every metric name; a Prometheus name prefix (letters, digits, `_` and `:`, not
   * starting with a digit), or `""`. Default: `"statsworker_"`.
   */
  prefix?: string;
  /**
   * Reporters whose delivery counters are exported too, keyed by the value of their `reporter`
   * label, for instance `{ grpc: grpcReporter, http: httpReporter }`. The metric set is taken
   * from their counters at registration: a count is a counter named
   * `<prefix>reporter_<snake_case>_total`, and a field whose name starts with `queued` (a
   * current depth, not a total) is a gauge named `<prefix>reporter_<snake_case>`.
   * Default: none.
   */
  reporters?: Readonly<Record<string, CountingReporter>>;
}

// The help text of each TelemetryCounters field, after its doc comment in src/counters.ts.
// Partial on purpose: a field added there still gets a metric (with a generic help text, which a
// test catches) instead of breaking the build.
const TELEMETRY_COUNTER_HELP: Readonly<Partial<Record<keyof TelemetryCounters, string>>> = {
  statsIn: "Stats accepted into a flush window (objects and bytes, invalid ones included).",
  invalid: "Accepted stats that failed validation: skipped by coalescing, counted in the score divisor.",
  dropped: "Stats refused without an error: sent to a closed worker, to no worker, or after stop().",
  malformed: "Encoded stats refused with a DecodeError or a LimitError about the message.",
  refused: "Stats refused because their new track would pass a bound of the engine.",
  statsOut: "Coalesced stats handed to the reporter.",
  reports: "Calls of the reporter's report or reportBytes.",
  reporterErrors: "Reporter calls that threw (caught and logged).",
};

const REPORTER_COUNTER_HELP: Readonly<Record<string, string>> = {
  batches: "Batches handed to the reporter, including ones later dropped.",
  stats: "Stats in the batches handed to the reporter.",
  sent: "Batches delivered (acknowledged by the destination).",
  sentStats: "Stats in the delivered batches.",
  bytesSent: "Bytes delivered.",
  requests: "Sends acknowledged by the receiver (HTTP requests, Redis commands, gRPC streams).",
  retries: "Delivery attempts repeated after a retryable failure.",
  dropped: "Batches discarded without delivery, for any reason.",
  droppedStats: "Stats in the dropped batches.",
  failures: "Batches dropped because of an error.",
  queued: "Batches waiting in memory now, the one in flight included.",
};

const PREFIX = /^(?:[A-Za-z_:][A-Za-z0-9_:]*)?$/;

/** `statsIn` -> `stats_in`, `bytesSent` -> `bytes_sent`. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Registers a service's counters (and, optionally, its reporters') as Prometheus metrics and
 * returns the registry it used.
 *
 * Every `TelemetryCounters` field becomes a counter `<prefix><snake_case>_total` (for example
 * `statsworker_stats_in_total`), and the number of registered workers a gauge `<prefix>workers`.
 * Values are read from the service when the registry is scraped, so nothing runs between
 * scrapes. Reporters given in `options.reporters` add `<prefix>reporter_*` metrics labelled
 * `reporter`.
 *
 * @throws {ArgumentError} on a service without counters, a bad prefix, a reporter without
 *   counters, or a name already registered in the registry (nothing is registered then)
 */
export function registerTelemetryMetrics(
  service: Pick<TelemetryService, "counters" | "workerCount">,
  options: TelemetryMetricsOptions = {},
): Registry {
  if (typeof service?.counters !== "object" || service.counters === null) {
    throw new ArgumentError("registerTelemetryMetrics needs a TelemetryService (an object with counters)");
  }
  const prefix = options.prefix ?? "statsworker_";
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new ArgumentError(`invalid metric prefix ${JSON.stringify(prefix)}`);
  }
  const registry = options.registry ?? new Registry();
  const reporters = Object.entries(options.reporters ?? {});
  for (const [name, reporter] of reporters) {
    if (typeof reporter?.counters !== "object" || reporter.counters === null) {
      throw new ArgumentError(`reporter ${JSON.stringify(name)} has no counters`);
    }
  }

  const counterKeys = Object.keys(service.counters) as (keyof TelemetryCounters)[];
  const reporterKeys = [...new Set(reporters.flatMap(([, r]) => Object.keys(r.counters)))];
  const names = [
    ...counterKeys.map((key) => `${prefix}${snakeCase(key)}_total`),
    `${prefix}workers`,
    ...reporterKeys.map((key) => reporterMetricName(prefix, key)),
  ];
  // Check every name before creating any metric, so a clash leaves the registry as it was.
  for (const name of names) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new ArgumentError(`metric ${name} is already registered; pass another prefix or registry`);
    }
  }

  for (const key of counterKeys) {
    new Counter({
      name: `${prefix}${snakeCase(key)}_total`,
      help: TELEMETRY_COUNTER_HELP[key] ?? `TelemetryCounters.${key}.`,
      registers: [registry],
      collect() {
        // The service keeps the running total; mirror it rather than count twice.
        this.reset();
        this.inc(nonNegative(service.counters[key]));
      },
    });
  }
  new Gauge({
    name: `${prefix}workers`,
    help: "Workers registered in the service, closed ones awaiting reaping included.",
    registers: [registry],
    collect() {
      this.set(service.workerCount);
    },
  });

  for (const key of reporterKeys) {
    const help = REPORTER_COUNTER_HELP[key] ?? `Reporter counter ${key}.`;
    const read = (reporter: CountingReporter): number | undefined =>
      (reporter.counters as Readonly<Record<string, number>>)[key];
    if (key.startsWith("queued")) {
      new Gauge({
        name: reporterMetricName(prefix, key),
        help,
        labelNames: ["reporter"],
        registers: [registry],
        collect() {
          this.reset();
          for (const [name, reporter] of reporters) {
            const value = read(reporter);
            if (typeof value === "number") this.set({ reporter: name }, value);
          }
        },
      });
    } else {
      new Counter({
        name: reporterMetricName(prefix, key),
        help,
        labelNames: ["reporter"],
        registers: [registry],
        collect() {
          this.reset();
          for (const [name, reporter] of reporters) {
            const value = read(reporter);
            if (typeof value === "number") this.inc({ reporter: name }, nonNegative(value));
          }
        },
      });
    }
  }
  return registry;
}

function reporterMetricName(prefix: string, key: string): string {
  return key.startsWith("queued") ? `${prefix}reporter_${snakeCase(key)}` : `${prefix}reporter_${snakeCase(key)}_total`;
}

// prom-client throws on a negative increment; a count is never negative, but a scrape must not fail.
function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
