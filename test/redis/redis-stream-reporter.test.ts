// RedisStreamReporter against a real redis-server: what an entry holds, coalescing and splitting,
// trimming, the queue bound while Redis is down, a hung server, close() deadlines, bad options.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { after, before, suite, test } from "node:test";
import { isArgumentError } from "../../src/errors.ts";
import { AnalyticsStatsSchema, type AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { RedisStreamReporter, type RedisStreamReporterOptions } from "../../src/redis/redis-stream-reporter.ts";
import { STATS_FIELD } from "../../src/redis/stream-entry.ts";
import { RecordingLogger } from "../helpers.ts";
import { encodedBatch, idStat, testClient, waitUntil } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

let redis: RedisServer;
let client: Awaited<ReturnType<typeof testClient>>;
const reporters: RedisStreamReporter[] = [];
const servers: RedisServer[] = [];
let streams = 0;

before(async () => {
  redis = await startRedis();
  client = await testClient(redis.url);
});
after(async () => {
  await Promise.all(reporters.map((r) => r.close(0)));
  client.destroy();
  await redis.stop();
  await Promise.all(servers.map((s) => s.stop()));
});

function reporter(options: Partial<RedisStreamReporterOptions> & { url?: string } = {}): RedisStreamReporter {
  const r = new RedisStreamReporter({ url: redis.url, stream: `rep:${++streams}`, ...options });
  reporters.push(r);
  return r;
}

/** Every entry of `stream`, oldest first, decoded. */
async function entries(stream: string, on = client): Promise<AnalyticsStat[][]> {
  const reply = (await on.xRange(stream, "-", "+")) as Array<{ message: Record<string, Buffer> }>;
  return reply.map((e) => fromBinary(AnalyticsStatsSchema, e.message[STATS_FIELD]!).stats);
}

/** Stats of batch `b` without ids, so the reporter stamps them. */
function unstamped(b: number, count: number): AnalyticsStat[] {
  return Array.from({ length: count }, (_, i) => ({ ...idStat(b, i), id: "" }));
}

suite("RedisStreamReporter", () => {
  test("appends the batch as one entry, stamped with node and unique AS_ ids, the rest unchanged", async () => {
    const stream = `rep:${++streams}`;
    const r = reporter({ stream, node: "ND_one" });
    const input = unstamped(0, 5);
    r.reportBytes(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: input })));
    await r.flush();
    const [entry, ...rest] = await entries(stream);
    assert.equal(rest.length, 0);
    assert.equal(entry!.length, 5);
    const ids = new Set(entry!.map((s) => s.id));
    assert.equal(ids.size, 5);
    for (const id of ids) assert.match(id, /^AS_[0-9A-Za-z]{12}$/);
    assert.deepEqual(
      entry!.map((s) => ({ ...s, id: "", node: "" })),
      input,
    );
    assert.ok(entry!.every((s) => s.node === "ND_one"));
    assert.equal(r.counters.sentStats, 5);
  });

  test("keeps ids a stat already has, so a re-reported batch de-duplicates", async () => {
    const stream = `rep:${++streams}`;
    const r = reporter({ stream });
    r.reportBytes(encodedBatch(7, 3));
    await r.flush();
    assert.deepEqual((await entries(stream))[0]!.map((s) => s.id), ["AS_7_0", "AS_7_1", "AS_7_2"]);
  });

  test("coalesces batches reported together into one entry, in order", async () => {
    const stream = `rep:${++streams}`;
    const r = reporter({ stream });
    for (let b = 0; b < 10; b++) r.reportBytes(encodedBatch(b, 2));
    await r.flush();
    const all = await entries(stream);
    assert.equal(all.length, 1);
    assert.deepEqual(all[0]!.map((s) => s.id), Array.from({ length: 20 }, (_, i) => `AS_${i >> 1}_${i & 1}`));
  });

  test("splits a send into entries of at most maxEntryBytes, appended in order", async () => {
    const stream = `rep:${++streams}`;
    const one = encodedBatch(0, 4).length;
    const r = reporter({ stream, maxEntryBytes: one * 3 });
    for (let b = 0; b < 10; b++) r.reportBytes(encodedBatch(b, 4));
    await r.flush();
    const all = await entries(stream);
    assert.deepEqual(all.map((e) => e.length), [12, 12, 12, 4]);
    assert.deepEqual(all.flat().map((s) => s.id), Array.from({ length: 40 }, (_, i) => `AS_${i >> 2}_${i & 3}`));
  });

  test("trims the stream to about maxLen entries", async () => {
    const stream = `rep:${++streams}`;
    const r = reporter({ stream, maxLen: 100, maxEntryBytes: 1 });
    for (let b = 0; b < 1000; b++) r.reportBytes(encodedBatch(b, 1));
    await r.flush();
    const length = await client.xLen(stream);
    // MAXLEN ~ trims whole macro nodes (100 entries each by default): at least 100 are kept
    assert.ok(length >= 100 && length < 300, `stream length ${length}`);
  });

  test("holds at most maxQueuedBatches while Redis is down, drops the oldest, and delivers the rest after it returns", async () => {
    const own = await startRedis({ persistent: true });
    servers.push(own);
    const logger = new RecordingLogger();
    const stream = "down";
    const r = reporter({ url: own.url, stream, maxQueuedBatches: 5, logger, maxRetryDelayMs: 100 });
    r.reportBytes(encodedBatch(0, 2));
    await r.flush();
    await own.kill();
    let maxQueued = 0;
    for (let b = 1; b <= 20; b++) {
      r.reportBytes(encodedBatch(b, 2));
      // one batch per turn of the event loop, as one flush window per turn would be (batches
      // reported in the same turn are queued, bounded and dropped as one unit)
      await new Promise((resolve) => setImmediate(resolve));
      maxQueued = Math.max(maxQueued, r.counters.queued);
    }
    assert.ok(maxQueued <= 5, `queued ${maxQueued}`);
    assert.equal(r.counters.dropped, 15);
    assert.ok(logger.lines.some((l) => l.level === "warn" && /queue full|dropping/.test(l.message)), "the drop is logged");
    await own.start();
    await r.flush();
    const c2 = await testClient(own.url);
    try {
      const ids = (await entries(stream, c2)).flat().map((s) => s.id);
      // batch 0 survived the restart in the append-only file; of the rest nothing within the
      // bound is lost: the 5 newest batches, each once
      const expected = [0, 16, 17, 18, 19, 20].flatMap((b) => [`AS_${b}_0`, `AS_${b}_1`]);
      assert.deepEqual(ids, expected, JSON.stringify({ ids, counters: r.counters, maxQueued }));
    } finally {
      c2.destroy();
    }
    const c = r.counters;
    assert.equal(c.batches, c.sent + c.dropped + c.queued);
  });

  test("holds at most maxQueuedBytes while Redis is down", async () => {
    const r = reporter({ url: "redis://127.0.0.1:1", maxQueuedBytes: 1000 });
    const size = encodedBatch(0, 3).length;
    for (let b = 0; b < 50; b++) {
      r.reportBytes(encodedBatch(b, 3));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(r.counters.queued * size <= 1000, `${r.counters.queued} batches of ${size} bytes`);
    assert.ok(r.counters.dropped >= 50 - Math.floor(1000 / size));
  });

  test("a server that stops answering is given up on after attemptTimeoutMs and delivered to once it answers again", async () => {
    const own = await startRedis();
    servers.push(own);
    const stream = "hung";
    const r = reporter({ url: own.url, stream, attemptTimeoutMs: 200, maxRetryDelayMs: 100 });
    r.reportBytes(encodedBatch(0, 1));
    await r.flush();
    own.process.kill("SIGSTOP");
    try {
      r.reportBytes(encodedBatch(1, 1));
      await waitUntil(() => r.counters.retries >= 2, "two timed-out attempts");
    } finally {
      own.process.kill("SIGCONT");
    }
    await r.flush();
    const c2 = await testClient(own.url);
    try {
      const ids = new Set((await entries(stream, c2)).flat().map((s) => s.id));
      assert.deepEqual(ids, new Set(["AS_0_0", "AS_1_0"]));
    } finally {
      c2.destroy();
    }
  });

  test("close() returns by its deadline while Redis is unreachable and counts what it drops", async () => {
    const r = reporter({ url: "redis://127.0.0.1:1" });
    for (let b = 0; b < 3; b++) r.reportBytes(encodedBatch(b, 2));
    const t0 = Date.now();
    await r.close(300);
    assert.ok(Date.now() - t0 < 1_500, `close took ${Date.now() - t0} ms`);
    assert.equal(r.counters.droppedStats, 6);
    assert.equal(r.counters.queued, 0);
  });

  test("close() delivers what is queued, then refuses later batches", async () => {
    const stream = `rep:${++streams}`;
    const r = reporter({ stream });
    r.reportBytes(encodedBatch(0, 2));
    await r.close();
    r.reportBytes(encodedBatch(1, 2));
    assert.equal((await entries(stream)).flat().length, 2);
    assert.equal(r.counters.dropped, 1);
  });

  test("a key that is not a stream fails the batch permanently, logged and counted", async () => {
    const stream = `rep:${++streams}`;
    await client.set(stream, "not a stream");
    const logger = new RecordingLogger();
    const r = reporter({ stream, logger });
    r.reportBytes(encodedBatch(0, 2));
    await r.flush();
    assert.equal(r.counters.failures, 1);
    assert.equal(r.counters.droppedStats, 2);
    assert.ok(logger.lines.some((l) => l.level === "error" && JSON.stringify(l.fields).includes("WRONGTYPE")), JSON.stringify(logger.lines));
  });

  test("undecodable bytes are dropped and counted as a failure, never thrown", async () => {
    const r = reporter();
    r.reportBytes(new Uint8Array([0x0a, 0x05, 0x01]));
    assert.equal(r.counters.failures, 1);
    await r.flush();
  });

  test("rejects bad options with an ArgumentError naming them", () => {
    const base = { url: redis.url, stream: "s" };
    assert.throws(() => new RedisStreamReporter({ ...base, url: "http://127.0.0.1" }), (e) => isArgumentError(e) && /redis:\/\//.test(e.message));
    assert.throws(() => new RedisStreamReporter({ ...base, stream: "" }), (e) => isArgumentError(e) && /stream/.test(e.message));
    assert.throws(() => new RedisStreamReporter({ ...base, maxLen: 0 }), (e) => isArgumentError(e) && /maxLen/.test(e.message));
    assert.throws(() => new RedisStreamReporter({ ...base, maxEntryBytes: NaN }), (e) => isArgumentError(e) && /maxEntryBytes/.test(e.message));
    assert.throws(() => new RedisStreamReporter({ ...base, maxQueuedBatches: 0 }), (e) => isArgumentError(e) && /maxQueuedBatches/.test(e.message));
  });
});
