/**
 * Delivery counters shared by every reporter of this package.
 *
 * Every reporter exposes `counters`, a fresh read-only snapshot on each read, so a host can poll
 * it and export the numbers (Prometheus, OpenTelemetry, logs) without holding a live object.
 * All counts start at 0 and only grow, except `queued`, which is the current queue depth.
 *
 * Between calls the counts satisfy `batches === sent + dropped + queued`: every accepted batch is
 * delivered, dropped, or still waiting.
 *
 * @module
 */

/** A snapshot of one reporter's delivery counters; see each field for its unit. */
export interface ReporterCounters {
  /** batches handed to `report()` or `reportBytes()`, including ones later dropped */
  readonly batches: number;
  /** stats in those batches (0 for a `reportBytes()` batch that could not be decoded) */
  readonly stats: number;
  /** batches delivered: handed to the callback, written to the stream, or acknowledged with 2xx */
  readonly sent: number;
  /** stats in the delivered batches */
  readonly sentStats: number;
  /** bytes delivered: request bodies acknowledged with 2xx, or UTF-8 bytes written to the stream */
  readonly bytesSent: number;
  /**
   * sends acknowledged by the receiver (HTTP requests answered 2xx, Redis commands, gRPC
   * streams); with coalescing, one send carries many batches, so this is at most `sent`
   */
  readonly requests: number;
  /** delivery attempts repeated after a retryable failure (network reporters only; 0 elsewhere) */
  readonly retries: number;
  /**
   * batches discarded without delivery, for any reason: the queue bound (drop-oldest), a
   * permanent failure, attempts exhausted, a `close()` deadline, or a call after `close()`
   */
  readonly dropped: number;
  /** stats in the dropped batches */
  readonly droppedStats: number;
  /**
   * batches dropped because of an error (a callback that threw, undecodable bytes, a rejected
   * request, attempts exhausted, a broken stream); each one is also counted in `dropped`
   */
  readonly failures: number;
  /** batches waiting in memory right now, the one being delivered included */
  readonly queued: number;
}

/** The reporters' own writable copy of the counters. */
export type MutableReporterCounters = { -readonly [K in keyof ReporterCounters]: ReporterCounters[K] };

/** Returns a counters record with every count at 0. */
export function newReporterCounters(): MutableReporterCounters {
  return {
    batches: 0,
    stats: 0,
    sent: 0,
    sentStats: 0,
    bytesSent: 0,
    requests: 0,
    retries: 0,
    dropped: 0,
    droppedStats: 0,
    failures: 0,
    queued: 0,
  };
}
