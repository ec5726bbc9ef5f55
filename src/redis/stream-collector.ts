/**
 * The consumer side of the fleet: reads a Redis stream of encoded `AnalyticsStats` batches in a
 * consumer group and hands every stat on as one proto3-JSON line, acknowledging an entry only
 * after its lines are safely written.
 *
 * @module
 */
import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import { setTimeout as sleep } from "node:timers/promises";
import { ArgumentError } from "../errors.ts";
import { checkDeadline } from "../reporters/delivery.ts";
import { AnalyticsStatSchema, AnalyticsStatsSchema } from "../gen/livekit/livekit_analytics_pb.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { createStreamClient, isReplyError, type StreamClient } from "./client.ts";
import { STATS_FIELD } from "./stream-entry.ts";

/**
 * Where a collector writes its lines: resolves once `text` is written and flushed (handed to
 * the operating system, or synced to disk, as the sink chooses), rejects when it cannot be.
 * Entries are acknowledged only after this resolves.
 */
export type CollectorSink = (text: string) => Promise<void>;

/** Options of {@link StreamCollector}. */
export interface StreamCollectorOptions {
  /** `redis://` or `rediss://` URL of the server holding the stream. Required. */
  url: string;
  /** The stream's key. Required. */
  stream: string;
  /** The consumer group; created (from the stream's first entry) when missing. Required. */
  group: string;
  /** This consumer's name within the group; reuse it after a restart to finish its own pending entries. Required. */
  consumer: string;
  /** Receives each read's lines; see {@link CollectorSink}. Required. */
  sink: CollectorSink;
  /**
   * Entries pending in the group for at least this long, in milliseconds, are taken over from
   * their consumer (presumed dead) with `XAUTOCLAIM`. Default: `30_000`.
   */
  claimIdleMs?: number;
  /**
   * Most entries taken per read or claim. An entry holds up to about 2 000 stats, and the last
   * entries of a read stay pending until the read is written: keep reads short next to
   * `claimIdleMs`, or other consumers claim them meanwhile (duplicates, not losses). Default: `10`.
   */
  count?: number;
  /** Longest a read waits for new entries, in milliseconds; bounds how long a stop takes. Default: `1_000`. */
  blockMs?: number;
  /** Where outages, claims and malformed entries are logged. Default: {@link silentLogger}. */
  logger?: Logger;
}

/** What a collector has done so far; every count starts at 0 and only grows. */
export interface CollectorCounters {
  /** entries read, claimed ones included */
  readonly entries: number;
  /** entries taken over from another consumer with `XAUTOCLAIM` */
  readonly claimed: number;
  /** stats written as lines */
  readonly stats: number;
  /** entries acknowledged */
  readonly acked: number;
  /** entries without a decodable `stats` field: logged with their id and acknowledged */
  readonly malformed: number;
  /** pending entries that were trimmed from the stream before anyone processed them */
  readonly trimmed: number;
  /** times the connection to Redis was lost after it had been up */
  readonly outages: number;
}

// Lines are handed to the sink (and their entries acknowledged) in chunks of about this many
// UTF-16 code units, so memory stays bounded however large the entries of one read are.
const MAX_CHUNK_CHARS = 4 << 20;

// The pending list is scanned for idle entries every half claimIdleMs, at least this often.
const CLAIM_SCAN_MAX_MS = 1_000;

// Longer delays overflow setTimeout's 32-bit field and fire after 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Default `stop()` deadline for the last acknowledgements, in milliseconds. */
export const DEFAULT_STOP_DEADLINE_MS = 10_000;

interface Entry {
  readonly id: string;
  /** `null` for a pending entry that was trimmed from the stream before it was processed */
  readonly fields: Map<string, Buffer> | null;
}

/**
 * Reads a stream in a consumer group and writes every stat as a line, at least once.
 *
 * The loop: first the consumer's own pending entries (left by an earlier run under the same
 * name), then new entries (`XREADGROUP ... >`), and every half `claimIdleMs` (at least every
 * second) the group's entries idle for longer than `claimIdleMs` (`XAUTOCLAIM`). A read's lines
 * go to the sink in chunks of about 4 Mi characters; each chunk's entries are acknowledged
 * (`XACK`) only after the sink has resolved for it. While Redis is away the
 * collector waits and reconnects, acknowledges what it wrote before the outage, and reads its
 * own pending entries again. An entry whose lines were written but whose acknowledgement was
 * lost is delivered again later: duplicates are possible, losses are not; de-duplicate by `id`.
 */
export class StreamCollector {
  readonly #stream: string;
  readonly #group: string;
  readonly #consumer: string;
  readonly #sink: CollectorSink;
  readonly #claimIdleMs: number;
  readonly #claimEveryMs: number;
  readonly #count: number;
  readonly #blockMs: number;
  readonly #logger: Logger;
  readonly #client: StreamClient;
  readonly #counters = { entries: 0, claimed: 0, stats: 0, acked: 0, malformed: 0, trimmed: 0, outages: 0 };
  // ids whose lines are written but whose XACK has not succeeded yet
  #unacked: string[] = [];
  // the own-pending cursor: a string while re-reading this consumer's pending entries
  #pendingFrom: string | undefined = "0";
  #claimFrom = "0-0";
  #nextClaimAt = 0;
  #groupReady = false;
  #stopping = false;
  #stopDeadline = Infinity;
  #wake: AbortController = new AbortController();
  #running: Promise<void> | undefined;

  /**
   * @param options see {@link StreamCollectorOptions}
   * @throws {ArgumentError} on a bad url, an empty stream, group or consumer, or a bad number
   */
  constructor(options: StreamCollectorOptions) {
    for (const name of ["stream", "group", "consumer"] as const) {
      if (typeof options?.[name] !== "string" || options[name] === "") {
        throw new ArgumentError(`stream collector needs a non-empty ${name}`);
      }
    }
    if (typeof options.sink !== "function") throw new ArgumentError("stream collector needs a sink function");
    this.#stream = options.stream;
    this.#group = options.group;
    this.#consumer = options.consumer;
    this.#sink = options.sink;
    this.#claimIdleMs = integer("claimIdleMs", options.claimIdleMs ?? 30_000, 1);
    // Scanning is cheap (XAUTOCLAIM looks at a bounded slice of the pending list per call), and
    // scanning often keeps the takeover delay close to claimIdleMs itself.
    this.#claimEveryMs = Math.max(1, Math.min(CLAIM_SCAN_MAX_MS, Math.floor(this.#claimIdleMs / 2)));
    this.#count = integer("count", options.count ?? 10, 1);
    this.#blockMs = integer("blockMs", options.blockMs ?? 1_000, 1);
    this.#logger = options.logger ?? silentLogger;
    this.#client = createStreamClient({ url: options.url, logger: this.#logger, role: "stream collector" });
  }

  /** A snapshot of the counters, fresh on every read. */
  get counters(): CollectorCounters {
    return { ...this.#counters };
  }

  /**
   * Connects and collects until {@link stop} is called; resolves when the collector has
   * finished. Rejects when the sink fails (then nothing more is acknowledged), or when Redis
   * answers that the key is not a stream (`WRONGTYPE`) or that reading it is not allowed
   * (`NOPERM`).
   * Calling it again returns the same promise.
   */
  run(): Promise<void> {
    this.#running ??= this.#loop().finally(() => this.#disconnect());
    return this.#running;
  }

  /**
   * Asks the collector to stop: the read in progress (at most `blockMs`) is finished, its lines
   * written and its entries acknowledged, then {@link run} resolves. Acknowledgements that Redis
   * cannot take are retried until `deadlineMs` from now; after that the entries stay pending and
   * are delivered again later (to this consumer name, or to whoever claims them). At the deadline
   * the connection is closed, so a server that stopped answering cannot hold the collector; only
   * a sink write in progress is waited for.
   *
   * @param deadlineMs how long to keep trying, in milliseconds; `Infinity` waits as long as it
   *   takes. Default: `10_000`.
   * @returns the promise of {@link run}
   * @throws {ArgumentError} synchronously, when `deadlineMs` is not a number >= 0
   */
  stop(deadlineMs: number = DEFAULT_STOP_DEADLINE_MS): Promise<void> {
    checkDeadline(deadlineMs);
    if (!this.#stopping) {
      this.#stopping = true;
      this.#stopDeadline = Date.now() + deadlineMs;
      this.#wake.abort();
      if (deadlineMs < MAX_TIMER_MS) {
        // destroy() fails the command in flight (a read or an XACK the server never answers)
        const timer = setTimeout(() => this.#disconnect(), deadlineMs);
        const clear = (): void => clearTimeout(timer);
        this.run().then(clear, clear);
      }
    }
    return this.run();
  }

  /** Entries whose lines were written but are not acknowledged yet (0 after a clean stop). */
  get unacked(): number {
    return this.#unacked.length;
  }

  async #loop(): Promise<void> {
    this.#client.connect().catch(() => {
      // Only a destroy() before the first connection rejects this; the loop sees !isReady.
    });
    let failures = 0;
    let connected = false;
    while (!this.#stopping) {
      if (!this.#client.isReady) {
        // The client logs the loss and reconnects by itself; wait for it (or for stop()).
        if (connected) this.#counters.outages++;
        connected = false;
        // Whatever was delivered to us before the outage is in our pending list: read it again.
        this.#pendingFrom = "0";
        await this.#untilReadyOrError();
        continue;
      }
      connected = true;
      try {
        await this.#step();
        failures = 0;
      } catch (err) {
        if (isSinkFailure(err)) throw err.cause;
        // The key holds something that is not a stream, or the user may not read it: retrying
        // cannot help, and waiting forever would hide the mistake.
        if (isReplyError(err, "WRONGTYPE") || isReplyError(err, "NOPERM")) throw err;
        if (isReplyError(err, "NOGROUP")) {
          // The stream or the group is gone: a Redis restarted without persistence, or deleted.
          this.#logger.warn("stream collector group missing, creating it again", { stream: this.#stream, group: this.#group });
          this.#groupReady = false;
          this.#pendingFrom = "0";
          continue;
        }
        // A connection lost mid-command shows as !isReady on the next turn; anything else
        // (LOADING after a restart, an error reply) is retried after a pause, logged once.
        if (failures++ === 0 && this.#client.isReady) {
          this.#logger.warn("stream collector redis command failed, retrying", { error: String(err) });
        }
        this.#pendingFrom = "0";
        await this.#pause(Math.min(1_000, 20 * 2 ** Math.min(failures, 6)));
      }
    }
    await this.#finalAcks();
  }

  // Resolves on the client's next "ready" or "error" (a failed reconnection attempt), or on stop().
  #untilReadyOrError(): Promise<void> {
    const client = this.#client;
    const signal = this.#wake.signal;
    return new Promise((resolve) => {
      const done = (): void => {
        client.off("ready", done);
        client.off("error", done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      if (signal.aborted || client.isReady) return resolve();
      client.on("ready", done);
      client.on("error", done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async #step(): Promise<void> {
    if (this.#unacked.length > 0) await this.#ack();
    if (!this.#groupReady) await this.#createGroup();
    if (this.#pendingFrom !== undefined) {
      const entries = await this.#read(this.#pendingFrom, undefined);
      const last = entries.at(-1);
      if (last === undefined) this.#pendingFrom = undefined;
      else {
        this.#pendingFrom = last.id;
        await this.#process(entries);
      }
      return;
    }
    const now = Date.now();
    if (now >= this.#nextClaimAt) {
      await this.#claim();
      return;
    }
    const entries = await this.#read(">", Math.max(1, Math.min(this.#blockMs, this.#nextClaimAt - now)));
    if (entries.length > 0) await this.#process(entries);
  }

  async #createGroup(): Promise<void> {
    try {
      // From "0": entries the nodes added before any collector existed are collected too.
      await this.#client.xGroupCreate(this.#stream, this.#group, "0", { MKSTREAM: true });
      this.#logger.info("stream collector created its group", { stream: this.#stream, group: this.#group });
    } catch (err) {
      if (!isReplyError(err, "BUSYGROUP")) throw err;
    }
    this.#groupReady = true;
  }

  async #read(from: string, blockMs: number | undefined): Promise<Entry[]> {
    // Sent raw: node-redis's own XREADGROUP reply parser throws on the [id, nil] pairs that Redis
    // returns for pending entries trimmed from the stream, which would wedge this consumer.
    const args = ["XREADGROUP", "GROUP", this.#group, this.#consumer, "COUNT", String(this.#count)];
    if (blockMs !== undefined) args.push("BLOCK", String(blockMs));
    args.push("STREAMS", this.#stream, from);
    const reply: unknown = await this.#client.sendCommand(args);
    const entries: Entry[] = [];
    // RESP3 answers a map of stream name -> entries, RESP2 an array of [name, entries] pairs.
    const perStream: unknown[] =
      reply instanceof Map ? [...reply.values()]
      : Array.isArray(reply) ? reply.map((pair: unknown) => (Array.isArray(pair) ? pair[1] : undefined))
      : reply !== null && typeof reply === "object" ? Object.values(reply)
      : [];
    for (const list of perStream) {
      if (!Array.isArray(list)) continue;
      for (const raw of list) {
        if (!Array.isArray(raw) || raw[0] === undefined) continue;
        const [id, flat] = raw as [unknown, unknown];
        entries.push({ id: String(id), fields: Array.isArray(flat) ? pairs(flat) : null });
      }
    }
    return entries;
  }

  async #claim(): Promise<void> {
    const reply = (await this.#client.xAutoClaim(this.#stream, this.#group, this.#consumer, this.#claimIdleMs, this.#claimFrom, {
      COUNT: this.#count,
    })) as { nextId: unknown; messages: unknown[]; deletedMessages: unknown[] };
    const next = String(reply.nextId);
    this.#claimFrom = next;
    // A full scan of the pending list ends when the cursor comes back to 0-0.
    if (next === "0-0") this.#nextClaimAt = Date.now() + this.#claimEveryMs;
    const deleted = reply.deletedMessages?.length ?? 0;
    if (deleted > 0) {
      // Redis 7 drops trimmed ids from the pending list itself; they are gone for good.
      this.#counters.trimmed += deleted;
      this.#logger.warn("pending stream entries were trimmed before they were processed", { entries: deleted });
    }
    const entries: Entry[] = [];
    for (const m of reply.messages ?? []) pushEntry(entries, m);
    if (entries.length === 0) return;
    this.#counters.claimed += entries.length;
    this.#logger.info("stream collector claimed idle entries", { entries: entries.length, from: entries[0]!.id });
    await this.#process(entries);
  }

  async #process(entries: readonly Entry[]): Promise<void> {
    let text = "";
    let stats = 0;
    let done = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const lines = this.#lines(entry);
      for (const line of lines) text += line + "\n";
      stats += lines.length;
      // Written in chunks: a read of many large entries must not become one huge string.
      if (text.length >= MAX_CHUNK_CHARS || i === entries.length - 1) {
        await this.#write(text, stats, entries.slice(done, i + 1));
        done = i + 1;
        text = "";
        stats = 0;
      }
    }
  }

  // The entry's stats as JSON lines; none for an entry that is gone or unreadable (logged and
  // counted, and acknowledged with the rest: left pending, it would be claimed forever).
  #lines(entry: Entry): string[] {
    if (entry.fields === null) {
      this.#counters.trimmed++;
      this.#logger.warn("pending stream entry was trimmed before it was processed", { id: entry.id });
      return [];
    }
    try {
      const bytes = entry.fields.get(STATS_FIELD);
      if (bytes === undefined) throw new Error(`no ${STATS_FIELD} field`);
      return fromBinary(AnalyticsStatsSchema, bytes).stats.map((stat) => toJsonString(AnalyticsStatSchema, stat));
    } catch (err) {
      this.#counters.malformed++;
      this.#logger.error("stream entry is not an AnalyticsStats batch, skipped", { id: entry.id, error: String(err) });
      return [];
    }
  }

  async #write(text: string, stats: number, entries: readonly Entry[]): Promise<void> {
    this.#counters.entries += entries.length;
    if (text !== "") {
      try {
        await this.#sink(text);
      } catch (err) {
        throw new SinkFailure(err);
      }
    }
    this.#counters.stats += stats;
    for (const entry of entries) this.#unacked.push(entry.id);
    await this.#ack();
  }

  async #ack(): Promise<void> {
    const ids = this.#unacked;
    if (ids.length === 0) return;
    await this.#client.xAck(this.#stream, this.#group, ids);
    this.#unacked = this.#unacked.slice(ids.length);
    this.#counters.acked += ids.length;
  }

  async #finalAcks(): Promise<void> {
    let failures = 0;
    while (this.#unacked.length > 0) {
      try {
        if (!this.#client.isReady) throw new Error("the client is offline");
        await this.#ack();
      } catch (err) {
        if (Date.now() >= this.#stopDeadline) {
          this.#logger.warn("stream collector stopped with entries unacknowledged; they will be delivered again", {
            entries: this.#unacked.length,
            error: String(err),
          });
          return;
        }
        await sleep(Math.min(500, 20 * 2 ** Math.min(++failures, 6)));
      }
    }
  }

  #disconnect(): void {
    if (this.#client.isOpen) this.#client.destroy();
  }

  // Sleeps, but wakes at once on stop().
  async #pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#wake.signal });
    } catch {
      // aborted by stop()
    }
  }
}

/** The sink rejected: carried through the loop's retry handling untouched. */
class SinkFailure extends Error {
  constructor(cause: unknown) {
    super("sink failed", { cause });
  }
}

function isSinkFailure(err: unknown): err is SinkFailure {
  return err instanceof SinkFailure;
}

function pushEntry(out: Entry[], message: unknown): void {
  // XAUTOCLAIM before Redis 7 gives null for trimmed entries; skip anything not shaped as an entry.
  const m = message as { id?: unknown; message?: unknown } | null;
  if (m === null || typeof m !== "object" || m.id === undefined) return;
  const fields = new Map<string, Buffer>();
  const raw = m.message;
  if (raw instanceof Map) {
    for (const [k, v] of raw) if (Buffer.isBuffer(v)) fields.set(String(k), v);
  } else if (raw !== null && typeof raw === "object") {
    for (const [k, v] of Object.entries(raw)) if (Buffer.isBuffer(v)) fields.set(k, v);
  }
  out.push({ id: String(m.id), fields });
}

// An entry's fields as Redis sends them: [name, value, name, value, ...].
function pairs(flat: readonly unknown[]): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const value = flat[i + 1];
    if (Buffer.isBuffer(value)) fields.set(String(flat[i]), value);
  }
  return fields;
}

function integer(name: string, value: number, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ArgumentError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
