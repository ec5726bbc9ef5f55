/**
 * The producer side of the fleet: a reporter that appends each node's batches to a Redis stream.
 *
 * @module
 */
import { ArgumentError } from "../errors.ts";
import type { QueuedBatch } from "../reporters/delivery.ts";
import { DeliveryError } from "../reporters/delivery.ts";
import { NetworkReporter, type NetworkReporterOptions } from "../reporters/network-reporter.ts";
import { concatBatches } from "../reporters/stamp.ts";
import { silentLogger } from "../logger.ts";
import { checkRedisUrl, createStreamClient, type StreamClient, type StreamClientOptions } from "./client.ts";
import { splitBatch } from "../reporters/split-batch.ts";
import { STATS_FIELD } from "./stream-entry.ts";

/** Options of {@link RedisStreamReporter}; the delivery bounds and delays are the shared ones. */
export interface RedisStreamReporterOptions extends NetworkReporterOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` (TLS). Required. */
  url: string;
  /** Key of the stream the entries are appended to. Required. */
  stream: string;
  /**
   * Trim the stream to about this many entries on every append (`XADD ... MAXLEN ~ n`): Redis
   * trims whole macro nodes, so the stream can hold a little more. Entries trimmed before a
   * collector read them are lost to it, so size this for the longest collector outage you want
   * to survive. Default: none, the stream is never trimmed by the reporter.
   */
  maxLen?: number;
  /**
   * Most bytes of stamped batches in one stream entry; a send of more is split into several
   * entries, appended in one transaction. A single larger batch is one entry by itself.
   * Smaller entries spread better over the collectors of a group. Default: `256 * 1024`.
   */
  maxEntryBytes?: number;
  /** Give up one connection attempt after this long, in milliseconds. Default: `5_000`. */
  connectTimeoutMs?: number;
}

/**
 * A reporter that appends every batch, stamped with `node` and unique `AS_` ids, to a Redis
 * stream, for `statsworker collect` (or any consumer group) to read.
 *
 * Each entry has one field, `stats`: one encoded `AnalyticsStats` holding the batches of one or
 * more workers (batches reported together are coalesced, up to `maxEntryBytes`). The batches of
 * one send go out as one `MULTI`/`EXEC` transaction of `XADD`s, pipelined in one round trip and
 * applied all or nothing. The client reconnects by itself; while Redis is away nothing is queued
 * in the client: batches wait in the shared bounded delivery queue (drop-oldest, counted and
 * logged) and are retried with backoff. A send whose reply was lost (Redis died after applying
 * it) is sent again with the same ids, so consumers see duplicates, never gaps: de-duplicate by
 * `id`.
 *
 * Node only (it opens TCP connections); import it from `statsworker-wasm/redis`.
 */
export class RedisStreamReporter extends NetworkReporter {
  readonly #stream: string;
  readonly #maxLen: number | undefined;
  readonly #maxEntryBytes: number;
  readonly #clientOptions: StreamClientOptions;
  // created on the first send, and again after a hung connection was torn down
  #client: StreamClient | undefined;
  readonly #everReady = new WeakSet<StreamClient>();

  /**
   * @param options see {@link RedisStreamReporterOptions}; `url` and `stream` are required
   * @throws {ArgumentError} on a bad url, an empty stream name, or a bad bound or delay
   */
  constructor(options: RedisStreamReporterOptions) {
    if (typeof options?.stream !== "string" || options.stream === "") {
      throw new ArgumentError("redis stream reporter needs a non-empty stream");
    }
    super("redis", options);
    this.#stream = options.stream;
    if (options.maxLen !== undefined && !(Number.isInteger(options.maxLen) && options.maxLen >= 1)) {
      throw new ArgumentError(`maxLen must be an integer >= 1, got ${String(options.maxLen)}`);
    }
    this.#maxLen = options.maxLen;
    const maxEntryBytes = options.maxEntryBytes ?? 256 * 1024;
    if (typeof maxEntryBytes !== "number" || !(maxEntryBytes >= 1)) {
      throw new ArgumentError(`maxEntryBytes must be a number >= 1, got ${String(maxEntryBytes)}`);
    }
    this.#maxEntryBytes = maxEntryBytes;
    this.#clientOptions = {
      url: checkRedisUrl(options.url),
      logger: options.logger ?? silentLogger,
      role: "redis reporter",
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    };
  }

  protected override async send(group: readonly QueuedBatch[], signal: AbortSignal): Promise<number> {
    const client = this.#connect();
    if (!client.isReady) {
      // Fail at once while reconnecting: a send waiting for the connection would hold its batches
      // in flight, where the queue bound cannot drop them, and the newest would be dropped instead
      // of the oldest. Only a client's first connection is waited for.
      if (this.#everReady.has(client)) throw new DeliveryError("redis is not connected");
      await untilReady(client, signal);
    }
    const entries = this.#entries(group);
    const multi = client.multi();
    const trim = this.#maxLen === undefined ? undefined : { TRIM: { strategy: "MAXLEN", strategyModifier: "~", threshold: this.#maxLen } as const };
    for (const bytes of entries) {
      multi.xAdd(this.#stream, "*", { [STATS_FIELD]: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) }, trim);
    }
    // A server that stopped answering (not closed: hung) would leave every retried transaction
    // waiting in the client with its bytes; tear the connection down instead, which fails them.
    const onAbort = (): void => {
      if (this.#client === client) this.#client = undefined;
      client.destroy();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await multi.exec();
    } catch (err) {
      if (signal.aborted) throw new DeliveryError("redis did not answer in time", { code: "timeout", cause: err });
      // WRONGTYPE (the key holds something else) and other error replies cannot heal by retrying;
      // a closed or offline connection can.
      const message = replyMessage(err);
      const permanent = /^(WRONGTYPE|ERR|NOPERM|EXECABORT)/.test(message);
      throw new DeliveryError(`redis refused the entries: ${message}`, { permanent, cause: err });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    let bytes = 0;
    for (const entry of entries) bytes += entry.byteLength;
    return bytes;
  }

  protected override async closeTransport(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client?.isOpen === true) {
      // close() waits for the replies of commands already sent; destroy() would drop them.
      await client.close().catch(() => client.destroy());
    }
  }

  // Connects on the first send, not in the constructor: a reporter that never reports opens nothing.
  #connect(): StreamClient {
    if (this.#client !== undefined) return this.#client;
    const client = createStreamClient(this.#clientOptions);
    client.once("ready", () => this.#everReady.add(client));
    client.connect().catch(() => {
      // Rejects only when the client is destroyed before it ever connected; sends see !isReady.
    });
    this.#client = client;
    return client;
  }

  // The group's bytes cut at stat boundaries and put back together into entries of at most
  // maxEntryBytes: concatenated AnalyticsStats encodings are one valid AnalyticsStats.
  #entries(group: readonly QueuedBatch[]): Uint8Array[] {
    const entries: Uint8Array[] = [];
    let run: Uint8Array[] = [];
    let runBytes = 0;
    for (const batch of group) {
      for (const piece of splitBatch(batch.bytes, this.#maxEntryBytes)) {
        if (run.length > 0 && runBytes + piece.byteLength > this.#maxEntryBytes) {
          entries.push(run.length === 1 ? run[0]! : concatBatches(run));
          run = [];
          runBytes = 0;
        }
        run.push(piece);
        runBytes += piece.byteLength;
      }
    }
    if (run.length > 0) entries.push(run.length === 1 ? run[0]! : concatBatches(run));
    return entries;
  }
}

// Waits for the connection attempt in progress: resolves when the client is ready, fails the send
// when the attempt fails (the client keeps reconnecting; the queue retries with backoff).
function untilReady(client: StreamClient, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: unknown): void => {
      client.off("ready", onReady);
      client.off("error", onError);
      signal.removeEventListener("abort", onAbort);
      if (err === undefined) resolve();
      else reject(new DeliveryError(`redis is not connected: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
    };
    const onReady = (): void => done();
    const onError = (err: unknown): void => done(err);
    const onAbort = (): void => done(new Error("attempt aborted"));
    client.on("ready", onReady);
    client.on("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

// The message of the first failed command of a transaction (node-redis wraps them in one
// MultiErrorReply), or of the error itself.
function replyMessage(err: unknown): string {
  const multi = err as { replies?: unknown[]; errorIndexes?: number[] } | null;
  const index = multi?.errorIndexes?.[0];
  const first = index === undefined ? err : multi?.replies?.[index];
  return first instanceof Error ? first.message : String(first);
}
