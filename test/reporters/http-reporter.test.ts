import { equals, fromBinary, fromJsonString, toBinary, create } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, suite, test } from "node:test";
import { fileURLToPath } from "node:url";
import { isArgumentError } from "../../src/errors.ts";
import {
  type AnalyticsStat,
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
} from "../../src/gen/livekit/livekit_analytics_pb.ts";
import {
  HttpReporter,
  type HttpReporterOptions,
  parseRetryAfter,
} from "../../src/reporters/http-reporter.ts";
import { newStatId } from "../../src/reporters/stat-id.ts";
import type { ReporterCounters } from "../../src/reporters/counters.ts";
import {
  freePort,
  makeBatch,
  ok,
  recordingLogger,
  seededRandom,
  sleep,
  startServer,
  type TestServer,
  waitFor,
} from "./helpers.ts";

const ID = /^AS_[0-9A-Za-z]{12}$/;

// Every server and reporter a test starts is closed here as well, so a failing assertion cannot
// leave a listening socket or a retry loop behind.
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
});

async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  cleanups.push(() => s.close());
  return s;
}

// One batch per request unless a test says otherwise, so request-level assertions name batches;
// coalescing has tests of its own.
function reporter(options: HttpReporterOptions): HttpReporter {
  const r = new HttpReporter({
    initialRetryDelayMs: 5,
    minRetryDelayMs: 1,
    maxRetryDelayMs: 50,
    requestTimeoutMs: 2000,
    maxGroupBatches: 1,
    lingerMs: 0,
    ...options,
  });
  cleanups.push(() => r.close(0));
  return r;
}

function decode(body: Buffer): AnalyticsStat[] {
  return fromBinary(AnalyticsStatsSchema, body).stats;
}

/** `TR_<batch>_<index>` track ids of every stat in the accepted bodies, in arrival order. */
function trackIds(bodies: readonly Buffer[]): string[] {
  return bodies.flatMap((b) => decode(b).map((s) => s.trackId));
}

/** The batch numbers of the accepted bodies, in arrival order. */
function batchNumbers(bodies: readonly Buffer[]): number[] {
  return bodies.map((b) => Number(decode(b)[0]!.trackId.split("_")[1]));
}

/** Checks a received stat against the one reported, field by field, plus the stamped fields. */
function assertStamped(got: AnalyticsStat, sent: AnalyticsStat, node: string): void {
  assert.match(got.id, ID);
  assert.equal(got.node, node);
  assert.equal(got.analyticsKey, sent.analyticsKey);
  assert.equal(got.kind, sent.kind);
  assert.equal(got.timeStamp?.seconds, sent.timeStamp?.seconds);
  assert.equal(got.timeStamp?.nanos, sent.timeStamp?.nanos);
  assert.equal(got.roomId, sent.roomId);
  assert.equal(got.roomName, sent.roomName);
  assert.equal(got.participantId, sent.participantId);
  assert.equal(got.trackId, sent.trackId);
  assert.equal(got.score, sent.score);
  assert.equal(got.mime, sent.mime);
  assert.equal(got.streams.length, sent.streams.length);
  const [gs, ss] = [got.streams[0]!, sent.streams[0]!];
  assert.equal(gs.primaryPackets, ss.primaryPackets);
  assert.equal(gs.primaryBytes, ss.primaryBytes);
  assert.equal(gs.retransmitBytes, ss.retransmitBytes);
  assert.equal(gs.packetsLost, ss.packetsLost);
  assert.equal(gs.rtt, ss.rtt);
  assert.equal(gs.jitter, ss.jitter);
  assert.deepEqual(
    gs.videoLayers.map((l) => [l.layer, l.packets, l.bytes, l.frames]),
    ss.videoLayers.map((l) => [l.layer, l.packets, l.bytes, l.frames]),
  );
  // And nothing else differs: the whole message equals the original with the stamps applied.
  assert.ok(equals(AnalyticsStatSchema, got, { ...sent, id: got.id, node }));
}

function assertBalanced(c: ReporterCounters): void {
  assert.equal(c.batches, c.sent + c.dropped + c.queued, `counters out of balance: ${JSON.stringify(c)}`);
}

suite("HttpReporter", () => {
  test("posts each batch as one protobuf AnalyticsStats message with node and a fresh id on every stat", async () => {
    const s = await server();
    const r = reporter({ url: s.url, node: "ND_sfu1" });
    const batches = [makeBatch(0, 3), makeBatch(1, 1)];
    for (const b of batches) r.report(b);
    await r.flush();

    assert.equal(s.received.length, 2);
    for (const [i, req] of s.received.entries()) {
      assert.equal(req.method, "POST");
      assert.equal(req.headers["content-type"], "application/x-protobuf");
      const got = decode(req.body);
      assert.equal(got.length, batches[i]!.length);
      got.forEach((stat, j) => assertStamped(stat, batches[i]![j]!, "ND_sfu1"));
    }
    const ids = s.received.flatMap((req) => decode(req.body).map((st) => st.id));
    assert.equal(new Set(ids).size, 4);
    assert.deepEqual(r.counters, {
      batches: 2,
      stats: 4,
      sent: 2,
      sentStats: 4,
      bytesSent: s.received[0]!.body.length + s.received[1]!.body.length,
      requests: 2,
      retries: 0,
      dropped: 0,
      droppedStats: 0,
      failures: 0,
      queued: 0,
    });
  });

  test("sends proto3 JSON with content-type application/json when format is json", async () => {
    const s = await server();
    const r = reporter({ url: s.url, format: "json", node: "ND_json" });
    const batch = makeBatch(7, 2);
    r.report(batch);
    await r.flush();

    const req = s.received[0]!;
    assert.equal(req.headers["content-type"], "application/json");
    const text = req.body.toString("utf8");
    assert.match(text, /^\{"stats":\[/);
    assert.match(text, /"participantId":"PA_alice"/);
    const got = fromJsonString(AnalyticsStatsSchema, text).stats;
    got.forEach((stat, j) => assertStamped(stat, batch[j]!, "ND_json"));
  });

  test("sends a reportBytes batch decoded, stamped and re-encoded, having copied it before returning", async () => {
    const s = await server();
    const r = reporter({ url: s.url, node: "ND_bytes" });
    const batch = makeBatch(3, 2);
    const bytes = toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: batch }));
    r.reportBytes(bytes);
    // The buffer is only valid during the call (it may be engine memory): scribble over it.
    bytes.fill(0xff);
    await r.flush();

    const got = decode(s.received[0]!.body);
    assert.equal(got.length, 2);
    got.forEach((stat, j) => assertStamped(stat, batch[j]!, "ND_bytes"));
    assert.equal(r.counters.stats, 2);
    assert.equal(r.counters.sentStats, 2);
  });

  test("leaves the caller's stats unchanged, keeps an id a stat already has and keeps node without the option", async () => {
    const s = await server();
    const r = reporter({ url: s.url });
    const batch = makeBatch(0, 2);
    batch[0]!.id = "AS_existing000";
    batch[1]!.node = "ND_upstream";
    const before = batch.map((st) => create(AnalyticsStatSchema, st));
    r.report(batch);
    await r.flush();

    batch.forEach((st, i) => assert.ok(equals(AnalyticsStatSchema, st, before[i]!)));
    const got = decode(s.received[0]!.body);
    assert.equal(got[0]!.id, "AS_existing000");
    assert.equal(got[0]!.node, "");
    assert.match(got[1]!.id, ID);
    assert.equal(got[1]!.node, "ND_upstream");
  });

  test("sends the headers option on every request, calling a headers function per attempt", async () => {
    const s = await server((_req, res, _body, n) => {
      if (n === 0) {
        res.writeHead(503).end();
        return "503";
      }
      return ok(_req, res, _body, n);
    });
    let calls = 0;
    const r = reporter({ url: s.url, headers: () => ({ authorization: `Bearer token-${++calls}` }) });
    r.report(makeBatch(0));
    await r.flush();

    assert.deepEqual(
      s.received.map((req) => req.headers.authorization),
      ["Bearer token-1", "Bearer token-2"],
    );
    assert.equal(s.received[1]!.headers["content-type"], "application/x-protobuf");
  });

  test("lets a Content-Type header of any case replace its own", async () => {
    const s = await server();
    const r = reporter({ url: s.url, headers: { "Content-Type": "application/vnd.livekit.stats" } });
    r.report(makeBatch(0));
    await r.flush();
    assert.equal(s.received[0]!.headers["content-type"], "application/vnd.livekit.stats");
  });

  test("retries 500 responses with backoff and delivers the batch once", async () => {
    const s = await server((req, res, body, n) => {
      if (n < 3) {
        res.writeHead(500).end("boom");
        return "500";
      }
      return ok(req, res, body, n);
    });
    const log = recordingLogger();
    const r = reporter({ url: s.url, logger: log });
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    await r.flush();

    assert.deepEqual(s.received.map((q) => q.action), ["500", "500", "500", "ok", "ok"]);
    assert.deepEqual(batchNumbers(s.accepted), [0, 1]);
    // The same ids on every attempt: a receiver can drop duplicates.
    const first = decode(s.received[0]!.body).map((st) => st.id);
    assert.deepEqual(decode(s.received[3]!.body).map((st) => st.id), first);
    const c = r.counters;
    assert.equal(c.retries, 3);
    assert.equal(c.sent, 2);
    assert.equal(c.failures, 0);
    assert.ok(log.entries.some((e) => e.level === "warn" && e.message === "http endpoint failing, retrying"));
    assert.ok(log.entries.some((e) => e.level === "info" && e.message === "http endpoint recovered"));
  });

  test("waits the Retry-After seconds of a 429 response, capped by maxRetryDelayMs", async () => {
    const times: number[] = [];
    const s = await server((req, res, body, n) => {
      times.push(Date.now());
      if (n === 0) {
        res.writeHead(429, { "retry-after": "3600" }).end();
        return "429";
      }
      return ok(req, res, body, n);
    });
    // initialRetryDelayMs 0: without Retry-After the retry would be immediate.
    const r = reporter({ url: s.url, initialRetryDelayMs: 0, maxRetryDelayMs: 300 });
    r.report(makeBatch(0));
    await r.flush();

    assert.deepEqual(s.received.map((q) => q.action), ["429", "ok"]);
    const gap = times[1]! - times[0]!;
    assert.ok(gap >= 280 && gap < 2000, `retry came after ${gap} ms, expected about 300`);
  });

  test("honours a Retry-After HTTP-date on a 503 response", async () => {
    const times: number[] = [];
    const s = await server((req, res, body, n) => {
      times.push(Date.now());
      if (n === 0) {
        // HTTP-dates have whole seconds: 2 s ahead is at least 1 s ahead.
        res.writeHead(503, { "retry-after": new Date(Date.now() + 2000).toUTCString() }).end();
        return "503";
      }
      return ok(req, res, body, n);
    });
    const r = reporter({ url: s.url, initialRetryDelayMs: 0, maxRetryDelayMs: 5000 });
    r.report(makeBatch(0));
    await r.flush();

    const gap = times[1]! - times[0]!;
    assert.ok(gap >= 900 && gap < 3000, `retry came after ${gap} ms, expected 1-2 s`);
  });

  test("aborts a response slower than requestTimeoutMs and retries it with the same ids", async () => {
    const s = await server((req, res, body, n) => {
      if (n === 0) {
        // Answer long after the client gave up; the socket is gone by then.
        setTimeout(() => res.writeHead(204).end(), 1000).unref();
        return "slow";
      }
      return ok(req, res, body, n);
    });
    const log = recordingLogger();
    const r = reporter({ url: s.url, requestTimeoutMs: 100, logger: log });
    const started = Date.now();
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    await r.flush();

    assert.ok(Date.now() - started < 900, "the slow response was waited for");
    assert.deepEqual(s.received.map((q) => q.action), ["slow", "ok", "ok"]);
    assert.deepEqual(batchNumbers(s.accepted), [0, 1]);
    assert.deepEqual(
      decode(s.received[1]!.body).map((st) => st.id),
      decode(s.received[0]!.body).map((st) => st.id),
    );
    assert.equal(r.counters.retries, 1);
    assert.match(String(log.entries.find((e) => e.level === "warn")?.fields?.["reason"]), /timed out after 100 ms/);
  });

  test("retries after the server resets the connection", async () => {
    const s = await server((req, res, body, n) => {
      if (n < 2) {
        req.socket.destroy();
        return "reset";
      }
      return ok(req, res, body, n);
    });
    const r = reporter({ url: s.url });
    for (let i = 0; i < 3; i++) r.report(makeBatch(i));
    await r.flush();

    assert.deepEqual(s.received.map((q) => q.action), ["reset", "reset", "ok", "ok", "ok"]);
    assert.deepEqual(batchNumbers(s.accepted), [0, 1, 2]);
    assert.equal(r.counters.retries, 2);
    assertBalanced(r.counters);
  });

  test("delivers everything in order once a server that was down comes up on its port", async () => {
    const port = await freePort();
    const r = reporter({ url: `http://127.0.0.1:${port}/stats`, maxRetryDelayMs: 20 });
    for (let i = 0; i < 10; i++) r.report(makeBatch(i));
    await waitFor(() => r.counters.retries >= 3, "a few refused attempts");
    assert.equal(r.counters.sent, 0);
    assert.equal(r.counters.queued, 10);

    const s = await server(ok, port);
    await r.flush();
    assert.deepEqual(batchNumbers(s.accepted), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(r.counters.dropped, 0);
    assertBalanced(r.counters);
  });

  test("loses and reorders nothing within the bound under random 500s, 429s and resets", async () => {
    const seed = Number(process.env["SEED"] ?? Date.now() % 100_000);
    const random = seededRandom(seed);
    const s = await server((req, res, body, n) => {
      const x = random();
      if (x < 0.2) {
        res.writeHead(500).end();
        return "500";
      }
      if (x < 0.3) {
        res.writeHead(429, { "retry-after": "0" }).end();
        return "429";
      }
      if (x < 0.4) {
        req.socket.destroy();
        return "reset";
      }
      return ok(req, res, body, n);
    });
    const r = reporter({ url: s.url, maxQueuedBatches: 1000 });
    // Batches arrive while earlier ones are being retried, in bursts.
    for (let i = 0; i < 200; i++) {
      r.report(makeBatch(i, 1 + (i % 3)));
      if (i % 20 === 19) await sleep(2);
    }
    await r.flush();

    const expected = Array.from({ length: 200 }, (_, i) => i);
    assert.deepEqual(batchNumbers(s.accepted), expected, `seed ${seed}`);
    assert.deepEqual(
      trackIds(s.accepted),
      expected.flatMap((i) => Array.from({ length: 1 + (i % 3) }, (_, j) => `TR_${i}_${j}`)),
      `seed ${seed}`,
    );
    const c = r.counters;
    assert.equal(c.sent, 200, `seed ${seed}`);
    assert.equal(c.dropped, 0, `seed ${seed}`);
    assert.equal(c.retries, s.received.length - 200, `seed ${seed}`);
  });

  test("drops the oldest batches when the queue is full, and counts them", async () => {
    const port = await freePort();
    const log = recordingLogger();
    const r = reporter({ url: `http://127.0.0.1:${port}/stats`, maxQueuedBatches: 5, maxRetryDelayMs: 20, logger: log });
    // All in one turn, before the first request starts (what is being sent is never dropped:
    // the delivery core's tests pin that down).
    for (let i = 0; i < 20; i++) r.report(makeBatch(i));
    // The batches of one turn are stamped into one buffer and queued when the turn ends.
    await Promise.resolve();
    assert.equal(r.counters.dropped, 15);
    assert.equal(r.counters.droppedStats, 30);
    assert.equal(r.counters.failures, 0);
    assert.equal(r.counters.queued, 5);
    assertBalanced(r.counters);
    assert.equal(log.entries.filter((e) => e.message === "http queue full, dropping oldest batches").length, 1);

    await waitFor(() => r.counters.retries >= 2, "retries against the closed port");
    const s = await server(ok, port);
    await r.flush();
    assert.deepEqual(batchNumbers(s.accepted), [15, 16, 17, 18, 19]);
    assertBalanced(r.counters);
    assert.ok(log.entries.some((e) => e.message === "http queue drained" && e.fields?.["droppedWhileFull"] === 15));
  });

  test("queues a turn of more batches than maxQueuedBatches in pieces and keeps its newest while the endpoint is down", async () => {
    const port = await freePort();
    const r = reporter({ url: `http://127.0.0.1:${port}/stats`, maxQueuedBatches: 80, maxGroupBatches: Infinity, maxRetryDelayMs: 20 });
    // One turn, as a flush of 1 000 workers reports them: one unit of 1 000 batches would be
    // over the bound and dropped whole.
    for (let i = 0; i < 1000; i++) {
      r.reportBytes(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: makeBatch(i, 1) })));
    }
    await Promise.resolve();
    const c = r.counters;
    assert.ok(c.queued > 70 && c.queued <= 80, `${c.queued} batches queued`);
    assert.equal(c.dropped, 1000 - c.queued);
    assertBalanced(c);
    await waitFor(() => r.counters.retries >= 2, "retries against the closed port");
    const s = await server(ok, port);
    await r.flush();
    const kept = c.queued;
    assert.deepEqual(
      trackIds(s.accepted),
      Array.from({ length: kept }, (_, i) => `TR_${1000 - kept + i}_0`),
    );
    assert.ok(s.accepted.length < kept, "the pieces coalesce into fewer requests");
    assert.deepEqual([r.counters.sent, r.counters.dropped, r.counters.queued], [kept, 1000 - kept, 0]);
  });

  test("bounds the queued bytes with maxQueuedBytes", async () => {
    const port = await freePort();
    const one = toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: makeBatch(0) })).length;
    // Each stamped id adds 17 bytes (tag, length, "AS_" + 12): room for three batches, not four.
    const stamped = one + 2 * 17;
    const r = reporter({ url: `http://127.0.0.1:${port}/stats`, maxQueuedBytes: stamped * 3 + 10 });
    for (let i = 0; i < 10; i++) r.report(makeBatch(i));
    await Promise.resolve();
    assert.equal(r.counters.queued, 3);
    assert.equal(r.counters.dropped, 7);
    const s = await server(ok, port);
    await r.flush();
    assert.deepEqual(batchNumbers(s.accepted), [7, 8, 9]);
    assert.ok(s.accepted.every((b) => b.length === stamped));
  });

  test("drops a batch larger than maxQueuedBytes on arrival", async () => {
    const s = await server();
    const r = reporter({ url: s.url, maxQueuedBytes: 100 });
    r.report(makeBatch(0, 10));
    r.report([]);
    await r.flush();
    assert.equal(r.counters.dropped, 1);
    assert.equal(r.counters.droppedStats, 10);
    assert.equal(r.counters.sent, 1);
  });

  test("drops a batch rejected with 400 without retrying, counts a failure and moves on", async () => {
    const s = await server((req, res, body, n) => {
      if (n === 0) {
        res.writeHead(400).end("bad stats");
        return "400";
      }
      return ok(req, res, body, n);
    });
    const log = recordingLogger();
    const r = reporter({ url: s.url, logger: log });
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    await r.flush();

    assert.deepEqual(s.received.map((q) => q.action), ["400", "ok"]);
    const c = r.counters;
    assert.equal(c.retries, 0);
    assert.equal(c.failures, 1);
    assert.equal(c.dropped, 1);
    assert.equal(c.sent, 1);
    assertBalanced(c);
    const entry = log.entries.find((e) => e.level === "error");
    assert.match(String(entry?.fields?.["reason"]), /status 400: bad stats/);
  });

  test("drops a batch after maxAttempts and moves on to the next", async () => {
    const s = await server((req, res, body, n) => {
      if (n < 3) {
        res.writeHead(502).end();
        return "502";
      }
      return ok(req, res, body, n);
    });
    const r = reporter({ url: s.url, maxAttempts: 3 });
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    await r.flush();

    assert.deepEqual(batchNumbers(s.accepted), [1]);
    const c = r.counters;
    assert.equal(c.retries, 2);
    assert.equal(c.failures, 1);
    assert.equal(c.dropped, 1);
    assertBalanced(c);
  });

  test("never throws from report() or reportBytes(), counting garbage bytes as a failure", async () => {
    const s = await server();
    const r = reporter({ url: s.url });
    r.reportBytes(new Uint8Array([0x0a, 0xff, 0xff])); // a length past the end
    r.reportBytes(new Uint8Array([0x0f])); // wire type 7
    r.report(undefined as unknown as AnalyticsStat[]);
    r.report(makeBatch(0));
    await r.flush();
    const c = r.counters;
    assert.equal(c.batches, 4);
    assert.equal(c.failures, 3);
    assert.equal(c.dropped, 3);
    assert.equal(c.sent, 1);
    assertBalanced(c);
  });

  test("never throws when the injected fetch throws synchronously", async () => {
    let calls = 0;
    const r = reporter({
      url: "http://example.invalid/",
      maxAttempts: 2,
      fetch: () => {
        calls++;
        throw new TypeError("no network");
      },
    });
    r.report(makeBatch(0));
    await r.flush();
    assert.equal(calls, 2);
    assert.equal(r.counters.failures, 1);
  });

  test("flush() resolves at once when nothing is queued", async () => {
    const r = reporter({ url: "http://127.0.0.1:9/" });
    await r.flush();
    assert.deepEqual(r.counters.queued, 0);
  });

  test("close() delivers what is queued, then drops and counts later batches", async () => {
    const s = await server();
    const log = recordingLogger();
    const r = reporter({ url: s.url, logger: log });
    for (let i = 0; i < 3; i++) r.report(makeBatch(i));
    await r.close();
    assert.deepEqual(batchNumbers(s.accepted), [0, 1, 2]);
    r.report(makeBatch(3));
    r.reportBytes(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: makeBatch(4) })));
    await r.flush();
    const c = r.counters;
    assert.equal(c.sent, 3);
    assert.equal(c.dropped, 2);
    assert.equal(c.failures, 0);
    assertBalanced(c);
    assert.equal(s.received.length, 3);
    assert.deepEqual(
      log.entries.filter((e) => e.message === "http reporter is closed, batch dropped").map((e) => e.level),
      ["warn", "debug"],
    );
  });

  test("close(deadline) gives up on an endpoint that stays down at the deadline and counts the rest", async () => {
    const port = await freePort();
    const r = reporter({ url: `http://127.0.0.1:${port}/stats`, maxRetryDelayMs: 10 });
    for (let i = 0; i < 4; i++) r.report(makeBatch(i, 3));
    const started = Date.now();
    const closing = r.close(150);
    assert.equal(r.close(5), closing, "a second close() returns the first promise");
    await closing;
    const took = Date.now() - started;
    assert.ok(took >= 140 && took < 1000, `close took ${took} ms`);
    const c = r.counters;
    assert.equal(c.dropped, 4);
    assert.equal(c.droppedStats, 12);
    assert.equal(c.failures, 0);
    assert.equal(c.queued, 0);
    assert.ok(c.retries > 0);
    assertBalanced(c);
  });

  test("close(deadline) aborts a request still in flight at the deadline", async () => {
    const s = await server((_req, res) => {
      setTimeout(() => res.writeHead(204).end(), 2000).unref();
      return "slow";
    });
    const r = reporter({ url: s.url, requestTimeoutMs: 10_000 });
    r.report(makeBatch(0));
    await waitFor(() => s.received.length === 1, "the request to arrive");
    const started = Date.now();
    await r.close(50);
    assert.ok(Date.now() - started < 1000);
    assert.equal(r.counters.dropped, 1);
    assert.equal(r.counters.sent, 0);
    await sleep(20);
    assert.equal(s.received.length, 1, "no retry after close gave up");
  });

  test("does not keep the Node process alive while retrying in the background", async () => {
    const port = await freePort();
    const module = fileURLToPath(new URL("../../src/reporters/http-reporter.ts", import.meta.url));
    const script = `
      const { HttpReporter } = await import(${JSON.stringify(module)});
      const r = new HttpReporter({ url: "http://127.0.0.1:${port}/", initialRetryDelayMs: 60000, maxRetryDelayMs: 60000 });
      r.report([]);
      setTimeout(() => console.log(JSON.stringify(r.counters)), 200);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const killer = setTimeout(() => {
        child.kill();
        reject(new Error("the process stayed alive"));
      }, 10_000);
      child.on("exit", (c) => {
        clearTimeout(killer);
        resolve(c);
      });
    });
    assert.equal(code, 0);
    const counters = JSON.parse(out) as ReporterCounters;
    assert.equal(counters.queued, 1, "the batch was still waiting when the process exited");
  });

  test("waits without a deadline or a request timeout when both are Infinity", async () => {
    const s = await server((req, res, body, n) => {
      if (n === 0) {
        setTimeout(() => res.writeHead(503).end(), 30).unref();
        return "slow 503";
      }
      return ok(req, res, body, n);
    });
    const r = reporter({ url: s.url, requestTimeoutMs: Infinity, maxRetryDelayMs: Infinity });
    r.report(makeBatch(0));
    await r.close(Infinity);
    assert.deepEqual(s.received.map((q) => q.action), ["slow 503", "ok"]);
    assert.equal(r.counters.sent, 1);
  });

  test("rejects bad options with an ArgumentError", () => {
    const bad: Array<Partial<HttpReporterOptions>> = [
      {},
      { url: "http://x/", format: "xml" as "json" },
      { url: "http://x/", maxQueuedBatches: 0 },
      { url: "http://x/", maxAttempts: 0 },
      { url: "http://x/", requestTimeoutMs: Number.NaN },
      { url: "http://x/", initialRetryDelayMs: -1 },
    ];
    for (const options of bad) {
      assert.throws(() => new HttpReporter(options as HttpReporterOptions), isArgumentError, JSON.stringify(options));
    }
  });
});

suite("newStatId()", () => {
  test("returns AS_ and 12 base62 characters, unique across many calls", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = newStatId();
      assert.match(id, ID);
      ids.add(id);
    }
    assert.equal(ids.size, 10_000);
  });
});

suite("parseRetryAfter()", () => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");

  test("reads delay-seconds as milliseconds", () => {
    assert.equal(parseRetryAfter("120", now), 120_000);
    assert.equal(parseRetryAfter(" 0 ", now), 0);
  });

  test("reads an HTTP-date as the time left until it, and a past date as 0", () => {
    assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
  });

  test("returns undefined for a missing or unparsable value", () => {
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter("-5", now), undefined);
  });
});

suite("HttpReporter coalescing and hostile endpoints", () => {
  /** A reporter with the shipped defaults, except delays short enough for a test. */
  function defaults(options: HttpReporterOptions): HttpReporter {
    const r = new HttpReporter(options);
    cleanups.push(() => r.close(0));
    return r;
  }

  test("sends a flush of 10 000 workers' encoded batches as a handful of requests, every stat exactly once", async () => {
    const s = await server();
    const r = defaults({ url: s.url, node: "SFU_1" });
    // One worker's window: 4 stats, encoded as the wasm engine hands them to reportBytes.
    for (let w = 0; w < 10_000; w++) {
      r.reportBytes(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: makeBatch(w, 4) })));
    }
    await r.flush();
    const c = r.counters;
    assert.ok(s.received.length <= 4, `${s.received.length} requests`);
    assert.deepEqual([c.sent, c.sentStats, c.dropped, c.requests], [10_000, 40_000, 0, s.received.length]);
    const ids = trackIds(s.accepted);
    assert.equal(ids.length, 40_000);
    assert.equal(new Set(ids).size, 40_000, "no stat twice");
    const stamped = s.accepted.flatMap((b) => decode(b));
    assert.ok(stamped.every((st) => st.node === "SFU_1" && ID.test(st.id)));
    assert.equal(new Set(stamped.map((st) => st.id)).size, 40_000);
    assert.ok(s.received.every((q) => q.body.length <= 4 * 1024 * 1024));
  });

  test("counts every reportBytes call as a batch while the turn's batches wait in one buffer, and drops only a malformed one", async () => {
    const s = await server();
    const r = defaults({ url: s.url });
    const one = toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: makeBatch(1, 2) }));
    r.reportBytes(one);
    r.reportBytes(one.subarray(0, 5));
    r.reportBytes(one);
    const before = r.counters;
    assert.deepEqual([before.batches, before.stats, before.queued, before.dropped, before.failures], [3, 4, 2, 1, 1]);
    assert.equal(before.batches, before.sent + before.dropped + before.queued);
    await r.flush();
    assert.equal(s.received.length, 1);
    assert.equal(decode(s.received[0]!.body).length, 4);
    assert.deepEqual([r.counters.sent, r.counters.queued], [2, 0]);
  });

  test("reads at most a few KiB of an endless 200 body, counts the batch sent, and keeps memory flat", async () => {
    let closedByClient = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const s = await server((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      const pump = (): void => {
        while (res.write(chunk)) {
          // keep the socket full
        }
      };
      res.on("drain", pump);
      res.on("close", () => closedByClient++);
      pump();
      return "ok";
    });
    const r = reporter({ url: s.url });
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 20; i++) {
      r.report(makeBatch(i));
      await r.flush();
    }
    const grown = process.memoryUsage().rss - before;
    assert.equal(r.counters.sent, 20);
    assert.equal(r.counters.retries, 0);
    assert.ok(grown < 100 * 1024 * 1024, `rss grew ${grown} bytes`);
    await waitFor(() => closedByClient === 20, "the client to hang up on every endless body");
  });

  for (const status of [301, 302, 303, 307, 308]) {
    test(`treats a ${status} redirect as a failure, never following it or sending the api key elsewhere`, async () => {
      const elsewhere = await server();
      const s = await server((_req, res) => {
        res.writeHead(status, { location: elsewhere.url }).end();
        return "redirect";
      });
      const log = recordingLogger();
      const r = reporter({ url: s.url, headers: { "x-api-key": "secret" }, logger: log });
      r.report(makeBatch(1));
      await r.flush();
      assert.equal(elsewhere.received.length, 0, "the redirect target got a request");
      assert.equal(s.received.length, 1, "a redirect is not retried");
      const c = r.counters;
      assert.deepEqual([c.sent, c.dropped, c.failures], [0, 1, 1]);
      assert.ok(log.entries.some((e) => e.level === "error" && /redirect/.test(String(e.fields?.["reason"]))));
    });
  }

  test("reuses one keep-alive connection for its requests and closes it on close()", async () => {
    const sockets = new Set<unknown>();
    let closed = 0;
    const s = await server((req, res) => {
      if (!sockets.has(req.socket)) req.socket.on("close", () => closed++);
      sockets.add(req.socket);
      res.writeHead(204).end();
      return "ok";
    });
    const r = defaults({ url: s.url });
    for (let i = 0; i < 5; i++) {
      r.report(makeBatch(i));
      await r.flush();
    }
    assert.deepEqual([s.received.length, sockets.size], [5, 1]);
    await r.close();
    await waitFor(() => closed === 1, "the connection to close");
  });

  suite("through an injected fetch", () => {
    const viaFetch: Pick<HttpReporterOptions, "fetch"> = { fetch: (url, init) => globalThis.fetch(url, init) };

    test("delivers retried 500s once, with the same ids", async () => {
      const s = await server((req, res, body, n) => {
        if (n < 2) {
          res.writeHead(500).end();
          return "500";
        }
        return ok(req, res, body, n);
      });
      const r = reporter({ url: s.url, node: "n", ...viaFetch });
      r.report(makeBatch(1));
      await r.flush();
      assert.equal(s.received.length, 3);
      assert.deepEqual(decode(s.received[0]!.body).map((st) => st.id), decode(s.accepted[0]!).map((st) => st.id));
      assert.deepEqual([r.counters.sent, r.counters.retries], [1, 2]);
    });

    test("refuses a redirect without following it", async () => {
      const elsewhere = await server();
      const s = await server((_req, res) => {
        res.writeHead(302, { location: elsewhere.url }).end();
        return "redirect";
      });
      const r = reporter({ url: s.url, ...viaFetch });
      r.report(makeBatch(1));
      await r.flush();
      assert.deepEqual([elsewhere.received.length, s.received.length, r.counters.failures], [0, 1, 1]);
    });

    test("delivers every stat of consecutive windows exactly once while their buffers are recycled", async () => {
      const s = await server();
      const r = defaults({ url: s.url, ...viaFetch });
      for (let w = 0; w < 5; w++) {
        for (let i = 0; i < 50; i++) r.reportBytes(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: makeBatch(w * 100 + i, 2) })));
        await r.flush();
      }
      assert.deepEqual(trackIds(s.accepted).length, 500);
      assert.equal(new Set(s.accepted.flatMap((b) => decode(b).map((st) => st.id))).size, 500);
    });
  });

  test("does not storm an endpoint answering 503 with Retry-After 0 or a past date", async () => {
    const s = await server((req, res) => {
      const value = req.headers["x-variant"] === "date" ? "Wed, 21 Oct 2015 07:28:00 GMT" : "0";
      res.writeHead(503, { "retry-after": value }).end();
      return "503";
    });
    const r = defaults({ url: s.url, headers: () => ({ "x-variant": s.received.length % 2 === 0 ? "zero" : "date" }) });
    r.report(makeBatch(1));
    await sleep(1000);
    // The first retry waits at least minRetryDelayMs (50 ms) and the backoff bound doubles from
    // 100 ms: a handful of requests per second, not hundreds.
    assert.ok(s.received.length <= 12, `${s.received.length} requests in one second`);
    assert.ok(s.received.length >= 2, "it did retry");
    await r.close(0);
    assert.equal(r.counters.dropped, 1);
  });

  test("close(deadline) returns by its deadline when the endpoint never answers, dropping and counting the batch", async () => {
    const s = await server(() => "hang");
    const r = defaults({ url: s.url, requestTimeoutMs: Infinity });
    r.report(makeBatch(1, 3));
    await waitFor(() => s.received.length === 1, "the request to arrive");
    const started = Date.now();
    await r.close(300);
    const took = Date.now() - started;
    assert.ok(took >= 290 && took < 2000, `close took ${took} ms`);
    const c = r.counters;
    assert.deepEqual([c.sent, c.dropped, c.droppedStats, c.queued], [0, 1, 3, 0]);
  });

  test("close() with NaN, a negative or a non-number deadline throws an ArgumentError", () => {
    const r = defaults({ url: "http://127.0.0.1:9/stats" });
    for (const bad of [NaN, -1, "1000", undefined as unknown as number]) {
      if (bad === undefined) continue;
      assert.throws(() => r.close(bad as number), (err: unknown) => isArgumentError(err), String(bad));
    }
  });

  test("retries a server that resets every connection, then delivers once it answers", async () => {
    const s = await server((req, res, _body, n) => {
      if (n < 3) {
        req.socket.destroy();
        return "reset";
      }
      res.writeHead(204).end();
      return "ok";
    });
    const r = defaults({ url: s.url, initialRetryDelayMs: 10 });
    r.report(makeBatch(1));
    r.report(makeBatch(2));
    await r.flush();
    assert.deepEqual(trackIds(s.accepted), ["TR_1_0", "TR_1_1", "TR_2_0", "TR_2_1"]);
    assert.equal(r.counters.retries, 3);
  });
});
