import { create, equals, fromJsonString, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { suite, test } from "node:test";
import { isArgumentError } from "../../src/errors.ts";
import { AnalyticsStatSchema, AnalyticsStatsSchema } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { NdjsonReporter, type NdjsonSink, utf8Length } from "../../src/reporters/ndjson-reporter.ts";
import { makeBatch, recordingLogger } from "./helpers.ts";

/** A sink whose write() returns `ready`; the test emits "drain" itself. */
class FakeSink extends EventEmitter {
  readonly chunks: string[] = [];
  ready = true;

  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return this.ready;
  }

  lines(): string[] {
    return this.chunks.join("").split("\n").filter((l) => l !== "");
  }

  drain(): void {
    this.ready = true;
    this.emit("drain");
  }
}

function trackIds(lines: readonly string[]): string[] {
  return lines.map((l) => fromJsonString(AnalyticsStatSchema, l).trackId);
}

suite("NdjsonReporter", () => {
  test("writes one proto3-JSON AnalyticsStat per line that parses back to the same stat", async () => {
    const sink = new FakeSink();
    const r = new NdjsonReporter(sink);
    const batch = makeBatch(0, 3);
    r.report(batch);
    await r.flush();

    assert.equal(sink.chunks.length, 1, "one write per batch");
    assert.ok(sink.chunks[0]!.endsWith("\n"));
    const lines = sink.lines();
    assert.equal(lines.length, 3);
    lines.forEach((line, i) => {
      assert.ok(!line.includes("\n"));
      assert.ok(equals(AnalyticsStatSchema, fromJsonString(AnalyticsStatSchema, line), batch[i]!));
    });
    assert.match(lines[0]!, /"participantId":"PA_alice"/);
    assert.match(lines[0]!, /"primaryBytes":"123456789012"/);
    assert.match(lines[1]!, /"kind":"DOWNSTREAM"/);
    const c = r.counters;
    assert.deepEqual(
      [c.batches, c.stats, c.sent, c.sentStats, c.bytesSent, c.queued],
      [1, 3, 1, 3, Buffer.byteLength(sink.chunks[0]!), 0],
    );
  });

  test("uses proto field names, enum numbers and zero values when asked", () => {
    const sink = new FakeSink();
    const r = new NdjsonReporter(sink, { useProtoFieldName: true, enumAsInteger: true, alwaysEmitImplicit: true });
    r.report(makeBatch(0, 2));
    const [up, down] = sink.lines();
    assert.match(up!, /"participant_id":"PA_alice"/);
    assert.match(up!, /"kind":0/);
    assert.match(down!, /"kind":1/);
    assert.match(up!, /"analytics_key":""/);
    assert.ok(equals(AnalyticsStatSchema, fromJsonString(AnalyticsStatSchema, down!), makeBatch(0, 2)[1]!));
  });

  test("writes a reportBytes batch, reading the buffer only during the call", async () => {
    const sink = new FakeSink();
    const r = new NdjsonReporter(sink);
    sink.ready = false;
    r.report(makeBatch(0));
    const bytes = toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: makeBatch(1) }));
    r.reportBytes(bytes); // queued behind backpressure
    bytes.fill(0xff);
    sink.drain();
    await r.flush();
    assert.deepEqual(trackIds(sink.lines()), ["TR_0_0", "TR_0_1", "TR_1_0", "TR_1_1"]);
  });

  test("holds later batches while write() returns false and writes them in order on drain", async () => {
    const sink = new FakeSink();
    const r = new NdjsonReporter(sink);
    sink.ready = false;
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    r.report(makeBatch(2));
    assert.equal(sink.chunks.length, 1, "nothing written while the sink asks to wait");
    assert.equal(r.counters.queued, 2);

    let flushed = false;
    const flushing = r.flush().then(() => (flushed = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(flushed, false);

    // The first drain writes batch 1, which again fills the sink: batch 2 must keep waiting.
    sink.emit("drain");
    assert.equal(sink.chunks.length, 2);
    assert.equal(r.counters.queued, 1);
    sink.drain();
    await flushing;
    assert.deepEqual(trackIds(sink.lines()), ["TR_0_0", "TR_0_1", "TR_1_0", "TR_1_1", "TR_2_0", "TR_2_1"]);
    assert.deepEqual([r.counters.sent, r.counters.queued, r.counters.dropped], [3, 0, 0]);
  });

  test("drops the oldest waiting batches beyond maxQueuedBatches, counts them and logs once", async () => {
    const sink = new FakeSink();
    const log = recordingLogger();
    const r = new NdjsonReporter(sink, { maxQueuedBatches: 3, logger: log });
    sink.ready = false;
    for (let i = 0; i < 10; i++) {
      r.report(makeBatch(i));
      assert.ok(r.counters.queued <= 3);
    }
    const c = r.counters;
    assert.deepEqual([c.batches, c.sent, c.queued, c.dropped, c.droppedStats, c.failures], [10, 1, 3, 6, 12, 0]);
    sink.drain();
    await r.flush();
    assert.deepEqual(
      trackIds(sink.lines()).filter((t) => t.endsWith("_0")),
      ["TR_0_0", "TR_7_0", "TR_8_0", "TR_9_0"],
    );
    assert.equal(log.entries.filter((e) => e.level === "warn").length, 1);
    assert.ok(log.entries.some((e) => e.message === "ndjson queue drained" && e.fields?.["droppedWhileFull"] === 6));
    assert.equal(r.counters.batches, r.counters.sent + r.counters.dropped + r.counters.queued);
  });

  test("bounds the waiting text with maxQueuedChars", () => {
    const sink = new FakeSink();
    const r = new NdjsonReporter(sink, { maxQueuedChars: 1 });
    sink.ready = false;
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    assert.deepEqual([r.counters.sent, r.counters.queued, r.counters.dropped], [1, 0, 1]);
  });

  test("drops everything waiting when the sink fails, and resolves flush()", async () => {
    const sink = new FakeSink();
    const log = recordingLogger();
    const r = new NdjsonReporter(sink, { logger: log });
    sink.ready = false;
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    const flushing = r.flush();
    sink.emit("error", new Error("disk full"));
    await flushing;
    r.report(makeBatch(2));
    const c = r.counters;
    assert.deepEqual([c.sent, c.dropped, c.failures, c.queued], [1, 2, 2, 0]);
    assert.ok(log.entries.some((e) => e.level === "error" && String(e.fields?.["error"]).includes("disk full")));
  });

  test("never throws: a sink whose write() throws breaks the reporter, which counts and logs", () => {
    const r = new NdjsonReporter({
      write: () => {
        throw new Error("EPIPE");
      },
      once: () => undefined,
    });
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    r.reportBytes(new Uint8Array([0x0a, 0x05]));
    r.report(null as unknown as []);
    const c = r.counters;
    assert.deepEqual([c.batches, c.sent, c.dropped, c.failures], [4, 0, 4, 4]);
  });

  test("close() flushes, then drops and counts later batches", async () => {
    const sink = new FakeSink();
    const r = new NdjsonReporter(sink);
    sink.ready = false;
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    const closing = r.close();
    sink.drain();
    await closing;
    r.report(makeBatch(2));
    assert.deepEqual([r.counters.sent, r.counters.dropped, r.counters.failures], [2, 1, 0]);
    assert.equal(sink.lines().length, 4);
  });

  test("survives a sink that emits error again and again, counting and logging without crashing", async () => {
    const sink = new FakeSink();
    const log = recordingLogger();
    const r = new NdjsonReporter(sink, { logger: log });
    sink.ready = false;
    r.report(makeBatch(0));
    r.report(makeBatch(1));
    // An EventEmitter throws an "error" that nobody listens to: the reporter must stay subscribed.
    for (let i = 0; i < 5; i++) sink.emit("error", new Error(`boom ${i}`));
    assert.equal(sink.listenerCount("error"), 1);
    await r.flush();
    r.report(makeBatch(2));
    const c = r.counters;
    assert.deepEqual([c.sent, c.dropped, c.failures, c.queued], [1, 2, 2, 0]);
    assert.equal(log.entries.filter((e) => e.level === "error").length, 1, "one error per broken sink");
  });

  test("close(deadline) resolves by its deadline when the sink never drains, dropping and counting what waits", async () => {
    const sink = new FakeSink();
    const r = new NdjsonReporter(sink);
    sink.ready = false;
    r.report(makeBatch(0));
    r.report(makeBatch(1, 3));
    const started = Date.now();
    await r.close(100);
    const took = Date.now() - started;
    assert.ok(took >= 95 && took < 1000, `close took ${took} ms`);
    const c = r.counters;
    assert.deepEqual([c.sent, c.dropped, c.droppedStats, c.queued], [1, 1, 3, 0]);
    assert.equal(c.batches, c.sent + c.dropped + c.queued);
  });

  test("close() with a deadline that is not a number >= 0 throws an ArgumentError", () => {
    const r = new NdjsonReporter(new FakeSink());
    for (const bad of [NaN, -1, "5"]) {
      assert.throws(() => r.close(bad as number), (err: unknown) => isArgumentError(err), String(bad));
    }
  });

  test("writes to a real file stream, respecting its backpressure, without losing or reordering a line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "statsworker-ndjson-"));
    try {
      const path = join(dir, "stats.ndjson");
      // A tiny highWaterMark makes nearly every write() return false.
      const file = createWriteStream(path, { highWaterMark: 256 });
      const r = new NdjsonReporter(file, { maxQueuedBatches: 5000 });
      for (let i = 0; i < 2000; i++) r.report(makeBatch(i, 1 + (i % 2)));
      assert.ok(r.counters.queued > 0, "backpressure was never hit");
      await r.flush();
      await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));

      const text = await readFile(path, "utf8");
      const lines = text.split("\n");
      assert.equal(lines.pop(), "", "the file ends with a newline");
      const expected = Array.from({ length: 2000 }, (_, i) =>
        Array.from({ length: 1 + (i % 2) }, (_, j) => `TR_${i}_${j}`),
      ).flat();
      assert.deepEqual(trackIds(lines), expected);
      assert.equal(r.counters.bytesSent, Buffer.byteLength(text));
      assert.equal(r.counters.dropped, 0);
      r.report(makeBatch(9999));
      assert.equal(r.counters.dropped, 1, "a batch after the stream closed is dropped");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("accepts process.stdout and Node streams as sinks", async () => {
    const sinks: NdjsonSink[] = [process.stdout, process.stderr, new PassThrough()];
    assert.equal(sinks.length, 3);
    const out = new PassThrough();
    const r = new NdjsonReporter(out);
    r.report(makeBatch(0));
    await r.flush();
    assert.equal(String(out.read()).split("\n").length, 3);
  });

  test("rejects a sink without write() and once(), and bounds below 1, with an ArgumentError", () => {
    assert.throws(() => new NdjsonReporter({} as NdjsonSink), isArgumentError);
    assert.throws(() => new NdjsonReporter(new FakeSink(), { maxQueuedBatches: 0 }), isArgumentError);
    assert.throws(() => new NdjsonReporter(new FakeSink(), { maxQueuedChars: Number.NaN }), isArgumentError);
  });
});

suite("utf8Length()", () => {
  test("counts UTF-8 bytes the way Buffer.byteLength does, surrogate pairs and lone surrogates included", () => {
    for (const s of ["", "ascii", "ü", "€", "😀", "a😀b", "\ud800", "\udc00x", "\ud800\ud800"]) {
      assert.equal(utf8Length(s), Buffer.byteLength(s), JSON.stringify(s));
    }
  });
});
