import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import { ArgumentError } from "../errors.ts";
import {
  type AnalyticsStat,
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
} from "../gen/livekit/livekit_analytics_pb.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { TelemetryReporter } from "../reporter.ts";
import { newReporterCounters, type ReporterCounters } from "./counters.ts";
import { checkDeadline, DEFAULT_CLOSE_DEADLINE_MS } from "./delivery.ts";

/**
 * The part of a writable stream the NDJSON reporter uses.
 *
 * Node's `stream.Writable` (a file stream, `process.stdout`, a socket) fits as it is; in a
 * browser, any object with these two methods does. Kept structural so this module imports no
 * Node built-in and stays browser-safe.
 */
export interface NdjsonSink {
  /**
   * Writes one chunk of text. Returns `false` when the sink wants the writer to wait for
   * `"drain"` (the chunk itself was still accepted), as `stream.Writable.write` does.
   */
  write(chunk: string): boolean;
  /**
   * Registers a one-shot listener. The reporter listens for `"drain"` while it waits, for
   * `"close"` once, and for `"error"` always (re-registering after each one), so a broken sink
   * can neither hold `flush()` forever nor crash the process with a second error.
   */
  once(event: string, listener: (arg?: unknown) => void): unknown;
}

/** Options of {@link NdjsonReporter}. */
export interface NdjsonReporterOptions {
  /**
   * Write proto field names (`participant_id`) instead of lowerCamelCase JSON names
   * (`participantId`). Default: `false`. Proto3 JSON parsers accept both.
   */
  useProtoFieldName?: boolean;
  /** Write `kind` as its number (`1`) instead of its name (`"DOWNSTREAM"`). Default: `false`. */
  enumAsInteger?: boolean;
  /** Also write fields that hold their zero value (`"score": 0`). Default: `false`. */
  alwaysEmitImplicit?: boolean;
  /**
   * Most batches held in memory while the sink asks the reporter to wait for `"drain"`.
   * When a new batch would exceed it, the oldest waiting batch is dropped, counted and logged.
   * Default: `1000` batches. Must be at least 1.
   */
  maxQueuedBatches?: number;
  /**
   * Most text held in memory while waiting for `"drain"`, in UTF-16 code units (about bytes for
   * ASCII JSON). Oldest batches are dropped to make room; a single batch larger than this is
   * dropped at once. Default: `16 * 1024 * 1024` (16 Mi code units).
   */
  maxQueuedChars?: number;
  /** Where drops and sink errors are logged. Default: {@link silentLogger}. */
  logger?: Logger;
}

interface Chunk {
  readonly text: string;
  readonly stats: number;
}

/**
 * A reporter that writes one proto3-JSON `AnalyticsStat` per line (NDJSON) to a writable stream.
 *
 * Each batch becomes one `write()` call holding all its lines, each ending in `"\n"`. When the
 * sink returns `false`, later batches wait in a bounded in-memory queue (drop-oldest, see
 * {@link NdjsonReporterOptions.maxQueuedBatches}) until the sink emits `"drain"`, so a slow disk
 * or a piped `stdout` never grows memory without limit. `report()` and `reportBytes()` never
 * throw. The reporter never ends or closes the sink: the caller owns it.
 */
export class NdjsonReporter implements TelemetryReporter {
  readonly #sink: NdjsonSink;
  readonly #json: { useProtoFieldName: boolean; enumAsInteger: boolean; alwaysEmitImplicit: boolean };
  readonly #maxQueuedBatches: number;
  readonly #maxQueuedChars: number;
  readonly #logger: Logger;
  readonly #counters = newReporterCounters();
  readonly #queue: Chunk[] = [];
  #queuedChars = 0;
  #waitingForDrain = false;
  #broken = false;
  #closed = false;
  #overflowDrops = 0;
  #refusals = 0;
  #flushWaiters: Array<() => void> = [];

  /**
   * @param sink the stream to write to (see {@link NdjsonSink})
   * @param options see {@link NdjsonReporterOptions}
   * @throws {ArgumentError} when a bound is not a positive number
   */
  constructor(sink: NdjsonSink, options: NdjsonReporterOptions = {}) {
    if (typeof sink?.write !== "function" || typeof sink.once !== "function") {
      throw new ArgumentError("ndjson sink must have write() and once() methods");
    }
    this.#sink = sink;
    this.#json = {
      useProtoFieldName: options.useProtoFieldName ?? false,
      enumAsInteger: options.enumAsInteger ?? false,
      alwaysEmitImplicit: options.alwaysEmitImplicit ?? false,
    };
    this.#maxQueuedBatches = positive("maxQueuedBatches", options.maxQueuedBatches ?? 1000);
    this.#maxQueuedChars = positive("maxQueuedChars", options.maxQueuedChars ?? 16 * 1024 * 1024);
    this.#logger = options.logger ?? silentLogger;
    // Re-armed on every event: a stream may emit "error" more than once, and an "error" with no
    // listener left would throw from the emitter and end the process.
    const onError = (err: unknown): void => {
      sink.once("error", onError);
      this.#breakSink("ndjson sink failed", err);
    };
    sink.once("error", onError);
    // A sink closed with nothing pending is a normal end (the caller ended it); only a close that
    // strands queued batches is an error.
    sink.once("close", () => {
      if (this.#idle()) this.#broken = true;
      else this.#breakSink("ndjson sink closed with batches pending", undefined);
    });
  }

  /** A snapshot of the delivery counters, fresh on every read; `queued` counts waiting batches. */
  get counters(): ReporterCounters {
    return { ...this.#counters, queued: this.#queue.length };
  }

  /** Writes the batch, one line per stat, or queues it while the sink asks to wait. Never throws. */
  report(stats: AnalyticsStat[]): void {
    this.#counters.batches++;
    if (!Array.isArray(stats)) {
      this.#fail(0, "ndjson reporter got a batch that is not an array, dropped", typeof stats);
      return;
    }
    this.#counters.stats += stats.length;
    if (this.#closed || this.#broken) {
      this.#refuse(stats.length);
      return;
    }
    let text: string;
    try {
      text = this.#format(stats);
    } catch (err) {
      this.#fail(stats.length, "cannot format stats as json", err);
      return;
    }
    if (!this.#waitingForDrain && this.#queue.length === 0) this.#write({ text, stats: stats.length });
    else this.#enqueue({ text, stats: stats.length });
  }

  /**
   * Decodes one encoded `AnalyticsStats` message and writes its stats as {@link report} does.
   * The buffer is read during the call only. Undecodable bytes are dropped, counted as a failure
   * and logged. Never throws.
   */
  reportBytes(batch: Uint8Array): void {
    let stats: AnalyticsStat[];
    try {
      stats = fromBinary(AnalyticsStatsSchema, batch).stats;
    } catch (err) {
      this.#counters.batches++;
      this.#fail(0, "cannot decode AnalyticsStats batch", err);
      return;
    }
    this.report(stats);
  }

  /**
   * Resolves once every accepted batch has been handed to the sink's `write()` and the sink is
   * not asking to wait for `"drain"` (or once the sink broke and the rest was dropped).
   * It does not wait for data to reach the disk; end the stream for that.
   */
  flush(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /**
   * Stops accepting batches (later ones are dropped and counted) and resolves as {@link flush}
   * does, or at `deadlineMs`, when what still waits for `"drain"` is dropped (counted and
   * logged). Does not end the sink. Calling it again is harmless.
   *
   * @param deadlineMs in milliseconds; `Infinity` waits as long as {@link flush} does.
   *   Default: `10_000`.
   * @throws {ArgumentError} synchronously, when `deadlineMs` is not a number >= 0
   */
  close(deadlineMs: number = DEFAULT_CLOSE_DEADLINE_MS): Promise<void> {
    checkDeadline(deadlineMs);
    this.#closed = true;
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer =
        deadlineMs < 2 ** 31 - 1
          ? setTimeout(() => {
              const lost = this.#queue.length;
              for (const chunk of this.#queue.splice(0)) this.#drop(chunk.stats);
              this.#queuedChars = 0;
              // The sink may never drain: stop waiting for it.
              this.#waitingForDrain = false;
              if (lost > 0) this.#logger.warn("ndjson batches dropped", { reason: "close deadline passed", batches: lost });
              this.#settle();
            }, deadlineMs)
          : undefined;
      this.#flushWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #format(stats: readonly AnalyticsStat[]): string {
    let text = "";
    for (const stat of stats) {
      text += toJsonString(AnalyticsStatSchema, stat, this.#json) + "\n";
    }
    return text;
  }

  #refuse(stats: number): void {
    this.#drop(stats);
    if (this.#broken) this.#counters.failures++;
    // Warn on the first only: a closed stdout (`| head`) would otherwise log once per window.
    const level = this.#refusals++ === 0 ? "warn" : "debug";
    this.#logger[level]("ndjson reporter dropped a batch", {
      reason: this.#broken ? "sink broken" : "closed",
      stats,
    });
  }

  #enqueue(chunk: Chunk): void {
    if (chunk.text.length > this.#maxQueuedChars) {
      this.#drop(chunk.stats);
      this.#logger.warn("ndjson batch larger than the queue bound dropped", {
        chars: chunk.text.length,
        maxQueuedChars: this.#maxQueuedChars,
      });
      return;
    }
    while (
      this.#queue.length >= this.#maxQueuedBatches ||
      this.#queuedChars + chunk.text.length > this.#maxQueuedChars
    ) {
      const oldest = this.#queue.shift()!;
      this.#queuedChars -= oldest.text.length;
      this.#drop(oldest.stats);
      // Log once per overflow episode, not per batch: a stuck sink would otherwise flood the log.
      if (this.#overflowDrops++ === 0) {
        this.#logger.warn("ndjson queue full, dropping oldest batches", {
          maxQueuedBatches: this.#maxQueuedBatches,
          maxQueuedChars: this.#maxQueuedChars,
        });
      }
    }
    this.#queue.push(chunk);
    this.#queuedChars += chunk.text.length;
  }

  #write(chunk: Chunk): void {
    let more: boolean;
    try {
      more = this.#sink.write(chunk.text);
    } catch (err) {
      // A destroyed Node stream reports through "error", but a hand-written sink may throw.
      this.#drop(chunk.stats);
      this.#counters.failures++;
      this.#breakSink("ndjson sink write threw", err);
      return;
    }
    this.#counters.sent++;
    this.#counters.sentStats += chunk.stats;
    this.#counters.requests++;
    this.#counters.bytesSent += utf8Length(chunk.text);
    if (!more) {
      this.#waitingForDrain = true;
      this.#sink.once("drain", () => this.#onDrain());
    }
  }

  #onDrain(): void {
    this.#waitingForDrain = false;
    while (!this.#waitingForDrain && !this.#broken && this.#queue.length > 0) {
      const chunk = this.#queue.shift()!;
      this.#queuedChars -= chunk.text.length;
      this.#write(chunk);
    }
    if (this.#queue.length === 0 && this.#overflowDrops > 0) {
      this.#logger.info("ndjson queue drained", { droppedWhileFull: this.#overflowDrops });
      this.#overflowDrops = 0;
    }
    this.#settle();
  }

  #breakSink(message: string, err: unknown): void {
    if (this.#broken) return;
    this.#broken = true;
    this.#waitingForDrain = false;
    const lost = this.#queue.length;
    for (const chunk of this.#queue.splice(0)) {
      this.#drop(chunk.stats);
      this.#counters.failures++;
    }
    this.#queuedChars = 0;
    this.#logger.error(message, { error: String(err), droppedBatches: lost });
    this.#settle();
  }

  #fail(stats: number, message: string, err: unknown): void {
    this.#drop(stats);
    this.#counters.failures++;
    this.#logger.error(message, { error: String(err) });
  }

  #drop(stats: number): void {
    this.#counters.dropped++;
    this.#counters.droppedStats += stats;
  }

  #idle(): boolean {
    return this.#broken || (!this.#waitingForDrain && this.#queue.length === 0);
  }

  #settle(): void {
    if (!this.#idle()) return;
    for (const resolve of this.#flushWaiters.splice(0)) resolve();
  }
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !(value >= 1)) {
    throw new ArgumentError(`${name} must be a number >= 1, got ${String(value)}`);
  }
  return value;
}

/** Returns the UTF-8 encoded length of `s` in bytes without encoding it. */
export function utf8Length(s: string): number {
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      // A surrogate pair is 2 code units and 4 UTF-8 bytes.
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
