import assert from "node:assert/strict";
import { after, suite, test } from "node:test";
import { isArgumentError } from "../../src/errors.ts";
import type { ReporterCounters } from "../../src/reporters/counters.ts";
import {
  checkDeadline,
  DeliveryError,
  type DeliveryOptions,
  DeliveryQueue,
  type DeliveryTransport,
  isDeliveryError,
  type QueuedBatch,
} from "../../src/reporters/delivery.ts";
import { recordingLogger, sleep, waitFor } from "./helpers.ts";

// The core is tested here against an in-process transport, to pin its scheduling down exactly;
// the reporters built on it are tested against real servers in their own suites.

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
});

/** A batch whose single byte names it, so a transport can tell batches apart. */
function batch(n: number, size = 1): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(size);
  b[0] = n;
  return b;
}

interface Call {
  readonly names: number[];
  readonly at: number;
  readonly signal: AbortSignal;
}

/** A transport whose answer to each call is decided by `answer` (default: deliver). */
function transport(answer: (call: Call, n: number) => Promise<number | void> = () => Promise.resolve()): DeliveryTransport & {
  calls: Call[];
  closed: number;
} {
  const t = {
    calls: [] as Call[],
    closed: 0,
    send(group: readonly QueuedBatch[], signal: AbortSignal): Promise<number | void> {
      const call = { names: group.map((b) => b.bytes[0]!), at: Date.now(), signal };
      t.calls.push(call);
      return answer(call, t.calls.length - 1);
    },
    close(): void {
      t.closed++;
    },
  };
  return t;
}

function queue(t: DeliveryTransport, options: DeliveryOptions = {}): DeliveryQueue {
  const q = new DeliveryQueue("test", t, { initialRetryDelayMs: 5, minRetryDelayMs: 1, maxRetryDelayMs: 20, ...options });
  cleanups.push(() => q.close(0));
  return q;
}

function assertBalanced(c: ReporterCounters): void {
  assert.equal(c.batches, c.sent + c.dropped + c.queued, `batches = sent + dropped + queued in ${JSON.stringify(c)}`);
  if (c.queued === 0) assert.equal(c.stats, c.sentStats + c.droppedStats, `stats = sentStats + droppedStats in ${JSON.stringify(c)}`);
}

const never = (): Promise<never> => new Promise<never>(() => {});

suite("DeliveryQueue", () => {
  test("sends the batches pushed in one turn together, in order, as one send", async () => {
    const t = transport();
    const q = queue(t);
    for (let i = 0; i < 100; i++) q.push(batch(i), 3);
    await q.flush();
    assert.equal(t.calls.length, 1);
    assert.deepEqual(t.calls[0]!.names, Array.from({ length: 100 }, (_, i) => i));
    const c = q.counters;
    assert.equal(c.sent, 100);
    assert.equal(c.sentStats, 300);
    assert.equal(c.bytesSent, 100);
    assert.equal(c.requests, 1);
    assertBalanced(c);
  });

  test("splits groups at maxGroupBytes, maxGroupStats and maxGroupBatches, sending an oversized batch alone", async () => {
    const t = transport();
    const q = queue(t, { maxGroupBytes: 10 });
    q.push(batch(0, 4), 1);
    q.push(batch(1, 4), 1);
    q.push(batch(2, 4), 1);
    q.push(batch(3, 30), 1);
    q.push(batch(4, 2), 1);
    await q.flush();
    assert.deepEqual(t.calls.map((c) => c.names), [[0, 1], [2], [3], [4]]);
    const byStats = transport();
    const q2 = queue(byStats, { maxGroupStats: 5, maxGroupBatches: 3 });
    for (let i = 0; i < 7; i++) q2.push(batch(i), 2);
    q2.push(batch(7), 1);
    await q2.flush();
    assert.deepEqual(byStats.calls.map((c) => c.names), [[0, 1], [2, 3], [4, 5], [6, 7]]);
  });

  test("waits lingerMs for more batches before sending, and flush() skips the wait", async () => {
    const t = transport();
    const q = queue(t, { lingerMs: 80 });
    q.push(batch(0), 1);
    await sleep(20);
    q.push(batch(1), 1);
    await waitFor(() => t.calls.length === 1, "the lingering send");
    assert.deepEqual(t.calls[0]!.names, [0, 1]);
    const started = Date.now();
    q.push(batch(2), 1);
    await q.flush();
    assert.ok(Date.now() - started < 60, "flush() did not wait out the linger");
  });

  test("retries a failing send with the same batches in order, counting retries, and recovers", async () => {
    const t = transport((_c, n) => (n < 3 ? Promise.reject(new Error("boom")) : Promise.resolve()));
    const log = recordingLogger();
    const q = queue(t, { logger: log });
    q.push(batch(0), 1);
    q.push(batch(1), 1);
    await q.flush();
    assert.equal(t.calls.length, 4);
    for (const c of t.calls) assert.deepEqual(c.names, [0, 1]);
    const c = q.counters;
    assert.equal(c.retries, 3);
    assert.equal(c.sent, 2);
    assert.equal(c.failures, 0);
    assert.equal(log.entries.filter((e) => e.level === "warn").length, 1, "one warning per outage");
    assert.ok(log.entries.some((e) => e.message === "test endpoint recovered"));
  });

  test("never retries sooner than minRetryDelayMs, even when the receiver says Retry-After 0", async () => {
    const t = transport((_c, n) =>
      n < 5 ? Promise.reject(new DeliveryError("status 503", { retryAfterMs: 0 })) : Promise.resolve(),
    );
    const q = queue(t, { initialRetryDelayMs: 0, minRetryDelayMs: 40, maxRetryDelayMs: 1000 });
    q.push(batch(0), 1);
    await q.flush();
    assert.equal(t.calls.length, 6);
    for (let i = 1; i < t.calls.length; i++) {
      // setTimeout may fire a millisecond early by Date.now()'s rounding.
      assert.ok(t.calls[i]!.at - t.calls[i - 1]!.at >= 39, `retry ${i} came after ${t.calls[i]!.at - t.calls[i - 1]!.at} ms`);
    }
  });

  test("waits what Retry-After asks, capped by maxRetryDelayMs", async () => {
    const t = transport((_c, n) =>
      n === 0 ? Promise.reject(new DeliveryError("status 429", { retryAfterMs: 150 })) : Promise.resolve(),
    );
    const q = queue(t, { maxRetryDelayMs: 1000 });
    q.push(batch(0), 1);
    await q.flush();
    const gap = t.calls[1]!.at - t.calls[0]!.at;
    assert.ok(gap >= 149 && gap < 900, `waited ${gap} ms`);
    const capped = transport((_c, n) =>
      n === 0 ? Promise.reject(new DeliveryError("status 429", { retryAfterMs: 60_000 })) : Promise.resolve(),
    );
    const q2 = queue(capped, { maxRetryDelayMs: 50 });
    q2.push(batch(0), 1);
    await q2.flush();
    assert.ok(capped.calls[1]!.at - capped.calls[0]!.at < 1000);
  });

  test("sends the batches of a permanently refused group one by one, dropping only the bad one", async () => {
    const t = transport((c) =>
      c.names.includes(2) ? Promise.reject(new DeliveryError("status 400", { permanent: true })) : Promise.resolve(),
    );
    const q = queue(t);
    for (let i = 0; i < 5; i++) q.push(batch(i), 10);
    await q.flush();
    assert.deepEqual(t.calls.map((c) => c.names), [[0, 1, 2, 3, 4], [0], [1], [2], [3], [4]]);
    const c = q.counters;
    assert.equal(c.sent, 4);
    assert.equal(c.dropped, 1);
    assert.equal(c.droppedStats, 10);
    assert.equal(c.failures, 1);
    assertBalanced(c);
  });

  test("drops a batch after maxAttempts sends, as a failure, and moves on", async () => {
    const t = transport((c) => (c.names[0] === 0 ? Promise.reject(new Error("down")) : Promise.resolve()));
    const q = queue(t, { maxAttempts: 3, maxGroupBatches: 1 });
    q.push(batch(0), 1);
    q.push(batch(1), 1);
    await q.flush();
    assert.deepEqual(t.calls.map((c) => c.names), [[0], [0], [0], [1]]);
    assert.equal(q.counters.failures, 1);
    assert.equal(q.counters.sent, 1);
  });

  test("drops the oldest waiting batches when a bound is full, never those being sent, and counts them", async () => {
    let release!: () => void;
    const t = transport((_c, n) => (n === 0 ? new Promise<void>((r) => (release = r)) : Promise.resolve()));
    const log = recordingLogger();
    const q = queue(t, { maxQueuedBatches: 4, logger: log });
    q.push(batch(0), 1);
    q.push(batch(1), 1);
    await waitFor(() => t.calls.length === 1, "the first send");
    for (let i = 2; i < 10; i++) q.push(batch(i), 1);
    // 0 and 1 are being sent; of 2..9 the two newest fit.
    assert.equal(q.counters.queued, 4);
    assert.equal(q.counters.dropped, 6);
    release();
    await q.flush();
    assert.deepEqual(t.calls.map((c) => c.names), [[0, 1], [8, 9]]);
    assert.equal(log.entries.filter((e) => e.message === "test queue full, dropping oldest batches").length, 1);
    assertBalanced(q.counters);
    // A new batch that cannot fit beside the batches being sent is dropped itself.
    const stuck = transport(never);
    const q2 = queue(stuck, { maxQueuedStats: 5 });
    q2.push(batch(0), 5);
    await waitFor(() => stuck.calls.length === 1, "the stuck send");
    q2.push(batch(1), 1);
    assert.deepEqual([q2.counters.queued, q2.counters.dropped], [1, 1]);
  });

  test("bounds the bytes held, and drops a batch larger than the bound on arrival", async () => {
    const t = transport(never);
    const q = queue(t, { maxQueuedBytes: 100, lingerMs: 1000 });
    q.push(batch(0, 60), 1);
    q.push(batch(1, 60), 1);
    assert.deepEqual([q.counters.queued, q.counters.dropped], [1, 1]);
    q.push(batch(2, 101), 1);
    assert.deepEqual([q.counters.queued, q.counters.dropped], [1, 2]);
  });

  test("bounds a reporter's unit by one group and an eighth of each queue bound", () => {
    const t = transport();
    assert.deepEqual({ ...queue(t).unitBounds }, { bytes: 4 * 1024 * 1024, stats: 125_000, batches: 12_500 });
    const small = queue(t, { maxQueuedBatches: 80, maxQueuedBytes: 8000, maxQueuedStats: 4, maxGroupBatches: 5 });
    assert.deepEqual({ ...small.unitBounds }, { bytes: 1000, stats: 1, batches: 5 });
  });

  test("aborts a send that exceeds attemptTimeoutMs and retries it, even when the transport ignores the signal", async () => {
    const t = transport((_c, n) => (n === 0 ? never() : Promise.resolve()));
    const q = queue(t, { attemptTimeoutMs: 50 });
    q.push(batch(0), 1);
    await q.flush();
    assert.equal(t.calls.length, 2);
    assert.ok(t.calls[0]!.signal.aborted);
    assert.ok(isDeliveryError(t.calls[0]!.signal.reason) && t.calls[0]!.signal.reason.code === "timeout");
    assert.equal(q.counters.retries, 1);
  });

  test("releases each batch once when it is delivered, evicted or refused, and never one whose send timed out", async () => {
    const released: number[] = [];
    const t = transport((c, n) => {
      if (n === 0) return never(); // batch 0 times out, then is delivered by its retry
      if (c.names.includes(2)) return Promise.reject(new DeliveryError("bad", { permanent: true }));
      return Promise.resolve();
    });
    const q = queue(
      { send: (g, signal) => t.send(g, signal), release: (b) => void released.push(b.bytes[0]!) },
      { attemptTimeoutMs: 50, maxQueuedBatches: 3, maxGroupBatches: 1, lingerMs: 0 },
    );
    q.push(batch(0), 1);
    await waitFor(() => t.calls.length === 1, "the first send");
    q.push(batch(1), 1);
    q.push(batch(2), 1);
    q.push(batch(3), 1); // evicts batch 1, the oldest waiting
    await q.flush();
    assert.deepEqual([q.counters.sent, q.counters.dropped], [2, 2]);
    assert.deepEqual(released.sort(), [1, 2, 3], "delivered 3, evicted 1, refused 2; not the timed-out 0");
  });

  test("treats a transport that throws synchronously as a failed send", async () => {
    let n = 0;
    const q = queue({
      send: () => {
        if (n++ === 0) throw new Error("sync");
        return Promise.resolve();
      },
    });
    q.push(batch(0), 1);
    await q.flush();
    assert.equal(q.counters.sent, 1);
    assert.equal(q.counters.retries, 1);
  });

  test("close() delivers what is held, closes the transport once, then drops and counts later batches", async () => {
    const t = transport();
    const log = recordingLogger();
    const q = queue(t, { logger: log });
    q.push(batch(0), 2);
    await q.close();
    assert.equal(q.counters.sent, 1);
    assert.equal(t.closed, 1);
    q.push(batch(1), 2);
    q.push(batch(2), 2);
    assert.equal(q.counters.dropped, 2);
    assert.equal(q.counters.droppedStats, 4);
    assert.equal(log.entries.filter((e) => e.level === "warn").length, 1, "one warning for batches after close");
    assert.equal(q.close(), q.close());
  });

  test("close(deadline) returns by its deadline while the transport hangs, dropping and counting what is held", async () => {
    const t = transport(never);
    const q = queue(t, { attemptTimeoutMs: Infinity });
    q.push(batch(0), 3);
    await waitFor(() => t.calls.length === 1, "the hanging send");
    q.push(batch(1), 4);
    const started = Date.now();
    await q.close(100);
    const took = Date.now() - started;
    assert.ok(took >= 95 && took < 1000, `close took ${took} ms`);
    assert.ok(t.calls[0]!.signal.aborted, "the send in flight was aborted");
    const c = q.counters;
    assert.deepEqual([c.dropped, c.droppedStats, c.queued, c.failures], [2, 7, 0, 0]);
    assert.equal(t.closed, 1);
    assertBalanced(c);
  });

  test("close(deadline) returns by its deadline while the transport's close hangs", async () => {
    const q = queue({ send: () => Promise.resolve(), close: never });
    const started = Date.now();
    await q.close(50);
    assert.ok(Date.now() - started < 1000);
  });

  test("close() with a deadline that is not a number >= 0 throws an ArgumentError and closes nothing", () => {
    const q = queue(transport());
    for (const bad of [NaN, -1, "10", null, {}]) {
      assert.throws(() => q.close(bad as number), (err: unknown) => isArgumentError(err), String(bad));
    }
    assert.equal(q.closed, false);
    assert.equal(checkDeadline(Infinity), Infinity);
    assert.equal(checkDeadline(0), 0);
  });

  test("rejects bad options and a transport without send() with an ArgumentError", () => {
    const bad: Array<Partial<DeliveryOptions>> = [
      { maxQueuedBatches: 0 },
      { maxQueuedBytes: NaN },
      { maxQueuedStats: -1 },
      { maxGroupBytes: 0 },
      { lingerMs: -1 },
      { attemptTimeoutMs: 0 },
      { minRetryDelayMs: -5 },
      { maxAttempts: 0 },
      { minRetryDelayMs: 100, maxRetryDelayMs: 50 },
    ];
    for (const options of bad) {
      assert.throws(() => new DeliveryQueue("x", transport(), options), (err: unknown) => isArgumentError(err), JSON.stringify(options));
    }
    assert.throws(() => new DeliveryQueue("x", {} as DeliveryTransport), (err: unknown) => isArgumentError(err));
  });

  test("counts a buffer of several reported batches as that many batches, sent or dropped together", async () => {
    const t = transport();
    const q = queue(t, { maxQueuedBatches: 10 });
    q.push(batch(0), 8, 4);
    q.push(batch(1), 9, 7); // 4 + 7 > 10: the older buffer goes
    q.push(batch(2), 1, 11); // over the bound by itself: dropped on arrival
    await q.flush();
    const c = q.counters;
    assert.deepEqual([c.batches, c.sent, c.dropped, c.droppedStats, c.requests], [22, 7, 15, 9, 1]);
    assert.deepEqual(t.calls.map((x) => x.names), [[1]]);
    assertBalanced(c);
  });

  test("counts a rejected batch as one dropped failure and logs it", () => {
    const log = recordingLogger();
    const q = queue(transport(), { logger: log });
    q.reject(5, "cannot decode AnalyticsStats batch", new Error("premature EOF"));
    const c = q.counters;
    assert.deepEqual([c.batches, c.stats, c.dropped, c.droppedStats, c.failures], [1, 5, 1, 5, 1]);
    assert.equal(log.entries[0]!.level, "error");
    assert.equal(log.entries[0]!.fields?.["error"], "premature EOF");
  });

  test("loses and reorders nothing within the bounds under random failures", async () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    console.log(`delivery seed: ${seed}`);
    let state = seed;
    const random = (): number => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const delivered: number[] = [];
    const t = transport((c) => {
      const roll = random();
      if (roll < 0.3) return Promise.reject(new Error("reset"));
      if (roll < 0.4) return Promise.reject(new DeliveryError("503", { retryAfterMs: 0 }));
      delivered.push(...c.names);
      return sleep(random() * 3).then(() => undefined);
    });
    const q = queue(t, { maxGroupBatches: 7 });
    for (let i = 0; i < 200; i++) {
      q.push(batch(i), 1);
      if (i % 17 === 0) await sleep(2);
    }
    await q.flush();
    assert.deepEqual(delivered, Array.from({ length: 200 }, (_, i) => i), `seed ${seed}`);
    assertBalanced(q.counters);
  });
});
