// StreamCollector against a real redis-server: group creation, ack-after-write, malformed
// entries, reclaiming a dead consumer's entries, its own pending entries, a Redis restart.
import assert from "node:assert/strict";
import { after, before, suite, test } from "node:test";
import { STATS_FIELD } from "../../src/redis/stream-entry.ts";
import { StreamCollector, type StreamCollectorOptions } from "../../src/redis/stream-collector.ts";
import { isArgumentError } from "../../src/errors.ts";
import { RecordingLogger } from "../helpers.ts";
import { encodedBatch, testClient, waitUntil } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

let redis: RedisServer;
let client: Awaited<ReturnType<typeof testClient>>;
let streams = 0;

before(async () => {
  redis = await startRedis({ persistent: true });
  client = await testClient(redis.url);
});
after(async () => {
  client.destroy();
  await redis.stop();
});

/** A fresh stream key per test, so tests never see each other's entries. */
function newStream(): string {
  return `stats:${++streams}`;
}

async function addBatches(stream: string, from: number, count: number, statsPerBatch = 3): Promise<void> {
  for (let b = from; b < from + count; b++) await client.xAdd(stream, "*", { [STATS_FIELD]: Buffer.from(encodedBatch(b, statsPerBatch)) });
}

async function pendingCount(stream: string, group: string): Promise<number> {
  const reply = (await client.xPending(stream, group)) as { pending: number };
  return Number(reply.pending);
}

/** A collector whose sink records every line; `gate` (when set) holds each write until opened. */
function collector(stream: string, options: Partial<StreamCollectorOptions> = {}) {
  const lines: string[] = [];
  const logger = new RecordingLogger();
  const c = new StreamCollector({
    url: redis.url,
    stream,
    group: "g",
    consumer: "c1",
    blockMs: 50,
    logger,
    sink: async (text) => {
      lines.push(...text.split("\n").slice(0, -1));
    },
    ...options,
  });
  return { c, lines, logger, ids: () => lines.map((l) => (JSON.parse(l) as { id: string }).id) };
}

suite("StreamCollector", () => {
  test("creates the missing group from the start of the stream and writes one line per stat", async () => {
    const stream = newStream();
    await addBatches(stream, 0, 4); // before any group exists
    const { c, ids } = collector(stream);
    const run = c.run();
    await waitUntil(() => ids().length === 12, "12 lines");
    await c.stop();
    await run;
    assert.deepEqual(new Set(ids()), new Set(Array.from({ length: 12 }, (_, i) => `AS_${Math.floor(i / 3)}_${i % 3}`)));
    assert.equal(await pendingCount(stream, "g"), 0);
    assert.equal(c.counters.acked, 4);
    assert.equal(c.counters.stats, 12);
  });

  test("acknowledges an entry only after the sink has resolved for its lines", async () => {
    const stream = newStream();
    let open: () => void = () => {};
    let writes = 0;
    const { c } = collector(stream, {
      sink: () => {
        writes++;
        return new Promise<void>((resolve) => (open = resolve));
      },
    });
    const run = c.run();
    await addBatches(stream, 0, 2);
    await waitUntil(() => writes === 1, "the first write");
    // read and handed to the sink, not yet written: still pending
    assert.equal(await pendingCount(stream, "g"), 2);
    assert.equal(c.counters.acked, 0);
    open();
    await waitUntil(async () => (await pendingCount(stream, "g")) === 0, "the acknowledgement");
    await c.stop();
    await run;
  });

  test("hands a read of large entries to the sink in chunks, acknowledging each chunk's entries after it", async () => {
    const stream = newStream();
    await addBatches(stream, 0, 4, 6000); // about 2 MB of JSON each
    const calls: Array<{ chars: number; pendingBefore: number }> = [];
    const { c } = collector(stream, {
      sink: async (text) => {
        calls.push({ chars: text.length, pendingBefore: await pendingCount(stream, "g") });
      },
    });
    const run = c.run();
    await waitUntil(() => c.counters.acked === 4, "4 acknowledgements");
    await c.stop();
    await run;
    assert.ok(calls.length >= 2, `${calls.length} sink calls`);
    assert.ok(calls.every((call) => call.chars < 8 << 20), JSON.stringify(calls));
    // the first chunk's entries were acknowledged before the next chunk was written
    assert.ok(calls[1]!.pendingBefore < 4, JSON.stringify(calls));
    assert.equal(c.counters.stats, 24_000);
  });

  test("leaves the entries pending and rejects run() when the sink fails", async () => {
    const stream = newStream();
    const { c } = collector(stream, { sink: () => Promise.reject(new Error("disk full")) });
    await addBatches(stream, 0, 2);
    await assert.rejects(c.run(), /disk full/);
    assert.equal(await pendingCount(stream, "g"), 2);
    assert.equal(c.counters.acked, 0);
  });

  test("logs, counts and acknowledges a malformed entry and still writes the good ones", async () => {
    const stream = newStream();
    await addBatches(stream, 0, 1);
    await client.xAdd(stream, "*", { [STATS_FIELD]: Buffer.from([0x0a, 0x05, 0x01]) }); // length past the end
    await client.xAdd(stream, "*", { other: "x" });
    await addBatches(stream, 1, 1);
    const { c, ids, logger } = collector(stream);
    const run = c.run();
    await waitUntil(() => c.counters.acked === 4, "4 acknowledgements");
    await c.stop();
    await run;
    assert.equal(ids().length, 6);
    assert.equal(c.counters.malformed, 2);
    assert.equal(logger.count("error"), 2);
    assert.equal(await pendingCount(stream, "g"), 0);
  });

  test("takes over the entries a dead consumer left pending once they are idle for claimIdleMs", async () => {
    const stream = newStream();
    await client.xGroupCreate(stream, "g", "0", { MKSTREAM: true });
    await addBatches(stream, 0, 5);
    // "dead" reads everything and never acknowledges
    await client.xReadGroup("g", "dead", { key: stream, id: ">" }, { COUNT: 100 });
    assert.equal(await pendingCount(stream, "g"), 5);
    const started = Date.now();
    const { c, ids } = collector(stream, { consumer: "alive", claimIdleMs: 300 });
    const run = c.run();
    await waitUntil(() => ids().length === 15, "15 claimed lines");
    // not before the entries were idle for claimIdleMs
    assert.ok(Date.now() - started >= 250, `claimed after ${Date.now() - started} ms`);
    await c.stop();
    await run;
    assert.equal(c.counters.claimed, 5);
    assert.equal(await pendingCount(stream, "g"), 0);
  });

  test("finishes its own pending entries first when restarted under the same name", async () => {
    const stream = newStream();
    await client.xGroupCreate(stream, "g", "0", { MKSTREAM: true });
    await addBatches(stream, 0, 3);
    // an earlier run of c1 read these and died before writing them
    await client.xReadGroup("g", "c1", { key: stream, id: ">" }, { COUNT: 100 });
    const { c, ids } = collector(stream, { claimIdleMs: 3_600_000 });
    const run = c.run();
    await waitUntil(() => ids().length === 9, "9 lines from the own pending list");
    await c.stop();
    await run;
    assert.equal(c.counters.claimed, 0);
    assert.equal(await pendingCount(stream, "g"), 0);
  });

  test("counts and acknowledges its own pending entries that were trimmed away, and goes on", async () => {
    const stream = newStream();
    await client.xGroupCreate(stream, "g", "0", { MKSTREAM: true });
    await addBatches(stream, 0, 3);
    await client.xReadGroup("g", "c1", { key: stream, id: ">" }, { COUNT: 100 });
    // the oldest two are trimmed while c1 is away
    await client.xTrim(stream, "MAXLEN", 1);
    const { c, ids, logger } = collector(stream, { claimIdleMs: 3_600_000 });
    const run = c.run();
    await waitUntil(() => c.counters.acked === 3, "3 acknowledgements");
    await addBatches(stream, 3, 1);
    await waitUntil(() => ids().length === 6, "the surviving entry and a new one");
    await c.stop();
    await run;
    assert.equal(c.counters.trimmed, 2);
    assert.equal(logger.lines.filter((l) => /trimmed/.test(l.message)).length, 2, JSON.stringify(logger.lines));
    assert.equal(logger.count("warn"), 2, JSON.stringify(logger.lines));
    assert.equal(await pendingCount(stream, "g"), 0);
    assert.deepEqual(new Set(ids()), new Set(["AS_2_0", "AS_2_1", "AS_2_2", "AS_3_0", "AS_3_1", "AS_3_2"]));
  });

  test("carries on through a Redis restart and loses nothing that was added", async () => {
    const stream = newStream();
    const { c, ids } = collector(stream);
    const run = c.run();
    await addBatches(stream, 0, 3);
    await waitUntil(() => ids().length === 9, "9 lines before the restart");
    await redis.kill();
    await redis.start();
    await client.connect().catch(() => {}); // the test's own client reconnects by itself; this is a no-op then
    await waitUntil(() => client.isReady, "the test client to reconnect");
    await addBatches(stream, 3, 3);
    await waitUntil(() => new Set(ids()).size === 18, "18 distinct lines after the restart");
    await c.stop();
    await run;
    assert.ok(c.counters.outages >= 1);
    assert.equal(await pendingCount(stream, "g"), 0);
  });

  test("stop() keeps its deadline when Redis is gone and reports what stayed unacknowledged", async () => {
    const own = await startRedis();
    try {
      const c2 = await testClient(own.url);
      await c2.xAdd("s", "*", { [STATS_FIELD]: Buffer.from(encodedBatch(0, 1)) });
      c2.destroy();
      let open: () => void = () => {};
      let writes = 0;
      const c = new StreamCollector({
        url: own.url,
        stream: "s",
        group: "g",
        consumer: "c1",
        blockMs: 50,
        sink: () => {
          writes++;
          return new Promise<void>((resolve) => (open = resolve));
        },
      });
      const run = c.run();
      await waitUntil(() => writes === 1, "the write");
      await own.kill();
      open();
      const t0 = Date.now();
      await c.stop(300);
      await run;
      assert.ok(Date.now() - t0 < 2_000, `stop took ${Date.now() - t0} ms`);
      assert.equal(c.unacked, 1);
    } finally {
      await own.stop();
    }
  });

  test("stop() keeps its deadline when the server stops answering mid-read", { timeout: 10_000 }, async () => {
    const own = await startRedis();
    try {
      const c = new StreamCollector({ url: own.url, stream: "s", group: "g", consumer: "c1", blockMs: 50, sink: async () => {} });
      const run = c.run();
      await waitUntil(async () => {
        const probe = await testClient(own.url);
        try {
          return ((await probe.xInfoConsumers("s", "g").catch(() => [])) as unknown[]).length === 1;
        } finally {
          probe.destroy();
        }
      }, "the collector to read");
      own.process.kill("SIGSTOP");
      try {
        const t0 = Date.now();
        await c.stop(300);
        await run;
        assert.ok(Date.now() - t0 < 2_000, `stop took ${Date.now() - t0} ms`);
      } finally {
        own.process.kill("SIGCONT");
      }
    } finally {
      await own.stop();
    }
  });

  test("stop() rejects a bad deadline with an ArgumentError", () => {
    const c = collector(newStream()).c;
    for (const bad of [-1, NaN, "1" as unknown as number]) {
      assert.throws(() => c.stop(bad), (e) => isArgumentError(e) && /deadlineMs/.test(e.message));
    }
  });

  test("rejects run() when the key is not a stream, instead of retrying forever", async () => {
    const stream = newStream();
    await client.set(stream, "not a stream");
    const { c } = collector(stream);
    await assert.rejects(c.run(), /WRONGTYPE/);
  });

  test("rejects bad options with an ArgumentError naming them", () => {
    const sink = async () => {};
    const base = { url: redis.url, stream: "s", group: "g", consumer: "c", sink };
    assert.throws(() => new StreamCollector({ ...base, url: "http://x" }), (e) => isArgumentError(e) && /redis:\/\//.test(e.message));
    assert.throws(() => new StreamCollector({ ...base, group: "" }), (e) => isArgumentError(e) && /group/.test(e.message));
    assert.throws(() => new StreamCollector({ ...base, claimIdleMs: 0 }), (e) => isArgumentError(e) && /claimIdleMs/.test(e.message));
    assert.throws(() => new StreamCollector({ ...base, count: 1.5 }), (e) => isArgumentError(e) && /count/.test(e.message));
  });
});
