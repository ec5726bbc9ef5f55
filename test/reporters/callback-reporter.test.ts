import assert from "node:assert/strict";
import { suite, test } from "node:test";
import type { AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { callbackReporter } from "../../src/reporters/callback-reporter.ts";
import { makeBatch } from "./helpers.ts";

suite("callbackReporter()", () => {
  test("hands every batch to the function as it is and counts it", () => {
    const seen: AnalyticsStat[][] = [];
    const r = callbackReporter((stats) => seen.push(stats));
    const a = makeBatch(0, 2);
    const b = makeBatch(1, 3);
    r.report(a);
    r.report(b);
    assert.equal(seen[0], a);
    assert.equal(seen[1], b);
    assert.deepEqual(r.counters, {
      batches: 2,
      stats: 5,
      sent: 2,
      sentStats: 5,
      bytesSent: 0,
      requests: 2,
      retries: 0,
      dropped: 0,
      droppedStats: 0,
      failures: 0,
      queued: 0,
    });
    assert.equal("reportBytes" in r, false, "the worker must hand it objects");
  });

  test("rethrows an error from the function, counting the batch as dropped and failed", () => {
    const boom = new Error("boom");
    const r = callbackReporter(() => {
      throw boom;
    });
    assert.throws(() => r.report(makeBatch(0, 2)), (err) => err === boom);
    const c = r.counters;
    assert.deepEqual([c.batches, c.sent, c.dropped, c.droppedStats, c.failures], [1, 0, 1, 2, 1]);
  });

  test("returns a snapshot from counters that later batches do not change", () => {
    const r = callbackReporter(() => {});
    const before = r.counters;
    r.report(makeBatch(0));
    assert.equal(before.batches, 0);
    assert.equal(r.counters.batches, 1);
  });
});
