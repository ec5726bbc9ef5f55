/**
 * The base of every network reporter: stamping, the delivery core, and the reporter surface.
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { type AnalyticsStat, AnalyticsStatsSchema } from "../gen/livekit/livekit_analytics_pb.ts";
import { isStampedBatch, STAMP_REQUEST, type StampedBatch, type StampRequest, type TelemetryReporter } from "../reporter.ts";
import type { ReporterCounters } from "./counters.ts";
import {
  checkDeadline,
  DEFAULT_CLOSE_DEADLINE_MS,
  type DeliveryOptions,
  DeliveryQueue,
  type DeliveryTransport,
  type QueuedBatch,
} from "./delivery.ts";
import { StampBuffer } from "./stamp.ts";

/** Options every network reporter takes, on top of the {@link DeliveryOptions} bounds and delays. */
export interface NetworkReporterOptions extends DeliveryOptions {
  /**
   * Node name stamped into `node` of every stat, as LiveKit's `SendStats` does.
   * Default: none, each stat's `node` is sent as it is (`""` for StatsWorker output).
   */
  node?: string;
}

/**
 * A {@link TelemetryReporter} that stamps every batch with `node` and unique `AS_` ids (see
 * `stampBatch`) and delivers it through a {@link DeliveryQueue}; a subclass implements
 * {@link NetworkReporter.send} for its protocol.
 *
 * `reportBytes` stamps the engine's encoding as it is, building no objects; `report` encodes the
 * objects first. Ids are stamped once, when the batch is accepted, so a retried send carries the
 * same ids and the receiver can drop duplicates. Neither method ever throws, and both return at
 * once. A batch that cannot be stamped (undecodable bytes) is dropped, counted as a failure and
 * logged.
 */
export abstract class NetworkReporter implements TelemetryReporter {
  /** the delivery core: bounds, coalescing, retries, counters */
  protected readonly queue: DeliveryQueue;
  readonly #name: string;
  // The batches reported in the current turn of the event loop, stamped back to back: one buffer
  // and one queue entry per flush window, however many workers reported in it.
  readonly #pending: StampBuffer;
  #sealScheduled = false;
  // Made once: an arrow written inside reportBytes would make V8 allocate a context for `this`
  // on every call (about 40 B a batch), whether or not the arrow is created.
  readonly #sealTask = (): void => this.#seal();
  /**
   * @internal What this reporter asks its workers to stamp into their encoded batches: the node
   * and the ids it would stamp itself (see {@link reportBytes}).
   */
  readonly [STAMP_REQUEST]: StampRequest;

  /**
   * @param name the protocol, as log messages name it (`"http"`, `"otlp"`)
   * @param options see {@link NetworkReporterOptions}
   * @throws {ArgumentError} on a bad bound or delay
   */
  protected constructor(name: string, options: NetworkReporterOptions) {
    this.#name = name;
    const transport: DeliveryTransport = {
      send: (group, signal) => this.send(group, signal),
      close: () => this.closeTransport(),
      // A delivered or dropped window's buffer is written into again by a later window.
      release: (batch) => this.#pending.recycle(batch.bytes),
    };
    this.queue = new DeliveryQueue(name, transport, options);
    // Sealed at the queue's unit bounds: never a group the queue would have split, and never a
    // unit so large against the queue bounds that dropping it whole loses a turn's batches.
    const unit = this.queue.unitBounds;
    this.#pending = new StampBuffer(unit.bytes, options.node === undefined ? {} : { node: options.node }, unit.stats, unit.batches);
    this[STAMP_REQUEST] = { node: options.node };
  }

  /** A snapshot of the delivery counters, fresh on every read; `queued` includes the batches being sent. */
  get counters(): ReporterCounters {
    const c = this.queue.counters;
    const pending = this.#pending;
    if (pending.batches === 0) return c;
    return { ...c, batches: c.batches + pending.batches, stats: c.stats + pending.stats, queued: c.queued + pending.batches };
  }

  /** Encodes, stamps and queues the batch for delivery, and returns at once. Never throws. */
  report(stats: AnalyticsStat[]): void {
    if (!Array.isArray(stats)) {
      this.queue.reject(0, `${this.#name} reporter got a batch that is not an array, dropped`);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats }));
    } catch (err) {
      this.queue.reject(stats.length, "cannot encode AnalyticsStats batch", err);
      return;
    }
    this.reportBytes(bytes);
  }

  /**
   * Stamps one encoded `AnalyticsStats` message and queues it, building no objects. The buffer
   * is read during the call only: the batches reported in one turn of the event loop are stamped
   * into one buffer, queued together when the turn ends or when the buffer reaches one group
   * (`maxGroupBytes`, `maxGroupStats`, `maxGroupBatches`) or an eighth of a queue bound, so a
   * turn larger than the queue is queued in pieces and only its oldest are evicted. Malformed bytes
   * are dropped, counted as a failure and logged. Never throws.
   */
  reportBytes(batch: Uint8Array, stamped?: StampedBatch): void {
    try {
      // a worker's engine stamped the batch as this reporter asked (STAMP_REQUEST): it goes in as it is
      const stats = isStampedBatch(stamped) ? stamped.stats : -1;
      if (!this.#append(batch, stats)) {
        // The buffer holds a full group: queue it and start the next one.
        this.#seal();
        this.#append(batch, stats);
      }
    } catch (err) {
      this.queue.reject(0, "cannot decode AnalyticsStats batch", err);
      return;
    }
    if (this.queue.closed) this.#seal();
    else if (!this.#sealScheduled) {
      this.#sealScheduled = true;
      queueMicrotask(this.#sealTask);
    }
  }

  // a stamped batch (`stats` >= 0) as it is, any other stamped here
  #append(batch: Uint8Array, stats: number): boolean {
    return stats >= 0 ? this.#pending.addStamped(batch, stats) : this.#pending.add(batch);
  }

  #seal(): void {
    this.#sealScheduled = false;
    if (this.#pending.batches === 0) return;
    const { bytes, stats, batches } = this.#pending.take();
    this.queue.push(bytes, stats, batches);
  }

  /**
   * Resolves once every batch accepted so far is delivered or dropped. With the default
   * `maxAttempts` this waits as long as the endpoint fails; {@link close} bounds the wait.
   */
  flush(): Promise<void> {
    this.#seal();
    return this.queue.flush();
  }

  /**
   * Stops accepting batches (later ones are dropped and counted), keeps delivering for up to
   * `deadlineMs`, then drops what is left (counted and logged) and resolves, by the deadline even
   * when the endpoint hangs. Calling it again returns the first call's promise.
   *
   * @param deadlineMs in milliseconds; `Infinity` waits as long as {@link flush} does.
   *   Default: `10_000`.
   * @throws {ArgumentError} synchronously, when `deadlineMs` is not a number >= 0
   */
  close(deadlineMs: number = DEFAULT_CLOSE_DEADLINE_MS): Promise<void> {
    checkDeadline(deadlineMs);
    this.#seal();
    return this.queue.close(deadlineMs);
  }

  /**
   * Sends one group of stamped batches; see {@link DeliveryTransport.send}. The group's bytes are
   * reused once the queue is done with them, so nothing may read them after the promise settles
   * (a protocol client that may still be writing them then must be given a copy).
   */
  protected abstract send(group: readonly QueuedBatch[], signal: AbortSignal): Promise<number | void>;

  /** Releases connections once the queue is done; see {@link DeliveryTransport.close}. Default: nothing. */
  protected closeTransport(): Promise<void> | void {}
}
