import { create, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import { ArgumentError } from "../errors.ts";
import { type AnalyticsStat, AnalyticsStatsSchema } from "../gen/livekit/livekit_analytics_pb.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { TelemetryReporter } from "../reporter.ts";
import { newReporterCounters, type ReporterCounters } from "./counters.ts";
import { DEFAULT_CLOSE_DEADLINE_MS } from "./delivery.ts";
import { newStatId } from "./stat-id.ts";

/** The `fetch` the HTTP reporter calls: the platform's by default, or one injected for tests. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** How a batch is encoded in the request body. */
export type HttpReporterFormat = "protobuf" | "json";

/** Options of {@link HttpReporter}. */
export interface HttpReporterOptions {
  /** Endpoint every batch is POSTed to. Required. */
  url: string | URL;
  /**
   * Body encoding: `"protobuf"` sends one binary `AnalyticsStats` message with
   * `content-type: application/x-protobuf`; `"json"` sends it as proto3 JSON
   * (`{"stats":[...]}`, lowerCamelCase names) with `content-type: application/json`.
   * Default: `"protobuf"`.
   */
  format?: HttpReporterFormat;
  /**
   * Node name stamped into `node` of every stat, as LiveKit's `SendStats` does.
   * Default: none, each stat's `node` is sent as it is (`""` for StatsWorker output).
   */
  node?: string;
  /**
   * Extra request headers (authorization, for instance), or a function returning them, called
   * for every attempt so a rotating token is picked up on retries. They override the reporter's
   * own `content-type`. Default: none.
   */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** The `fetch` to call. Default: `globalThis.fetch` (Node >= 18, browsers). */
  fetch?: FetchFunction;
  /**
   * Abort one attempt after this long, in milliseconds; a timeout is retried. `Infinity` turns
   * the timeout off. Default: `10_000`.
   */
  requestTimeoutMs?: number;
  /**
   * Upper bound of the first retry delay, in milliseconds; it doubles on every further failed
   * attempt of the same batch, and each delay is drawn uniformly from [0, bound) ("full jitter").
   * Default: `100`.
   */
  initialRetryDelayMs?: number;
  /**
   * Cap on any retry delay, in milliseconds, the server's `Retry-After` included.
   * Default: `30_000`.
   */
  maxRetryDelayMs?: number;
  /**
   * Attempts per batch, the first included, before the batch is dropped as a failure.
   * Default: `Infinity`: a batch is retried until delivered, evicted by the queue bound, or
   * dropped by the `close()` deadline, so nothing within the bound is lost to an outage.
   */
  maxAttempts?: number;
  /**
   * Most batches held in memory, the one being sent included. When a new batch would exceed it,
   * the oldest batch is dropped (counted and logged); the batch whose request is in flight is
   * never the one dropped, the next oldest is. Default: `1000`. Must be at least 1.
   */
  maxQueuedBatches?: number;
  /**
   * Most encoded request-body bytes held in memory, the batch being sent included. Oldest batches
   * are dropped to make room; a single batch larger than this is dropped at once.
   * Default: `64 * 1024 * 1024` (64 MiB).
   */
  maxQueuedBytes?: number;
  /** Where drops, failures and endpoint state changes are logged. Default: {@link silentLogger}. */
  logger?: Logger;
}


interface Batch {
  readonly body: Uint8Array<ArrayBuffer>;
  readonly stats: number;
  attempts: number;
  inFlight: boolean;
}

type Outcome =
  | { readonly kind: "sent" }
  | { readonly kind: "retry"; readonly reason: string; readonly retryAfterMs: number | undefined }
  | { readonly kind: "fail"; readonly reason: string };

type Timer = ReturnType<typeof setTimeout>;

// Longer delays overflow setTimeout's 32-bit field and fire after 1 ms, in Node and browsers.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A reporter that POSTs every batch to an HTTP endpoint, in the spirit of LiveKit's analytics
 * `SendStats`, and loses nothing within a documented memory bound.
 *
 * Each batch is one request whose body is one `AnalyticsStats` message. Before queueing, every
 * stat gets `node` (when the option is set) and, when it has none, a unique `id` (`"AS_"` and 12
 * base62 characters): ids are stamped once, so a retried request carries the same ids and the
 * receiver can drop duplicates (a request that timed out may still have been processed).
 *
 * Delivery is in order, one request at a time. Network errors, timeouts, 408, 429 and 5xx are
 * retried with exponential backoff and full jitter, honouring `Retry-After`; any other non-2xx
 * status drops the batch as a failure. `report()` and `reportBytes()` never throw and return at
 * once. Timers never keep a Node process alive on their own, except while a `flush()` or
 * `close()` promise is pending, so a script that awaits one does not exit early.
 */
export class HttpReporter implements TelemetryReporter {
  readonly #url: string;
  readonly #format: HttpReporterFormat;
  readonly #node: string | undefined;
  readonly #headers: Record<string, string> | (() => Record<string, string>);
  readonly #fetch: FetchFunction;
  readonly #requestTimeoutMs: number;
  readonly #initialRetryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #maxAttempts: number;
  readonly #maxQueuedBatches: number;
  readonly #maxQueuedBytes: number;
  readonly #logger: Logger;
  readonly #counters = newReporterCounters();
  readonly #queue: Batch[] = [];
  #queuedBytes = 0;
  #running = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #flushWaiters: Array<() => void> = [];
  #backoff: { timer: Timer; wake: () => void } | undefined;
  #request: AbortController | undefined;
  #failedAttempts = 0;
  #overflowDrops = 0;
  #refusals = 0;

  /**
   * @param options see {@link HttpReporterOptions}; `url` is required
   * @throws {ArgumentError} on a missing url, a bad format, a bound below 1, a negative delay,
   *   or when no `fetch` is available
   */
  constructor(options: HttpReporterOptions) {
    if (typeof options?.url !== "string" && !(options?.url instanceof URL)) {
      throw new ArgumentError("http reporter needs a url");
    }
    this.#url = String(options.url);
    const format = options.format ?? "protobuf";
    if (format !== "protobuf" && format !== "json") {
      throw new ArgumentError(`unknown http reporter format ${JSON.stringify(format)}`);
    }
    this.#format = format;
    this.#node = options.node;
    this.#headers = options.headers ?? {};
    const fetchFn = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (typeof fetchFn !== "function") {
      throw new ArgumentError("no fetch available: pass options.fetch");
    }
    this.#fetch = fetchFn;
    this.#requestTimeoutMs = atLeast("requestTimeoutMs", options.requestTimeoutMs ?? 10_000, 1);
    this.#initialRetryDelayMs = atLeast("initialRetryDelayMs", options.initialRetryDelayMs ?? 100, 0);
    this.#maxRetryDelayMs = atLeast("maxRetryDelayMs", options.maxRetryDelayMs ?? 30_000, 0);
    this.#maxAttempts = atLeast("maxAttempts", options.maxAttempts ?? Infinity, 1);
    this.#maxQueuedBatches = atLeast("maxQueuedBatches", options.maxQueuedBatches ?? 1000, 1);
    this.#maxQueuedBytes = atLeast("maxQueuedBytes", options.maxQueuedBytes ?? 64 * 1024 * 1024, 1);
    this.#logger = options.logger ?? silentLogger;
  }

  /** A snapshot of the delivery counters, fresh on every read; `queued` includes the batch in flight. */
  get counters(): ReporterCounters {
    return { ...this.#counters, queued: this.#queue.length };
  }

  /** Stamps and queues the batch for delivery and returns at once. Never throws. */
  report(stats: AnalyticsStat[]): void {
    this.#counters.batches++;
    if (!Array.isArray(stats)) {
      this.#drop(0, true);
      this.#logger.error("http reporter got a batch that is not an array, dropped", { type: typeof stats });
      return;
    }
    this.#counters.stats += stats.length;
    this.#accept(stats);
  }

  /**
   * Decodes one encoded `AnalyticsStats` message, stamps it and queues it as {@link report} does.
   * The buffer is read during the call only. Undecodable bytes are dropped, counted as a failure
   * and logged. Never throws.
   */
  reportBytes(batch: Uint8Array): void {
    this.#counters.batches++;
    let stats: AnalyticsStat[];
    try {
      // Decoding copies everything out of `batch` (the schema has no bytes fields), which is
      // what makes keeping the result past this call safe.
      stats = fromBinary(AnalyticsStatsSchema, batch).stats;
    } catch (err) {
      this.#drop(0, true);
      this.#logger.error("cannot decode AnalyticsStats batch", { error: String(err) });
      return;
    }
    this.#counters.stats += stats.length;
    this.#accept(stats);
  }

  /**
   * Resolves once the queue is empty: every batch accepted so far delivered or dropped.
   * With the default `maxAttempts` this waits for as long as the endpoint is failing; use
   * {@link close} with a deadline to bound the wait.
   */
  flush(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#flushWaiters.push(resolve);
      this.#backoff?.timer.ref?.();
    });
  }

  /**
   * Stops accepting batches (later ones are dropped and counted), keeps delivering what is
   * queued for up to `deadlineMs`, then aborts the request in flight and drops the rest
   * (counted and logged). Resolves when the queue is empty. Calling it again returns the first
   * call's promise.
   *
   * @param deadlineMs how long to keep trying, in milliseconds; `Infinity` waits as long as
   *   {@link flush} does. Default: `10_000` ({@link DEFAULT_CLOSE_DEADLINE_MS}).
   */
  close(deadlineMs: number = DEFAULT_CLOSE_DEADLINE_MS): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise<void>((resolve) => {
      if (this.#queue.length === 0) {
        resolve();
        return;
      }
      // Referenced on purpose: whoever closes wants delivery attempted until the deadline.
      const timer =
        deadlineMs < MAX_TIMER_MS
          ? setTimeout(() => this.#abandon("close deadline passed"), Math.max(0, deadlineMs))
          : undefined;
      this.#flushWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#backoff?.timer.ref?.();
    });
    return this.#closing;
  }

  #accept(stats: AnalyticsStat[]): void {
    if (this.#closed) {
      this.#drop(stats.length, false);
      // Warn on the first only: a host that keeps reporting after close() would flood the log.
      const level = this.#refusals++ === 0 ? "warn" : "debug";
      this.#logger[level]("http reporter is closed, batch dropped", { stats: stats.length });
      return;
    }
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = this.#encode(stats);
    } catch (err) {
      this.#drop(stats.length, true);
      this.#logger.error("cannot encode AnalyticsStats batch", { error: String(err) });
      return;
    }
    this.#enqueue({ body, stats: stats.length, attempts: 0, inFlight: false });
    this.#kick();
  }

  #encode(stats: readonly AnalyticsStat[]): Uint8Array<ArrayBuffer> {
    // Stamp copies: the caller's stats are left as they were.
    const stamped = stats.map((stat) => ({
      ...stat,
      node: this.#node ?? stat.node,
      id: stat.id !== "" ? stat.id : newStatId(),
    }));
    const message = create(AnalyticsStatsSchema, { stats: stamped });
    if (this.#format === "json") {
      return new TextEncoder().encode(toJsonString(AnalyticsStatsSchema, message));
    }
    return toBinary(AnalyticsStatsSchema, message);
  }

  #enqueue(batch: Batch): void {
    if (batch.body.byteLength > this.#maxQueuedBytes) {
      this.#drop(batch.stats, false);
      this.#logger.warn("http batch larger than the queue bound dropped", {
        bytes: batch.body.byteLength,
        maxQueuedBytes: this.#maxQueuedBytes,
      });
      return;
    }
    while (
      this.#queue.length >= this.#maxQueuedBatches ||
      this.#queuedBytes + batch.body.byteLength > this.#maxQueuedBytes
    ) {
      // The batch in flight cannot be taken back (the server may already hold it), so the
      // next oldest goes instead; with nothing else queued, the new batch itself is dropped.
      const index = this.#queue[0]?.inFlight === true ? 1 : 0;
      const victim = this.#queue[index];
      const dropped = victim ?? batch;
      if (victim !== undefined) {
        this.#queue.splice(index, 1);
        this.#queuedBytes -= victim.body.byteLength;
        // The head was waiting out a backoff: wake the sender so it moves on to the new head.
        if (index === 0) this.#wakeBackoff();
      }
      this.#drop(dropped.stats, false);
      // Log once per overflow episode, not per batch: a dead endpoint would flood the log.
      if (this.#overflowDrops++ === 0) {
        this.#logger.warn("http queue full, dropping oldest batches", {
          maxQueuedBatches: this.#maxQueuedBatches,
          maxQueuedBytes: this.#maxQueuedBytes,
        });
      }
      if (victim === undefined) return;
    }
    this.#queue.push(batch);
    this.#queuedBytes += batch.body.byteLength;
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    this.#run().catch((err: unknown) => {
      // #run handles every expected failure; reaching here is a bug, and it must not surface as
      // an unhandled rejection in the host.
      this.#running = false;
      this.#logger.error("http reporter sender stopped unexpectedly", { error: String(err) });
    });
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue[0]!;
      batch.attempts++;
      batch.inFlight = true;
      const outcome = await this.#attempt(batch);
      batch.inFlight = false;
      // The close deadline may have dropped the batch while its request was in flight.
      if (this.#queue[0] !== batch) continue;
      if (outcome.kind === "sent") {
        this.#remove(batch);
        this.#counters.sent++;
        this.#counters.sentStats += batch.stats;
        this.#counters.requests++;
        this.#counters.bytesSent += batch.body.byteLength;
        if (this.#failedAttempts > 0) {
          this.#logger.info("http endpoint recovered", { failedAttempts: this.#failedAttempts });
          this.#failedAttempts = 0;
        }
        continue;
      }
      if (outcome.kind === "fail") {
        this.#remove(batch);
        this.#drop(batch.stats, true);
        this.#logger.error("http endpoint rejected a batch, dropped", {
          reason: outcome.reason,
          stats: batch.stats,
        });
        continue;
      }
      if (this.#failedAttempts++ === 0) {
        this.#logger.warn("http endpoint failing, retrying", { reason: outcome.reason, url: this.#url });
      } else {
        this.#logger.debug("http attempt failed", { reason: outcome.reason, attempts: batch.attempts });
      }
      if (batch.attempts >= this.#maxAttempts) {
        this.#remove(batch);
        this.#drop(batch.stats, true);
        this.#logger.error("http batch dropped after its last attempt", {
          reason: outcome.reason,
          attempts: batch.attempts,
          stats: batch.stats,
        });
        continue;
      }
      await this.#sleep(this.#retryDelay(batch.attempts, outcome.retryAfterMs));
      // After the wait the head may have changed (evicted by the bound or the close deadline);
      // a retry is counted only when the same batch is attempted again.
      if (this.#queue[0] === batch) this.#counters.retries++;
    }
    this.#running = false;
  }

  async #attempt(batch: Batch): Promise<Outcome> {
    const controller = new AbortController();
    this.#request = controller;
    let timedOut = false;
    const timer =
      this.#requestTimeoutMs < MAX_TIMER_MS
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, this.#requestTimeoutMs)
        : undefined;
    // The request's socket keeps the process alive while it matters; the timer need not.
    timer?.unref?.();
    try {
      // Headers compares names case-insensitively, so a user's "Content-Type" replaces ours
      // instead of being sent next to it.
      const headers = new Headers(typeof this.#headers === "function" ? this.#headers() : this.#headers);
      if (!headers.has("content-type")) {
        headers.set("content-type", this.#format === "json" ? "application/json" : "application/x-protobuf");
      }
      const response = await this.#fetch(this.#url, {
        method: "POST",
        headers,
        body: batch.body,
        signal: controller.signal,
      });
      const status = response.status;
      // Read the body to the end so the connection can be reused; keep a little for the log.
      const text = await response.text().catch(() => "");
      if (status >= 200 && status < 300) return { kind: "sent" };
      const reason = `status ${status}${text === "" ? "" : `: ${text.slice(0, 200)}`}`;
      if (status === 408 || status === 429 || status >= 500) {
        return { kind: "retry", reason, retryAfterMs: parseRetryAfter(response.headers.get("retry-after")) };
      }
      return { kind: "fail", reason };
    } catch (err) {
      const reason = timedOut ? `timed out after ${this.#requestTimeoutMs} ms` : describeError(err);
      return { kind: "retry", reason, retryAfterMs: undefined };
    } finally {
      clearTimeout(timer);
      this.#request = undefined;
    }
  }

  #retryDelay(attempts: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.#maxRetryDelayMs);
    // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): spreads the retries
    // of many reporters hitting one recovering endpoint instead of synchronising them.
    const bound = Math.min(this.#maxRetryDelayMs, this.#initialRetryDelayMs * 2 ** Math.min(attempts - 1, 52));
    return Math.random() * bound;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#backoff = undefined;
        resolve();
      };
      const timer = setTimeout(wake, Math.min(ms, MAX_TIMER_MS));
      // Idle retries must not keep a host process alive, unless someone awaits delivery.
      if (this.#flushWaiters.length === 0) timer.unref?.();
      this.#backoff = { timer, wake };
    });
  }

  #wakeBackoff(): void {
    this.#backoff?.wake();
  }

  #abandon(reason: string): void {
    const lost = this.#queue.length;
    const lostStats = this.#queue.reduce((n, b) => n + b.stats, 0);
    for (const batch of this.#queue.splice(0)) this.#drop(batch.stats, false);
    this.#queuedBytes = 0;
    this.#request?.abort();
    this.#wakeBackoff();
    if (lost > 0) this.#logger.warn("http batches dropped", { reason, batches: lost, stats: lostStats });
    this.#settle();
  }

  #remove(batch: Batch): void {
    this.#queue.shift();
    this.#queuedBytes -= batch.body.byteLength;
    this.#settle();
  }

  #drop(stats: number, failure: boolean): void {
    this.#counters.dropped++;
    this.#counters.droppedStats += stats;
    if (failure) this.#counters.failures++;
  }

  #settle(): void {
    if (this.#queue.length > 0) return;
    if (this.#overflowDrops > 0) {
      this.#logger.info("http queue drained", { droppedWhileFull: this.#overflowDrops });
      this.#overflowDrops = 0;
    }
    for (const resolve of this.#flushWaiters.splice(0)) resolve();
  }
}

function atLeast(name: string, value: number, min: number): number {
  if (typeof value !== "number" || !(value >= min)) {
    throw new ArgumentError(`${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Node's fetch wraps the socket error ("fetch failed"); its cause names what happened.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}

/**
 * Parses an HTTP `Retry-After` value into milliseconds from now.
 *
 * Accepts delay-seconds (`"120"`) and an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`); a date in
 * the past gives 0. Returns `undefined` for a missing or unparsable value.
 *
 * @param now the current time in epoch milliseconds. Default: `Date.now()`.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // All three HTTP-date forms (RFC 9110 5.6.7) start with a day name; Date.parse alone would
  // also take "-5" or "2015" as dates.
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
