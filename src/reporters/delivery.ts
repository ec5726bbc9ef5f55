/**
 * The delivery core shared by every network reporter (HTTP, OTLP, Redis Streams, gRPC).
 *
 * A reporter stamps each batch it is handed (see `stamp.ts`) and pushes the bytes into a
 * {@link DeliveryQueue}; the queue decides when to send what, and a {@link DeliveryTransport}
 * written for the protocol does the sending. The queue owns everything that is not protocol:
 *
 * - **Bounds.** Batches wait in memory bounded in batches, bytes and stats, counting the batches
 *   being sent. When a new batch does not fit, the oldest waiting batches are dropped (counted in
 *   `dropped`, logged once per overflow episode); batches being sent are never the ones dropped,
 *   and when nothing else can make room the new batch is dropped instead.
 * - **Coalescing.** One send carries as many queued batches as fit in `maxGroupBytes` /
 *   `maxGroupStats` / `maxGroupBatches`, oldest first. After the first batch arrives, the queue
 *   waits up to `lingerMs` for more before sending, so the batches of every worker of one flush
 *   window go out together; `flush()` and `close()` skip the wait. A single batch over the group
 *   bound is sent alone.
 * - **Order and retries.** One send is in flight at a time; batches are sent in the order they
 *   were pushed. A failed send is retried with exponential backoff and full jitter, never sooner
 *   than `minRetryDelayMs`, whatever a server's `Retry-After` says; the backoff belongs to the
 *   endpoint (consecutive failures), so new batches do not reset it. A permanent failure of a
 *   group of several batches sends them again one by one, so one bad batch cannot take the
 *   others with it; a permanent failure of a single batch drops it.
 * - **Lifecycle.** `flush()` resolves when every batch pushed so far is delivered or dropped;
 *   `close(deadlineMs)` stops accepting batches and resolves by its deadline, whatever the
 *   transport does: at the deadline the send in flight is aborted and what is left is dropped and
 *   counted. Idle timers never keep a Node process alive; while a `flush()` or `close()` is
 *   pending they do.
 * - **Counters**: {@link ReporterCounters}, with `batches === sent + dropped + queued`.
 *
 * The module imports no Node built-in: it runs in browsers too.
 *
 * @module
 */
import { checkDeadline, DEFAULT_CLOSE_DEADLINE_MS } from "../deadline.ts";
import { ArgumentError } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { newReporterCounters, type ReporterCounters } from "./counters.ts";

/** One batch waiting in, or being sent by, a {@link DeliveryQueue}. */
export interface QueuedBatch {
  /** the stamped bytes: one encoded `AnalyticsStats` message (owned by the queue; do not modify) */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** number of stats in `bytes` */
  readonly stats: number;
  /**
   * number of reported batches the bytes hold (a reporter may stamp several into one buffer; the
   * counters count reported batches)
   */
  readonly batches: number;
  /** sends of this batch started so far, the current one included (1 on the first send) */
  readonly attempts: number;
}

/**
 * What a network reporter implements for its protocol: sending one group of batches.
 *
 * The queue calls `send` with at most one group at a time, in order. Resolving means the group was
 * delivered (acknowledged by the receiver); the value, when a number, is the bytes that went on
 * the wire (counted in `bytesSent`; default: the sum of the batches' bytes). Rejecting with a
 * {@link DeliveryError} says whether to retry and how soon (`permanent`, `retryAfterMs`); any
 * other rejection or throw is retried. The concatenation of the group's `bytes` is one valid
 * `AnalyticsStats` ({@link concatBatches}), or the transport may send them separately.
 *
 * `signal` aborts when the attempt times out (`attemptTimeoutMs`) or the `close()` deadline
 * passes; the queue stops waiting for `send` at that moment whether or not it settles, so a
 * transport that hangs cannot hold the queue. `close`, when present, is called once, after the
 * queue is done (drained or past its deadline), to release connections; the queue waits for it
 * only until the `close()` deadline.
 */
export interface DeliveryTransport {
  send(group: readonly QueuedBatch[], signal: AbortSignal): Promise<number | void>;
  close?(): Promise<void> | void;
  /**
   * Called once for each batch the queue is done with (delivered, dropped or evicted), so its
   * bytes can be reused; never for a batch one of whose sends was aborted (timed out, or cut off
   * by the `close()` deadline), since such a send may still be reading them. A `send` must not
   * read a group's bytes after its promise settles. Default: nothing.
   */
  release?(batch: QueuedBatch): void;
}

/** Why a send failed, as a {@link DeliveryError} says it. */
export type DeliveryErrorCode =
  /** the receiver refused the data itself (HTTP 4xx other than 408/429): retrying cannot help */
  | "rejected"
  /** the receiver or the network failed; worth retrying */
  | "unavailable"
  /** the attempt took longer than `attemptTimeoutMs` */
  | "timeout";

/** Options of {@link DeliveryError}. */
export interface DeliveryErrorOptions {
  /** `true` when retrying cannot help (code `"rejected"`). Default: `false`. */
  permanent?: boolean;
  /**
   * How long the receiver asked to wait before the next attempt, in milliseconds (HTTP
   * `Retry-After`, a gRPC retry hint). Still at least `minRetryDelayMs`, at most
   * `maxRetryDelayMs`. Default: none.
   */
  retryAfterMs?: number | undefined;
  /** The underlying error. Default: none. */
  cause?: unknown;
  /** Overrides the code derived from `permanent`. Default: `"rejected"` or `"unavailable"`. */
  code?: DeliveryErrorCode;
}

/** A failed send, as a transport reports it to the {@link DeliveryQueue}. */
export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
  readonly code: DeliveryErrorCode;
  /** `true` when the group must not be retried */
  readonly permanent: boolean;
  /** the receiver's requested wait in milliseconds, if it gave one */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: DeliveryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.permanent = options.permanent ?? false;
    this.code = options.code ?? (this.permanent ? "rejected" : "unavailable");
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Reports whether `err` is a {@link DeliveryError}, also one from another copy of this package. */
export function isDeliveryError(err: unknown): err is DeliveryError {
  return err instanceof Error && err.name === "DeliveryError";
}

/** Options of {@link DeliveryQueue}; every bound must be at least 1, every delay at least 0. */
export interface DeliveryOptions {
  /**
   * Most batches held, the ones being sent included. Default: `100_000` (a W3 window of
   * 10 000 workers is 10 000 batches).
   */
  maxQueuedBatches?: number;
  /** Most stamped bytes held, the ones being sent included. Default: `64 * 1024 * 1024` (64 MiB). */
  maxQueuedBytes?: number;
  /** Most stats held, the ones being sent included. Default: `1_000_000`. */
  maxQueuedStats?: number;
  /** Most bytes of batches in one send (a single larger batch goes alone). Default: `4 * 1024 * 1024`. */
  maxGroupBytes?: number;
  /** Most stats in one send. Default: `Infinity`. */
  maxGroupStats?: number;
  /** Most batches in one send. Default: `Infinity`. */
  maxGroupBatches?: number;
  /**
   * How long the first batch waits for others to join its send, in milliseconds. `0` still
   * waits for the current turn of the event loop to end, so batches reported together are sent
   * together. Default: `10`.
   */
  lingerMs?: number;
  /**
   * Abort one send after this long, in milliseconds, and retry it. `Infinity` turns the
   * timeout off. Default: `10_000`.
   */
  attemptTimeoutMs?: number;
  /**
   * Upper bound of the first retry delay, in milliseconds; it doubles after every further
   * consecutive failure, and each delay is drawn uniformly below it ("full jitter").
   * Default: `100`.
   */
  initialRetryDelayMs?: number;
  /**
   * Shortest delay before any retry, in milliseconds, whatever the jitter draws or the
   * receiver's `Retry-After` says (0 or a past date cannot cause a retry storm).
   * Default: `50`, or `maxRetryDelayMs` when that is smaller.
   */
  minRetryDelayMs?: number;
  /**
   * Longest delay before any retry, `Retry-After` included, in milliseconds; at least
   * `minRetryDelayMs`. Default: `30_000`.
   */
  maxRetryDelayMs?: number;
  /**
   * Sends of one batch, the first included, before it is dropped as a failure.
   * Default: `Infinity`: a batch is retried until delivered, evicted by a bound, or dropped by the
   * `close()` deadline, so nothing within the bounds is lost to an outage.
   */
  maxAttempts?: number;
  /** Where drops, failures and endpoint state changes are logged. Default: {@link silentLogger}. */
  logger?: Logger;
}

/**
 * Checks a numeric option: a number, not NaN, at least `min` (`Infinity` allowed).
 *
 * @throws {ArgumentError} naming the option and the bad value
 */
export function checkOption(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !(value >= min)) {
    throw new ArgumentError(`${name} must be a number >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/**
 * Describes a thrown value in one line for a log, naming the cause of a wrapped error (Node's
 * `fetch` says only "fetch failed"; its cause says what happened).
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}

class Entry implements QueuedBatch {
  attempts = 0;
  /** set once the batch is sent or dropped, so a late outcome of an aborted send counts nothing */
  settled = false;
  /** send alone: its group was refused permanently, so each member is tried by itself */
  solo = false;
  /** a send of it was aborted and may still read its bytes: they are never released for reuse */
  tainted = false;
  constructor(
    readonly bytes: Uint8Array<ArrayBuffer>,
    readonly stats: number,
    readonly batches: number,
  ) {}
}

type Outcome =
  | { readonly kind: "sent"; readonly bytes: number }
  | { readonly kind: "retry"; readonly reason: string; readonly retryAfterMs: number | undefined }
  | { readonly kind: "fail"; readonly reason: string };

type Timer = ReturnType<typeof setTimeout>;

// Longer delays overflow setTimeout's 32-bit field and fire after 1 ms, in Node and browsers.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A bounded, coalescing, retrying, in-order queue of encoded batches in front of one
 * {@link DeliveryTransport}; see the module documentation for its guarantees.
 */
export class DeliveryQueue {
  readonly #name: string;
  readonly #transport: DeliveryTransport;
  readonly #maxQueuedBatches: number;
  readonly #maxQueuedBytes: number;
  readonly #maxQueuedStats: number;
  readonly #maxGroupBytes: number;
  readonly #maxGroupStats: number;
  readonly #maxGroupBatches: number;
  readonly #lingerMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #initialRetryDelayMs: number;
  readonly #minRetryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #maxAttempts: number;
  readonly #logger: Logger;
  readonly #counters = newReporterCounters();
  // Waiting batches, oldest first, from #head on; a head index instead of shift() keeps taking a
  // group O(group), not O(queue).
  #queue: Entry[] = [];
  #head = 0;
  #inFlight: Entry[] = [];
  #heldBytes = 0;
  #heldStats = 0;
  #heldBatches = 0;
  #running = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #urgent = 0; // pending flush() / close() calls: skip the linger, keep timers referenced
  #waiters: Array<() => void> = [];
  #sleep: { timer: Timer | undefined; wake: () => void; linger: boolean } | undefined;
  #controller: AbortController | undefined;
  #attemptTimer: Timer | undefined;
  #consecutiveFailures = 0;
  #overflowDrops = 0;
  #refusals = 0;

  /**
   * @param name the protocol, as it appears in log messages (`"http"`, `"redis"`)
   * @param transport sends the groups
   * @param options see {@link DeliveryOptions}
   * @throws {ArgumentError} on a bound below 1 or a negative delay
   */
  constructor(name: string, transport: DeliveryTransport, options: DeliveryOptions = {}) {
    if (typeof transport?.send !== "function") throw new ArgumentError("delivery transport needs a send() method");
    this.#name = name;
    this.#transport = transport;
    this.#maxQueuedBatches = checkOption("maxQueuedBatches", options.maxQueuedBatches ?? 100_000, 1);
    this.#maxQueuedBytes = checkOption("maxQueuedBytes", options.maxQueuedBytes ?? 64 * 1024 * 1024, 1);
    this.#maxQueuedStats = checkOption("maxQueuedStats", options.maxQueuedStats ?? 1_000_000, 1);
    this.#maxGroupBytes = checkOption("maxGroupBytes", options.maxGroupBytes ?? 4 * 1024 * 1024, 1);
    this.#maxGroupStats = checkOption("maxGroupStats", options.maxGroupStats ?? Infinity, 1);
    this.#maxGroupBatches = checkOption("maxGroupBatches", options.maxGroupBatches ?? Infinity, 1);
    this.#lingerMs = checkOption("lingerMs", options.lingerMs ?? 10, 0);
    this.#attemptTimeoutMs = checkOption("attemptTimeoutMs", options.attemptTimeoutMs ?? 10_000, 1);
    this.#initialRetryDelayMs = checkOption("initialRetryDelayMs", options.initialRetryDelayMs ?? 100, 0);
    this.#maxRetryDelayMs = checkOption("maxRetryDelayMs", options.maxRetryDelayMs ?? 30_000, 0);
    this.#minRetryDelayMs = checkOption("minRetryDelayMs", options.minRetryDelayMs ?? Math.min(50, this.#maxRetryDelayMs), 0);
    this.#maxAttempts = checkOption("maxAttempts", options.maxAttempts ?? Infinity, 1);
    if (this.#minRetryDelayMs > this.#maxRetryDelayMs) {
      throw new ArgumentError(
        `minRetryDelayMs ${this.#minRetryDelayMs} must not exceed maxRetryDelayMs ${this.#maxRetryDelayMs}`,
      );
    }
    this.#logger = options.logger ?? silentLogger;
  }

  /** A snapshot of the delivery counters, fresh on every read; `queued` includes the batches being sent. */
  get counters(): ReporterCounters {
    return { ...this.#counters, queued: this.#heldBatches };
  }

  /**
   * The largest unit a reporter should {@link push} as one entry, in bytes, stats and batches:
   * at most one group (so a unit is never a send the queue would have split) and at most an
   * eighth of each queue bound, at least 1. Entries are dropped whole, so a unit over a queue
   * bound would be lost whole even to a healthy endpoint, and one near it would take most of
   * the queue with it when evicted; an eighth keeps what an eviction drops beyond what it must
   * below an eighth of the queue. With the defaults this is one group (4 MiB).
   */
  get unitBounds(): { readonly bytes: number; readonly stats: number; readonly batches: number } {
    const eighth = (bound: number): number => Math.max(1, Math.floor(bound / 8));
    return {
      bytes: Math.min(this.#maxGroupBytes, eighth(this.#maxQueuedBytes)),
      stats: Math.min(this.#maxGroupStats, eighth(this.#maxQueuedStats)),
      batches: Math.min(this.#maxGroupBatches, eighth(this.#maxQueuedBatches)),
    };
  }

  /** `true` once {@link close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Accepts one stamped batch for delivery (the queue keeps `bytes`; the caller must not modify
   * it) and returns at once. After `close()` the batch is dropped and counted. Never throws.
   *
   * @param bytes one encoded `AnalyticsStats` message
   * @param stats the number of stats in it
   * @param batches the number of reported batches it holds (when a reporter stamped several into
   *   one buffer); they are counted, bounded and dropped together. Default: 1.
   */
  push(bytes: Uint8Array<ArrayBuffer>, stats: number, batches = 1): void {
    this.#counters.batches += batches;
    this.#counters.stats += stats;
    if (this.#closed) {
      this.#drop(stats, false, batches);
      this.#release(new Entry(bytes, stats, batches));
      // Warn on the first only: a host that keeps reporting after close() would flood the log.
      const level = this.#refusals++ === 0 ? "warn" : "debug";
      this.#logger[level](`${this.#name} reporter is closed, batch dropped`, { stats });
      return;
    }
    this.#enqueue(new Entry(bytes, stats, batches));
    this.#kick();
  }

  /**
   * Counts a batch the reporter was handed but could not turn into bytes (undecodable input, a
   * value that cannot be encoded): one batch dropped as a failure, logged as an error. Never throws.
   *
   * @param stats the number of stats in it, when known (else 0)
   * @param message what went wrong, a short lowercase sentence
   */
  reject(stats: number, message: string, err?: unknown): void {
    this.#counters.batches++;
    this.#counters.stats += stats;
    this.#drop(stats, true);
    this.#logger.error(message, err === undefined ? undefined : { error: describeError(err) });
  }

  /**
   * Resolves once every batch pushed so far is delivered or dropped, sending without the linger.
   * With the default `maxAttempts` this waits as long as the endpoint fails; {@link close} bounds it.
   */
  flush(): Promise<void> {
    if (this.#held() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#urgent++;
      this.#waiters.push(() => {
        this.#urgent--;
        resolve();
      });
      this.#hurry();
    });
  }

  /**
   * Stops accepting batches, keeps delivering what is held for up to `deadlineMs`, then aborts
   * the send in flight and drops the rest (counted and logged), calls the transport's `close`,
   * and resolves, by the deadline in every case. Calling it again returns the first call's promise.
   *
   * @param deadlineMs how long to keep trying, in milliseconds; `Infinity` waits as long as
   *   {@link flush} does. Default: `10_000` ({@link DEFAULT_CLOSE_DEADLINE_MS}).
   * @throws {ArgumentError} synchronously, when `deadlineMs` is not a number >= 0
   */
  close(deadlineMs: number = DEFAULT_CLOSE_DEADLINE_MS): Promise<void> {
    checkDeadline(deadlineMs);
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise<void>((resolve) => {
      let timer: Timer | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        resolve();
      };
      let transportClosing: Promise<void> | undefined;
      const closeTransport = (): Promise<void> => {
        transportClosing ??= (async () => {
          try {
            await this.#transport.close?.();
          } catch (err) {
            this.#logger.warn(`${this.#name} transport close failed`, { error: describeError(err) });
          }
        })();
        return transportClosing;
      };
      // Referenced on purpose: whoever closes wants delivery attempted until the deadline.
      if (deadlineMs < MAX_TIMER_MS) {
        timer = setTimeout(() => {
          this.#abandon("close deadline passed");
          // The transport has been asked to close; the deadline does not wait for it.
          finish();
        }, deadlineMs);
      }
      if (this.#held() === 0) {
        void closeTransport().then(finish);
        return;
      }
      this.#urgent++;
      this.#waiters.push(() => {
        this.#urgent--;
        void closeTransport().then(finish);
      });
      this.#hurry();
    });
    return this.#closing;
  }

  /** Reported batches held, the ones being sent included. */
  #held(): number {
    return this.#heldBatches;
  }

  #enqueue(entry: Entry): void {
    if (
      entry.bytes.byteLength > this.#maxQueuedBytes ||
      entry.stats > this.#maxQueuedStats ||
      entry.batches > this.#maxQueuedBatches
    ) {
      this.#drop(entry.stats, false, entry.batches);
      this.#release(entry);
      this.#logger.warn(`${this.#name} batch larger than the queue bound dropped`, {
        bytes: entry.bytes.byteLength,
        stats: entry.stats,
        maxQueuedBytes: this.#maxQueuedBytes,
        maxQueuedStats: this.#maxQueuedStats,
      });
      return;
    }
    while (
      this.#heldBatches + entry.batches > this.#maxQueuedBatches ||
      this.#heldBytes + entry.bytes.byteLength > this.#maxQueuedBytes ||
      this.#heldStats + entry.stats > this.#maxQueuedStats
    ) {
      // The batches being sent cannot be taken back (the receiver may already hold them), so the
      // oldest waiting one goes; with none waiting, the new batch itself is dropped.
      const victim = this.#head < this.#queue.length ? this.#queue[this.#head]! : undefined;
      if (victim !== undefined) this.#takeHead();
      const dropped = victim ?? entry;
      this.#drop(dropped.stats, false, dropped.batches);
      dropped.settled = true;
      this.#release(dropped);
      // Log once per overflow episode, not per batch: a dead endpoint would flood the log.
      if (this.#overflowDrops++ === 0) {
        this.#logger.warn(`${this.#name} queue full, dropping oldest batches`, {
          maxQueuedBatches: this.#maxQueuedBatches,
          maxQueuedBytes: this.#maxQueuedBytes,
          maxQueuedStats: this.#maxQueuedStats,
        });
      }
      if (victim === undefined) return;
    }
    this.#queue.push(entry);
    this.#heldBytes += entry.bytes.byteLength;
    this.#heldStats += entry.stats;
    this.#heldBatches += entry.batches;
    // A full group need not wait out the linger.
    if (this.#sleep?.linger === true && this.#heldBytes >= this.#maxGroupBytes) this.#sleep.wake();
  }

  /** Removes the oldest waiting batch (the caller accounts for it). */
  #takeHead(): Entry {
    const entry = this.#queue[this.#head]!;
    this.#queue[this.#head++] = undefined as unknown as Entry;
    this.#heldBytes -= entry.bytes.byteLength;
    this.#heldStats -= entry.stats;
    this.#heldBatches -= entry.batches;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  /** Puts batches back at the front, in their order (a failed group waiting for its retry). */
  #putBack(entries: readonly Entry[]): void {
    const live = entries.filter((e) => !e.settled);
    if (live.length === 0) return;
    if (this.#head >= live.length) {
      this.#head -= live.length;
      for (let i = 0; i < live.length; i++) this.#queue[this.#head + i] = live[i]!;
    } else {
      this.#queue = [...live, ...this.#queue.slice(this.#head)];
      this.#head = 0;
    }
    for (const e of live) {
      this.#heldBytes += e.bytes.byteLength;
      this.#heldStats += e.stats;
      this.#heldBatches += e.batches;
    }
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    this.#run().catch((err: unknown) => {
      // #run handles every expected failure; reaching here is a bug, and it must not surface as
      // an unhandled rejection in the host.
      this.#running = false;
      this.#logger.error(`${this.#name} sender stopped unexpectedly`, { error: describeError(err) });
    });
  }

  async #run(): Promise<void> {
    while (this.#head < this.#queue.length) {
      if (this.#urgent === 0 && !this.#closed && this.#heldBytes < this.#maxGroupBytes) {
        await this.#wait(this.#lingerMs, true);
        if (this.#head >= this.#queue.length) break;
      }
      const group = this.#takeGroup();
      this.#inFlight = group;
      for (const entry of group) entry.attempts++;
      if (group.some((e) => e.attempts > 1)) this.#counters.retries++;
      const outcome = await this.#attempt(group);
      this.#inFlight = [];
      // The close deadline may have dropped the group while it was being sent.
      if (group[0]!.settled) {
        this.#settle();
        continue;
      }
      for (const entry of group) {
        this.#heldBytes -= entry.bytes.byteLength;
        this.#heldStats -= entry.stats;
        this.#heldBatches -= entry.batches;
      }
      if (outcome.kind === "sent") {
        this.#delivered(group, outcome.bytes);
        continue;
      }
      if (outcome.kind === "fail") {
        if (group.length > 1) {
          // One bad batch must not take the others with it: each is tried by itself.
          for (const entry of group) entry.solo = true;
          this.#putBack(group);
          this.#logger.warn(`${this.#name} endpoint rejected a group, sending its batches one by one`, {
            reason: outcome.reason,
            batches: group.length,
          });
          continue;
        }
        this.#drop(group[0]!.stats, true, group[0]!.batches);
        group[0]!.settled = true;
        this.#release(group[0]!);
        this.#logger.error(`${this.#name} endpoint rejected a batch, dropped`, {
          reason: outcome.reason,
          stats: group[0]!.stats,
        });
        this.#settle();
        continue;
      }
      if (this.#consecutiveFailures++ === 0) {
        this.#logger.warn(`${this.#name} endpoint failing, retrying`, { reason: outcome.reason });
      } else {
        this.#logger.debug(`${this.#name} attempt failed`, {
          reason: outcome.reason,
          consecutiveFailures: this.#consecutiveFailures,
        });
      }
      for (const entry of group) {
        if (entry.attempts < this.#maxAttempts) continue;
        entry.settled = true;
        this.#drop(entry.stats, true, entry.batches);
        this.#release(entry);
        this.#logger.error(`${this.#name} batch dropped after its last attempt`, {
          reason: outcome.reason,
          attempts: entry.attempts,
          stats: entry.stats,
        });
      }
      this.#putBack(group);
      this.#settle();
      if (this.#head >= this.#queue.length) break;
      await this.#wait(this.#retryDelay(outcome.retryAfterMs), false);
    }
    this.#running = false;
    this.#settle();
  }

  #takeGroup(): Entry[] {
    const first = this.#takeHead();
    const group = [first];
    let bytes = first.bytes.byteLength;
    let stats = first.stats;
    let batches = first.batches;
    while (!first.solo && this.#head < this.#queue.length) {
      const next = this.#queue[this.#head]!;
      if (next.solo || batches + next.batches > this.#maxGroupBatches) break;
      if (bytes + next.bytes.byteLength > this.#maxGroupBytes || stats + next.stats > this.#maxGroupStats) break;
      group.push(this.#takeHead());
      bytes += next.bytes.byteLength;
      stats += next.stats;
      batches += next.batches;
    }
    // Batches being sent still count against the bounds.
    this.#heldBytes += bytes;
    this.#heldStats += stats;
    this.#heldBatches += batches;
    return group;
  }

  #delivered(group: readonly Entry[], bytes: number): void {
    let stats = 0;
    let batches = 0;
    for (const entry of group) {
      entry.settled = true;
      stats += entry.stats;
      batches += entry.batches;
      this.#release(entry);
    }
    this.#counters.sent += batches;
    this.#counters.sentStats += stats;
    this.#counters.bytesSent += bytes;
    this.#counters.requests++;
    if (this.#consecutiveFailures > 0) {
      this.#logger.info(`${this.#name} endpoint recovered`, { failedAttempts: this.#consecutiveFailures });
      this.#consecutiveFailures = 0;
    }
    this.#settle();
  }

  async #attempt(group: readonly Entry[]): Promise<Outcome> {
    const controller = new AbortController();
    this.#controller = controller;
    let timer: Timer | undefined;
    let bytes = 0;
    for (const entry of group) bytes += entry.bytes.byteLength;
    const aborted = new Promise<Outcome>((resolve) => {
      controller.signal.addEventListener(
        "abort",
        () => {
          // the transport may go on reading these bytes: they must never be reused
          for (const entry of group) entry.tainted = true;
          resolve({ kind: "retry", reason: describeError(controller.signal.reason), retryAfterMs: undefined });
        },
        { once: true },
      );
    });
    if (this.#attemptTimeoutMs < MAX_TIMER_MS) {
      timer = setTimeout(() => {
        controller.abort(
          new DeliveryError(`timed out after ${this.#attemptTimeoutMs} ms`, { code: "timeout" }),
        );
      }, this.#attemptTimeoutMs);
      // A socket keeps the process alive while it matters; the timer need not, unless someone
      // awaits delivery and the transport holds nothing open (it may hang on a timer of its own).
      if (this.#urgent === 0) unref(timer);
      this.#attemptTimer = timer;
    }
    // The promise constructor turns a transport that throws synchronously into a rejection.
    const sent = new Promise<number | void>((resolve) => resolve(this.#transport.send(group, controller.signal))).then(
      (value): Outcome => ({ kind: "sent", bytes: typeof value === "number" ? value : bytes }),
      (err: unknown): Outcome => this.#classify(err),
    );
    try {
      return await Promise.race([sent, aborted]);
    } finally {
      clearTimeout(timer);
      this.#controller = undefined;
      this.#attemptTimer = undefined;
    }
  }

  #classify(err: unknown): Outcome {
    if (isDeliveryError(err)) {
      const reason = describeError(err);
      return err.permanent ? { kind: "fail", reason } : { kind: "retry", reason, retryAfterMs: err.retryAfterMs };
    }
    return { kind: "retry", reason: describeError(err), retryAfterMs: undefined };
  }

  #retryDelay(retryAfterMs: number | undefined): number {
    // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): spreads the retries
    // of many reporters hitting one recovering endpoint instead of synchronising them.
    const exponent = Math.min(this.#consecutiveFailures - 1, 52);
    const bound = Math.min(this.#maxRetryDelayMs, this.#initialRetryDelayMs * 2 ** exponent);
    let delay = Math.random() * bound;
    // A server's hint can lengthen the wait, never shorten it below the floor: Retry-After 0
    // from a struggling server must not turn into a retry storm.
    if (retryAfterMs !== undefined && retryAfterMs > delay) delay = retryAfterMs;
    return Math.min(this.#maxRetryDelayMs, Math.max(this.#minRetryDelayMs, delay));
  }

  /** Waits `ms`; a linger wait ends early on flush(), close() or a full group, a backoff only on abandon. */
  #wait(ms: number, linger: boolean): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleep = undefined;
        resolve();
      };
      const timer = ms < MAX_TIMER_MS ? setTimeout(wake, ms) : undefined;
      // Idle waits must not keep a host process alive, unless someone awaits delivery.
      if (this.#urgent === 0 && timer !== undefined) unref(timer);
      this.#sleep = { timer, wake, linger };
    });
  }

  /** A flush() or close() arrived: end a linger at once, and let a backoff keep the process alive. */
  #hurry(): void {
    if (this.#attemptTimer !== undefined) ref(this.#attemptTimer);
    const sleep = this.#sleep;
    if (sleep === undefined) return;
    if (sleep.linger) sleep.wake();
    else if (sleep.timer !== undefined) ref(sleep.timer);
  }

  #abandon(reason: string): void {
    let lost = 0;
    let lostStats = 0;
    for (const entry of this.#inFlight) {
      if (entry.settled) continue;
      entry.settled = true;
      entry.tainted = true; // its send is being cut off, and may still read the bytes
      this.#drop(entry.stats, false, entry.batches);
      this.#heldBytes -= entry.bytes.byteLength;
      this.#heldStats -= entry.stats;
      this.#heldBatches -= entry.batches;
      lost += entry.batches;
      lostStats += entry.stats;
    }
    this.#inFlight = [];
    while (this.#head < this.#queue.length) {
      const entry = this.#takeHead();
      entry.settled = true;
      this.#drop(entry.stats, false, entry.batches);
      this.#release(entry);
      lost += entry.batches;
      lostStats += entry.stats;
    }
    this.#controller?.abort(new DeliveryError(reason));
    this.#sleep?.wake();
    if (lost > 0) this.#logger.warn(`${this.#name} batches dropped`, { reason, batches: lost, stats: lostStats });
    this.#settle();
  }

  /** Hands a batch the queue is done with back to the transport for reuse (see {@link DeliveryTransport.release}). */
  #release(entry: Entry): void {
    if (entry.tainted || this.#transport.release === undefined) return;
    try {
      this.#transport.release(entry);
    } catch (err) {
      this.#logger.error(`${this.#name} transport release failed`, { error: describeError(err) });
    }
  }

  #drop(stats: number, failure: boolean, batches = 1): void {
    this.#counters.dropped += batches;
    this.#counters.droppedStats += stats;
    if (failure) this.#counters.failures += batches;
  }

  #settle(): void {
    if (this.#held() > 0) return;
    if (this.#overflowDrops > 0) {
      this.#logger.info(`${this.#name} queue drained`, { droppedWhileFull: this.#overflowDrops });
      this.#overflowDrops = 0;
    }
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}

function unref(timer: Timer): void {
  (timer as { unref?: () => void }).unref?.();
}

function ref(timer: Timer): void {
  (timer as { ref?: () => void }).ref?.();
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

export { checkDeadline, DEFAULT_CLOSE_DEADLINE_MS };
