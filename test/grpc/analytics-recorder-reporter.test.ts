// AnalyticsRecorderReporter against a grpc-js server built from LiveKit's proto on 127.0.0.1:
// delivery, stamping, stream rotation, outages (the server killed and restarted on the same
// port), refusals, metadata and close deadlines.
import assert from "node:assert/strict";
import { afterEach, suite, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  StreamType,
  TelemetryService,
  isArgumentError,
  loadEngine,
  type AnalyticsStat,
} from "../../src/index.ts";
import { AnalyticsRecorderReporter, type AnalyticsRecorderReporterOptions } from "../../src/grpc/index.ts";
import { defaultCredentials } from "../../src/grpc/analytics-recorder-reporter.ts";
import { Random } from "../../src/sim/random.ts";
import { ManualClock, RecordingLogger, stat } from "../helpers.ts";
import { encodedBatch } from "./helpers.ts";
import { LivekitRecorder } from "./livekit-recorder.ts";

const ID = /^AS_[0-9A-Za-z]{12}$/;
// short delays so outages resolve in milliseconds, not the production seconds
const FAST: Partial<AnalyticsRecorderReporterOptions> = {
  lingerMs: 5,
  initialRetryDelayMs: 20,
  minRetryDelayMs: 10,
  maxRetryDelayMs: 100,
};

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function recorder(): Promise<LivekitRecorder> {
  const r = await new LivekitRecorder().start();
  cleanup.push(() => r.kill());
  return r;
}

function reporter(address: string, options: Partial<AnalyticsRecorderReporterOptions> = {}): AnalyticsRecorderReporter {
  const r = new AnalyticsRecorderReporter({ address, ...FAST, ...options });
  cleanup.push(() => r.close(1000));
  return r;
}

function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (condition()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

/** The key that tells two coalesced stats apart: who, which track, which window. */
function key(s: AnalyticsStat): string {
  return `${s.roomId}/${s.participantId}/${s.trackId}/${s.kind}/${s.timeStamp?.seconds}`;
}

// A delivery that never completes shows up as a flush() that never resolves: fail, do not hang.
suite("AnalyticsRecorderReporter", { timeout: 120_000 }, () => {
  test("a wasm service's batches reach the recorder stamped with node and AS_ ids, many workers per stream", async () => {
    const rec = await recorder();
    const grpcReporter = reporter(rec.address, { node: "ND_sfu1" });
    const clock = new ManualClock();
    const service = new TelemetryService({ engine: await loadEngine("wasm"), reporter: grpcReporter, now: clock.now });
    for (let p = 0; p < 50; p++) {
      service.participantJoined({ sid: "RM_1", name: "room" }, { sid: `PA_${p}`, identity: `p${p}` });
      service.trackStats("RM_1", `PA_${p}`, "TR_a", StreamType.UPSTREAM, stat({ score: 4, streams: [{ primaryPackets: p + 1, primaryBytes: 2n ** 40n }] }));
      service.trackStats("RM_1", `PA_${p}`, "TR_v", StreamType.DOWNSTREAM, stat({ score: 3, streams: [{ videoLayers: [{ layer: 1, frames: p }] }] }));
    }
    service.flush();
    await grpcReporter.flush();
    assert.equal(rec.stored.length, 100);
    assert.ok(rec.stored.every((s) => s.node === "ND_sfu1" && ID.test(s.id)), "every stat stamped");
    assert.equal(new Set(rec.stored.map((s) => s.id)).size, 100, "ids are unique");
    const up = rec.stored.find((s) => s.participantId === "PA_7" && s.trackId === "TR_a")!;
    assert.equal(up.streams[0]!.primaryPackets, 8);
    assert.equal(up.streams[0]!.primaryBytes, 2n ** 40n);
    assert.equal(up.kind, StreamType.UPSTREAM);
    // 50 batches went out in far fewer streams than batches: the core coalesces them
    assert.ok(rec.streams < 50, `${rec.streams} streams for 50 batches`);
    const c = grpcReporter.counters;
    assert.equal(c.sent, 50);
    assert.equal(c.sentStats, 100);
    assert.equal(c.requests, rec.acknowledged);
    assert.equal(c.dropped + c.queued, 0);
    await service.stop();
  });

  test("a group is written as several messages of at most maxMessageBytes on one stream", async () => {
    const rec = await recorder();
    const batches = Array.from({ length: 8 }, (_, i) => encodedBatch([`AS_msg${String(i).padStart(9, "0")}`]));
    const size = batches[0]!.byteLength;
    const r = reporter(rec.address, { maxMessageBytes: size * 3, lingerMs: 50 });
    for (const b of batches) r.reportBytes(b);
    await r.flush();
    assert.equal(rec.streams, 1);
    assert.deepEqual(rec.received.map((m) => m.stats.length), [3, 3, 2]);
    assert.deepEqual(rec.stored.map((s) => s.id), batches.map((_, i) => `AS_msg${String(i).padStart(9, "0")}`), "ids kept, order kept");
  });

  test("every stat arrives at least once, stamped, when the recorder is killed and restarted on the same port mid-run", async (t) => {
    const seed = Number(process.env["SEED"] ?? Date.now() % 1_000_000);
    t.diagnostic(`seed ${seed} (SEED=${seed} to replay)`);
    const random = new Random(seed);
    const rec = await recorder();
    const port = rec.port;
    const logger = new RecordingLogger();
    const grpcReporter = reporter(rec.address, { node: "ND_outage", logger });
    const clock = new ManualClock();
    const service = new TelemetryService({ engine: await loadEngine("wasm"), reporter: grpcReporter, now: clock.now });
    const participants = random.int(20, 60);
    const windows = 12;
    const killAt = random.int(2, 5);
    const downFor = random.int(2, 4);
    for (let p = 0; p < participants; p++) service.participantJoined({ sid: "RM_o", name: "outage" }, { sid: `PA_${p}`, identity: `p${p}` });
    const expected = new Set<string>();
    for (let w = 0; w < windows; w++) {
      if (w === killAt) rec.kill();
      if (w === killAt + downFor) {
        await rec.start();
        assert.equal(rec.port, port, "restarted on the same port");
      }
      for (let p = 0; p < participants; p++) {
        const tracks = random.int(1, 3);
        for (let k = 0; k < tracks; k++) {
          const direction = random.chance(0.5) ? StreamType.UPSTREAM : StreamType.DOWNSTREAM;
          service.trackStats("RM_o", `PA_${p}`, `TR_${k}`, direction, stat({ score: random.int(1, 5), streams: [{ primaryPackets: random.int(0, 1000) }] }));
          expected.add(`RM_o/PA_${p}/TR_${k}/${direction}/${BigInt(Math.floor(clock.ms / 1000))}`);
        }
      }
      service.flush();
      clock.advance(10_000);
      // let the reporter try (and fail, while the recorder is down) between windows
      await new Promise((resolve) => setTimeout(resolve, random.int(5, 40)));
    }
    await grpcReporter.flush();
    const arrived = new Map<string, AnalyticsStat>();
    for (const s of rec.stored) {
      assert.equal(s.node, "ND_outage");
      assert.match(s.id, ID);
      const previous = arrived.get(key(s));
      // a duplicate is a resend of the same stamped stat: same id
      if (previous !== undefined) assert.equal(s.id, previous.id, `duplicate of ${key(s)} with another id`);
      arrived.set(key(s), s);
    }
    const missing = [...expected].filter((k) => !arrived.has(k));
    assert.deepEqual(missing, [], "stats lost in the outage");
    assert.equal(arrived.size, expected.size);
    const c = grpcReporter.counters;
    assert.equal(c.dropped, 0);
    assert.ok(c.retries > 0, "the outage caused retries");
    assert.equal(c.sentStats, expected.size, "each stat counted delivered once");
    t.diagnostic(`${expected.size} stats, ${rec.stored.length - arrived.size} duplicates, ${c.retries} retries, ${rec.streams} streams`);
    assert.ok(logger.lines.some((l) => /grpc endpoint failing/.test(l.message)));
    await service.stop();
  });

  test("a stream the recorder never answers is cancelled at attemptTimeoutMs and its messages are sent again", async () => {
    const rec = await recorder();
    rec.mode = "hang";
    const r = reporter(rec.address, { attemptTimeoutMs: 150 });
    r.reportBytes(encodedBatch(["AS_hangresend1"]));
    await until(() => rec.received.length >= 1, "the first stream");
    rec.mode = "ack";
    await r.flush();
    assert.deepEqual(rec.stored.map((s) => s.id), ["AS_hangresend1"]);
    assert.ok(rec.received.length >= 2, "sent on a second stream");
    assert.equal(r.counters.sent, 1);
    assert.ok(r.counters.retries >= 1);
  });

  test("killing the recorder while a stream is open loses nothing: the unacknowledged stream is resent", async () => {
    const rec = await recorder();
    rec.mode = "hang";
    const r = reporter(rec.address);
    r.reportBytes(encodedBatch(["AS_inflight001", "AS_inflight002"]));
    await until(() => rec.received.length === 1, "the stream to be open");
    rec.kill();
    rec.mode = "ack";
    await rec.start();
    await r.flush();
    assert.deepEqual(rec.stored.map((s) => s.id), ["AS_inflight001", "AS_inflight002"]);
    assert.equal(r.counters.sentStats, 2);
  });

  test("UNAVAILABLE is retried; a grpc-retry-pushback-ms hint makes the retry wait at least that long", async () => {
    const rec = await recorder();
    rec.mode = { status: grpc.status.UNAVAILABLE, details: "warming up", trailers: { "grpc-retry-pushback-ms": "300" } };
    // without the hint the first retry would come within initialRetryDelayMs (20 ms)
    const r = reporter(rec.address, { maxRetryDelayMs: 2000 });
    r.reportBytes(encodedBatch(["AS_unavailable1"]));
    await until(() => rec.streams >= 2, "a retry");
    rec.mode = "ack";
    await r.flush();
    assert.deepEqual(rec.stored.map((s) => s.id), ["AS_unavailable1"]);
    const gap = rec.streamStarts[1]! - rec.streamStarts[0]!;
    assert.ok(gap >= 290, `retried after ${gap} ms despite a 300 ms pushback`);
    assert.ok(r.counters.retries >= 1);
    assert.equal(r.counters.failures, 0);
  });

  test("INVALID_ARGUMENT is permanent: the batch is dropped and counted as a failure, later batches still go", async () => {
    const rec = await recorder();
    rec.mode = { status: grpc.status.INVALID_ARGUMENT, details: "bad stats" };
    const logger = new RecordingLogger();
    const r = reporter(rec.address, { logger });
    r.reportBytes(encodedBatch(["AS_refused0001"]));
    await r.flush();
    assert.equal(rec.streams, 1, "not retried");
    assert.equal(r.counters.failures, 1);
    assert.equal(r.counters.droppedStats, 1);
    assert.ok(logger.lines.some((l) => /rejected a batch/.test(l.message) && /INVALID_ARGUMENT: bad stats/.test(String(l.fields?.["reason"]))));
    rec.mode = "ack";
    r.reportBytes(encodedBatch(["AS_accepted001"]));
    await r.flush();
    assert.deepEqual(rec.stored.map((s) => s.id), ["AS_accepted001"]);
  });

  test("a message over the recorder's size limit is dropped as a failure, not retried forever; smaller ones still go", { timeout: 15_000 }, async () => {
    const rec = new LivekitRecorder();
    rec.maxReceiveBytes = 1024;
    await rec.start();
    cleanup.push(() => rec.kill());
    const r = reporter(rec.address, { lingerMs: 0 });
    const big = encodedBatch(["AS_toolarge001"], { roomName: "x".repeat(2000) });
    r.reportBytes(big);
    await r.flush();
    assert.equal(r.counters.failures, 1);
    assert.equal(r.counters.droppedStats, 1);
    r.reportBytes(encodedBatch(["AS_fits0000001"]));
    await r.flush();
    assert.deepEqual(rec.stored.map((s) => s.id), ["AS_fits0000001"]);
  });

  test("metadata from a function is made afresh for every stream", async () => {
    const rec = await recorder();
    rec.mode = { status: grpc.status.UNAVAILABLE, details: "once" };
    let token = 0;
    const r = reporter(rec.address, { metadata: () => ({ authorization: `Bearer t${++token}` }) });
    r.reportBytes(encodedBatch(["AS_metadata001"]));
    await until(() => rec.streams >= 1, "the first stream");
    rec.mode = "ack";
    await r.flush();
    const tokens = rec.metadata.map((m) => m.get("authorization")[0]);
    assert.ok(tokens.length >= 2);
    assert.deepEqual(tokens, tokens.map((_, i) => `Bearer t${i + 1}`));
  });

  test("close(deadline) returns by its deadline against a recorder that hangs, dropping and counting what is left", async () => {
    const rec = await recorder();
    rec.mode = "hang";
    const r = new AnalyticsRecorderReporter({ address: rec.address, ...FAST });
    r.reportBytes(encodedBatch(["AS_closedrop01"]));
    r.reportBytes(encodedBatch(["AS_closedrop02"]));
    await until(() => rec.received.length >= 1, "the stream to be open");
    const started = Date.now();
    await r.close(200);
    const took = Date.now() - started;
    assert.ok(took < 1500, `close took ${took} ms`);
    const c = r.counters;
    assert.equal(c.sent, 0);
    assert.equal(c.dropped, 2);
    assert.equal(c.queued, 0);
    r.reportBytes(encodedBatch(["AS_afterclose1"]));
    assert.equal(r.counters.dropped, 3, "a batch after close() is dropped and counted");
  });

  test("a recorder that never existed: batches wait within the bounds and go once it appears", async () => {
    const probe = await new LivekitRecorder().start();
    const port = probe.port;
    probe.kill();
    const r = reporter(`127.0.0.1:${port}`, { maxQueuedBatches: 3 });
    // one batch per event-loop turn: the batches of one turn are queued as one unit
    for (let i = 0; i < 5; i++) {
      r.reportBytes(encodedBatch([`AS_bounded00${i}`]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(r.counters.queued <= 3);
    const rec = new LivekitRecorder();
    rec.port = port;
    await rec.start();
    cleanup.push(() => rec.kill());
    await r.flush();
    const ids = rec.stored.map((s) => s.id);
    assert.deepEqual(ids, ["AS_bounded002", "AS_bounded003", "AS_bounded004"], "the oldest were dropped, the rest delivered in order");
    assert.equal(r.counters.dropped, 2);
  });

  test("without credentials, loopback addresses and unix sockets are plaintext and anything else is TLS", async () => {
    for (const local of ["127.0.0.1:50051", "localhost:1", "dns:///localhost:1", "[::1]:9", "127.1.2.3:4", "unix:/tmp/x.sock"]) {
      assert.equal(defaultCredentials(local)._isSecure(), false, local);
    }
    for (const remote of ["analytics.example:443", "10.0.0.1:50051", "dns:///recorder:443", "localhost.example:1", "128.0.0.1:1"]) {
      assert.equal(defaultCredentials(remote)._isSecure(), true, remote);
    }
    // and the default really is used: a plaintext recorder on localhost takes a reporter given no credentials
    const rec = await recorder();
    const r = reporter(`localhost:${rec.port}`);
    r.reportBytes(encodedBatch(["AS_localhost01"]));
    await r.flush();
    assert.deepEqual(rec.stored.map((s) => s.id), ["AS_localhost01"]);
  });

  test("bad options are ArgumentErrors naming the value", () => {
    assert.throws(() => new AnalyticsRecorderReporter({} as AnalyticsRecorderReporterOptions), (e) => isArgumentError(e) && /needs an address/.test(e.message));
    assert.throws(() => new AnalyticsRecorderReporter({ address: "127.0.0.1:1", maxMessageBytes: 0 }), (e) => isArgumentError(e) && /maxMessageBytes/.test(e.message));
    assert.throws(() => new AnalyticsRecorderReporter({ address: "127.0.0.1:1", metadata: 5 as never }), (e) => isArgumentError(e) && /metadata/.test(e.message));
    assert.throws(() => new AnalyticsRecorderReporter({ address: "127.0.0.1:1", maxQueuedBatches: 0 }), isArgumentError);
    assert.throws(() => new AnalyticsRecorderReporter({ address: "127.0.0.1:1", maxRetryDelayMs: -1 }), isArgumentError);
    // the 5 s default cap follows a larger floor instead of contradicting it
    const slow = new AnalyticsRecorderReporter({ address: "127.0.0.1:1", minRetryDelayMs: 8000 });
    void slow.close(0);
  });
});
