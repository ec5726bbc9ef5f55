/**
 * Every place `statsworker simulate` sends things: the reported stats (NDJSON to a file or
 * stdout, HTTP POSTs, a Redis stream) and the capture of the input stats. A new destination is one more field
 * here, opened in {@link SimulateOutputs.open}, fed in {@link SimulateOutputs.deliver}, ended in
 * {@link SimulateOutputs.close} and described in {@link SimulateOutputs.summaryRows}.
 *
 * @module
 */
import type { AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import type { Logger } from "../logger.ts";
import type { TelemetryReporter } from "../reporter.ts";
import { HttpReporter, type HttpReporterFormat } from "../reporters/http-reporter.ts";
import { RedisStreamReporter } from "../redis/redis-stream-reporter.ts";
import { NdjsonReporter } from "../reporters/ndjson-reporter.ts";
import { Output } from "./capture.ts";
import { compareStats } from "./order.ts";
import { formatCount } from "./summary.ts";

/** Where a simulation's outputs go; every field is optional. */
export interface SimulateOutputOptions {
  /** NDJSON of the reported stats: a file, or `-` for stdout */
  out?: string | undefined;
  /** POST each window's reported stats here */
  http?: URL | undefined;
  httpFormat: HttpReporterFormat;
  /** how long `close` keeps delivering queued HTTP requests, in ms */
  httpDeadlineMs: number;
  /** append each window's reported stats to this Redis stream, as a fleet node does */
  redis?: { url: string; stream: string } | undefined;
  /** size-delimited capture of the input stats */
  capture?: string | undefined;
  /** windows the run plans, to size the HTTP queue so that a run never drops */
  windows: number;
  logger: Logger;
}

/** The opened outputs of one run. */
export class SimulateOutputs {
  /** the reporter to give the TelemetryService */
  readonly reporter: TelemetryReporter;
  /** whether reported stats are collected as objects (some sink wants them) */
  readonly collecting: boolean;
  /** stats handed to the sinks so far */
  delivered = 0;
  /** encoded batch bytes reported, when no sink collects objects */
  bytesOut = 0;
  /** capture bytes written */
  captureBytes = 0;
  private windowStats: AnalyticsStat[] = [];
  private discarding = false;

  private constructor(
    private readonly options: SimulateOutputOptions,
    private readonly ndjsonOut: Output | undefined,
    private readonly ndjson: NdjsonReporter | undefined,
    private readonly http: HttpReporter | undefined,
    private readonly redis: RedisStreamReporter | undefined,
    private readonly capture: Output | undefined,
  ) {
    this.collecting = ndjson !== undefined || http !== undefined || redis !== undefined;
    // Each flush's batches (one per worker) are collected, sorted and handed to the sinks once per
    // window. Without sinks the reporter takes encoded batches: no AnalyticsStat objects are built
    // on the way out, which is what a host exporting bytes would do.
    this.reporter = this.collecting
      ? { report: (stats) => void (this.discarding || this.windowStats.push(...stats)) }
      : { report: () => {}, reportBytes: (batch) => void (this.bytesOut += batch.length) };
  }

  /** Opens every output now, so that one that cannot be written fails before the run (CliError). */
  static open(options: SimulateOutputOptions): SimulateOutputs {
    const opened: Output[] = [];
    try {
      const ndjsonOut = options.out === undefined ? undefined : new Output(options.out);
      if (ndjsonOut !== undefined) opened.push(ndjsonOut);
      const capture = options.capture === undefined ? undefined : new Output(options.capture);
      if (capture !== undefined) opened.push(capture);
      // one batch per window reaches the sinks, and deliver() waits for the file: nothing queues up
      const ndjson =
        ndjsonOut === undefined
          ? undefined
          : new NdjsonReporter(ndjsonOut.stream, { maxQueuedBatches: 4, maxQueuedChars: 1 << 30, logger: options.logger });
      const http =
        options.http === undefined
          ? undefined
          : // one request per window, as --help says: the windows of a virtual-time run come faster
            // than requests complete, and coalescing would merge them
            new HttpReporter({
              url: options.http,
              format: options.httpFormat,
              maxQueuedBatches: Math.max(1000, options.windows),
              maxGroupBatches: 1,
              logger: options.logger,
            });
      const redis =
        options.redis === undefined
          ? undefined
          : new RedisStreamReporter({ ...options.redis, maxQueuedBatches: Math.max(1000, options.windows), logger: options.logger });
      return new SimulateOutputs(options, ndjsonOut, ndjson, http, redis, capture);
    } catch (err) {
      for (const o of opened) void o.close().catch(() => {});
      throw err;
    }
  }

  /** Hands the stats reported since the last call, sorted, to every sink; waits for the file. */
  async deliver(): Promise<void> {
    if (this.windowStats.length === 0) return;
    const stats = this.windowStats.sort(compareStats);
    this.windowStats = [];
    // ndjson formats at once, before the http reporter stamps `id` into the same objects
    this.ndjson?.report(stats);
    this.http?.report(stats);
    this.redis?.report(stats);
    this.delivered += stats.length;
    // backpressure: wait until the file or pipe has taken this window
    await this.ndjson?.flush();
    this.ndjsonOut?.check();
  }

  /** Appends one window's input stats (size-delimited) to the capture, if there is one. */
  async writeCapture(delimited: Uint8Array): Promise<void> {
    if (this.capture === undefined) return;
    this.captureBytes += delimited.length;
    await this.capture.write(delimited);
  }

  /** Whether a capture is written (the run must then encode every window's stats). */
  get capturing(): boolean {
    return this.capture !== undefined;
  }

  /** From now on, reported stats are dropped unsent (an interrupted run's partial window). */
  discard(): void {
    this.discarding = true;
    this.windowStats = [];
  }

  /** Ends every output: files written whole, queued HTTP requests delivered until the deadline. */
  async close(): Promise<void> {
    await this.ndjson?.close();
    await this.ndjsonOut?.close();
    await this.capture?.close();
    if (this.http !== undefined) {
      if (this.http.counters.queued > 0) {
        process.stderr.write(`statsworker simulate: delivering ${this.http.counters.queued} queued request(s) to ${this.options.http}\n`);
      }
      await this.http.close(this.options.httpDeadlineMs);
    }
    if (this.redis !== undefined) {
      if (this.redis.counters.queued > 0) process.stderr.write(`statsworker simulate: delivering ${this.redis.counters.queued} queued batch(es) to redis\n`);
      await this.redis.close();
    }
  }

  /** Reported stats a sink dropped (a failing endpoint, a full queue). */
  get lost(): number {
    return (this.ndjson?.counters.droppedStats ?? 0) + (this.http?.counters.droppedStats ?? 0) + (this.redis?.counters.droppedStats ?? 0);
  }

  /** Summary rows, one per output. */
  summaryRows(offered: number): [string, string][] {
    const rows: [string, string][] = [];
    if (!this.collecting) rows.push(["bytes out (encoded batches)", formatCount(this.bytesOut)]);
    if (this.ndjson !== undefined) {
      const n = this.ndjson.counters;
      const where = this.options.out === "-" ? "stdout" : this.options.out;
      rows.push(["ndjson out", `${where}: ${formatCount(n.sentStats)} stats, ${formatCount(n.bytesSent)} bytes, ${n.droppedStats} dropped`]);
    }
    if (this.http !== undefined) {
      const h = this.http.counters;
      rows.push(["http out", `${formatCount(h.sent)} requests, ${formatCount(h.sentStats)} stats, ${h.retries} retries, ${formatCount(h.droppedStats)} stats dropped`]);
    }
    if (this.redis !== undefined) {
      const r = this.redis.counters;
      rows.push(["redis out", `${formatCount(r.sent)} sends, ${formatCount(r.sentStats)} stats, ${r.retries} retries, ${formatCount(r.droppedStats)} stats dropped`]);
    }
    if (this.capture !== undefined) rows.push(["capture", `${this.options.capture}: ${formatCount(offered)} stats, ${formatCount(this.captureBytes)} bytes`]);
    return rows;
  }
}
