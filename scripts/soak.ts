/**
 * Soak run: drives the synthetic SFU (with churn and late stats) through a TelemetryService on the
 * wasm engine, with its real flush and cleanup timers, into an HttpReporter that POSTs to a local
 * node:http server which fails a fraction of requests (500s, 429s with Retry-After, resets, and
 * resets after the batch was processed, whose retry the receiver recognises and does not count
 * twice).
 *
 * Every interval it prints stats in/out/dropped, the reporter's queue depth and the process
 * memory (RSS, JS heap after a full GC, external, which holds the wasm memory). At the end it
 * stops the service, waits for the reporter to deliver everything, and exits 1 when
 *   - a stat the service reported is missing at the receiver (received != statsOut - reporter drops),
 *   - the reporter dropped anything (its queue bound is far above what the soak produces),
 *   - the service's counters do not add up to what was offered, or
 *   - memory keeps growing after warm-up: the mean of the last third of the samples against the
 *     middle third, RSS and heap each, with a tolerance of 10 % plus a few MiB.
 *
 *   npm run soak -- --minutes 10 [--participants 1000] [--interval 10] [--seed 1]
 *
 * Needs `--expose-gc` (the npm script passes it) so the heap figures are taken after a full GC.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  HttpReporter,
  TelemetryService,
  isDecodeError,
  isLimitError,
  loadEngine,
  type AnalyticsStat,
  type TelemetryReporter,
} from "../src/index.ts";
import { Random } from "../src/sim/random.ts";
import { SyntheticSfu, type SyntheticParticipant } from "../src/sim/synthetic-sfu.ts";
import { parseScriptArgs } from "./script-args.ts";

const USAGE = `usage: npm run soak -- [--minutes N] [--participants N] [--interval SECONDS] [--flush-ms MS] [--seed S]

Drives the synthetic SFU through a TelemetryService (wasm engine, real timers) into an
HttpReporter posting to a local server that fails a share of requests; prints counters and
memory every interval and exits 1 when a stat is lost or memory keeps growing.

options:
  --minutes N          how long to run (default 10)
  --participants N     participants at a time (default 1000)
  --interval SECONDS   seconds between reports (default 10, at least 0.1)
  --flush-ms MS        the service's flush interval in ms (default 1000, at least 10)
  --seed S             PRNG seed (default 1)
  -h, --help           show this help`;

const values = parseScriptArgs(USAGE, {
  minutes: { type: "string", default: "10" },
  participants: { type: "string", default: "1000" },
  interval: { type: "string", default: "10" },
  "flush-ms": { type: "string", default: "1000" },
  seed: { type: "string", default: "1" },
});
const minutes = Number(values.minutes);
const participantCount = Number(values.participants);
const intervalMs = Number(values.interval) * 1000;
const flushMs = Number(values["flush-ms"]);
const seed = Number(values.seed) >>> 0;
if (!(minutes > 0) || !(participantCount >= 1) || !(intervalMs >= 100) || !(flushMs >= 10)) {
  console.error(`bad option value\n${USAGE.split("\n")[0]}`);
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) console.warn("soak: run with --expose-gc for heap figures after a full GC (npm run soak does)");

const MiB = 1024 * 1024;
const TICK_MS = 100; // producers run every tick; each participant sends one stat per track per second
const CHURN_PER_SECOND = 0.02; // share of participants leaving (and as many joining) each second
const LATE_RATE = 0.3; // a participant that left sends a late stat with this probability per second
const MALFORMED_RATE = 0.001; // share of bytes inputs deliberately truncated (must be rejected, typed)

// ---------------------------------------------------------------------------------------------
// The receiver: a local endpoint that fails a fraction of requests.
const receiver = {
  requests: 0,
  ok: 0,
  errors500: 0,
  throttled429: 0,
  resets: 0,
  resetsAfterProcessing: 0,
  duplicates: 0,
  undecodable: 0,
  stats: 0,
};
const seenBodies = new Set<string>();
const faults = new Random(seed ^ 0x2545f491);

function handle(req: IncomingMessage, res: ServerResponse): void {
  receiver.requests++;
  const roll = faults.float();
  if (roll < 0.03) {
    // a reset before the body is read: the client sees a network error and retries
    receiver.resets++;
    req.socket.destroy();
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    if (roll < 0.13) {
      receiver.errors500++;
      res.writeHead(500).end("injected failure");
      return;
    }
    if (roll < 0.18) {
      receiver.throttled429++;
      res.writeHead(429, { "retry-after": "1" }).end("slow down");
      return;
    }
    const body = Buffer.concat(chunks);
    let stats;
    try {
      stats = fromBinary(AnalyticsStatsSchema, body).stats;
    } catch {
      receiver.undecodable++;
      res.writeHead(400).end("undecodable");
      return;
    }
    // a retry resends the very same body (ids are stamped once), so bodies are deduplicated by
    // hash; only recent ones are kept, which bounds the receiver's own memory
    const hash = createHash("sha1").update(body).digest("hex");
    if (seenBodies.has(hash)) receiver.duplicates += stats.length;
    else {
      seenBodies.add(hash);
      if (seenBodies.size > 10_000) seenBodies.delete(seenBodies.values().next().value!);
      receiver.stats += stats.length;
    }
    if (roll < 0.19) {
      // processed, then the connection dies: the retry carries the same ids (deduplicated above)
      receiver.resetsAfterProcessing++;
      req.socket.destroy();
      return;
    }
    receiver.ok++;
    res.writeHead(200).end();
  });
}

const server = createServer(handle);
server.keepAliveTimeout = 5000;
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stats`;

// ---------------------------------------------------------------------------------------------
// The service, its reporter and the producers.
const http = new HttpReporter({
  url,
  format: "protobuf",
  // far above what the soak queues (one batch per flush window, at most a few waiting on
  // retries), so any drop is a finding, not the bound at work
  maxQueuedBatches: 1_000_000,
  maxQueuedBytes: 1 << 30,
  initialRetryDelayMs: 50,
  maxRetryDelayMs: 2000,
  requestTimeoutMs: 5000,
});

/**
 * Every worker reports its window encoded (the wasm engine's bytes-out path); the batches of one
 * flush are concatenated (AnalyticsStats is one repeated field, so concatenation is a valid
 * message) and handed to the HttpReporter as one request.
 */
class WindowReporter implements TelemetryReporter {
  private chunks: Uint8Array[] = [];
  private scheduled = false;

  report(stats: Parameters<TelemetryReporter["report"]>[0]): void {
    this.push(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats })));
  }

  reportBytes(batch: Uint8Array): void {
    // the view is engine memory, valid during this call only
    this.push(batch.slice());
  }

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.hand());
    }
  }

  private hand(): void {
    this.scheduled = false;
    if (this.chunks.length === 0) return;
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const body = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      body.set(c, at);
      at += c.length;
    }
    this.chunks = [];
    http.reportBytes(body);
  }

  /** Hands what is pending now, then waits for the HttpReporter to deliver everything. */
  async flush(): Promise<void> {
    this.hand();
    await http.flush();
  }
}

const engine = await loadEngine("wasm");
const service = new TelemetryService({
  engine,
  reporter: new WindowReporter(),
  flushIntervalMs: flushMs,
  cleanupIntervalMs: 2 * flushMs,
  closeWaitMs: 3 * flushMs,
});
service.start();

const sfu = new SyntheticSfu({ participants: participantCount, participantsPerRoom: 10, tracks: 2, maxTracks: 4, seed });
const schedule = new Random(seed ^ 0x5bd1e995);
let open: { p: SyntheticParticipant; room: number }[] = sfu.participants.map((p, i) => ({ p, room: Math.floor(i / 10) }));
let left: { p: SyntheticParticipant; until: number }[] = [];
for (const m of open) service.participantJoined({ sid: m.p.roomId, name: m.p.roomName }, { sid: m.p.participantId, identity: m.p.identity });

let offered = 0;
let malformedSent = 0;
let unexpectedErrors = 0;
let tick = 0;

function feed(): void {
  const phase = tick % (1000 / TICK_MS);
  tick++;
  const batch: AnalyticsStat[] = [];
  const route = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (isDecodeError(err) || isLimitError(err)) return;
      unexpectedErrors++;
      console.error("soak: unexpected error", err);
    }
  };
  for (let i = phase; i < open.length; i += 1000 / TICK_MS) {
    const { p } = open[i]!;
    for (const track of p.tracks) {
      const stat = sfu.stat(p, track);
      offered++;
      const mode = schedule.int(0, 9);
      if (mode < 4) route(() => service.trackStats(p.roomId, p.participantId, track.trackId, track.direction, stat));
      else if (mode < 7) {
        let bytes = toBinary(AnalyticsStatSchema, stat);
        if (schedule.chance(MALFORMED_RATE)) {
          bytes = bytes.subarray(0, bytes.length - 1); // the last field loses its last byte
          malformedSent++;
        }
        route(() => service.trackStats(p.roomId, p.participantId, track.trackId, track.direction, bytes));
      } else batch.push(stat);
    }
  }
  // late stats of participants that left: dropped and counted (R5 / T3)
  const now = Date.now();
  left = left.filter((l) => l.until > now);
  for (const l of left) {
    if (phase !== 0 || !schedule.chance(LATE_RATE)) continue;
    const track = schedule.pick(l.p.tracks);
    offered++;
    batch.push(sfu.stat(l.p, track));
  }
  if (batch.length > 0) {
    const delimited = batch.map((b) => sizeDelimitedEncode(AnalyticsStatSchema, b));
    const all = new Uint8Array(delimited.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of delimited) {
      all.set(b, at);
      at += b.length;
    }
    route(() => service.ingestBatch(all));
  }
  // churn, once a second
  if (phase === 0) {
    const leaving = Math.round(open.length * CHURN_PER_SECOND);
    for (let k = 0; k < leaving; k++) {
      const j = schedule.int(0, open.length - 1);
      const m = open[j]!;
      open[j] = open[open.length - 1]!;
      open.pop();
      service.participantLeft(m.p.roomId, m.p.participantId);
      left.push({ p: m.p, until: now + 3 * flushMs });
      const fresh = sfu.addParticipant(m.room);
      service.participantJoined({ sid: fresh.roomId, name: fresh.roomName }, { sid: fresh.participantId, identity: fresh.identity });
      open.push({ p: fresh, room: m.room });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sampling.
interface Sample {
  t: number;
  rss: number;
  heap: number;
  external: number;
}
const samples: Sample[] = [];
const started = Date.now();
const fmt = (bytes: number) => (bytes / MiB).toFixed(1).padStart(7);

function sample(): void {
  gc?.();
  const m = process.memoryUsage();
  const c = service.counters;
  const r = http.counters;
  const s: Sample = { t: (Date.now() - started) / 1000, rss: m.rss, heap: m.heapUsed, external: m.external };
  samples.push(s);
  console.log(
    `[${s.t.toFixed(0).padStart(5)} s] offered ${offered} in ${c.statsIn} out ${c.statsOut} dropped ${c.dropped} ` +
      `malformed ${c.malformed} invalid ${c.invalid} workers ${service.workerCount} | http queued ${r.queued} ` +
      `sent ${r.sent} retries ${r.retries} dropped ${r.droppedStats} | recv ${receiver.stats} | ` +
      `MiB rss ${fmt(m.rss)} heap ${fmt(m.heapUsed)} external ${fmt(m.external)} arrayBuffers ${fmt(m.arrayBuffers)}`,
  );
}

console.log(`soak: ${minutes} min, ${participantCount} participants, flush every ${flushMs} ms, seed ${seed}, endpoint ${url}`);
const producer = setInterval(feed, TICK_MS);
const sampler = setInterval(sample, intervalMs);
await new Promise((resolve) => setTimeout(resolve, minutes * 60_000));
clearInterval(producer);
clearInterval(sampler);

// ---------------------------------------------------------------------------------------------
// Drain and judge.
const drainStart = Date.now();
await service.stop();
const drainMs = Date.now() - drainStart;
sample();
server.close();
server.closeAllConnections();

const c = service.counters;
const r = http.counters;
const failures: string[] = [];
const expected = c.statsOut - r.droppedStats;
console.log("\nsoak: final figures");
console.log(`  service   offered ${offered}, statsIn ${c.statsIn}, statsOut ${c.statsOut}, dropped ${c.dropped}, malformed ${c.malformed} (sent ${malformedSent}), invalid ${c.invalid}, reports ${c.reports}, reporterErrors ${c.reporterErrors}`);
console.log(`  reporter  batches ${r.batches}, sent ${r.sent}, sentStats ${r.sentStats}, retries ${r.retries}, dropped ${r.dropped} (${r.droppedStats} stats), failures ${r.failures}, queued ${r.queued}`);
console.log(`  receiver  requests ${receiver.requests}, ok ${receiver.ok}, 500 ${receiver.errors500}, 429 ${receiver.throttled429}, resets ${receiver.resets}, resets after processing ${receiver.resetsAfterProcessing}, duplicates ${receiver.duplicates}, undecodable ${receiver.undecodable}, unique stats ${receiver.stats}`);
console.log(`  drain     ${drainMs} ms after stop()`);
if (receiver.stats !== expected) failures.push(`receiver has ${receiver.stats} stats, expected statsOut - reporter drops = ${expected}`);
if (r.droppedStats !== 0) failures.push(`the reporter dropped ${r.droppedStats} stats below its queue bound`);
if (c.statsIn + c.dropped + c.malformed !== offered) {
  failures.push(`offered ${offered} != statsIn ${c.statsIn} + dropped ${c.dropped} + malformed ${c.malformed}`);
}
if (c.malformed !== malformedSent) failures.push(`malformed ${c.malformed}, deliberately sent ${malformedSent}`);
if (unexpectedErrors > 0) failures.push(`${unexpectedErrors} unexpected (untyped) errors`);
if (c.reporterErrors > 0) failures.push(`${c.reporterErrors} reporter errors`);

// memory: the running samples (the final one after stop() excluded), thirds by count
const running = samples.slice(0, -1);
if (running.length >= 6) {
  const third = Math.floor(running.length / 3);
  const mean = (xs: Sample[], k: keyof Sample) => xs.reduce((n, x) => n + x[k], 0) / xs.length;
  const middle = running.slice(third, 2 * third);
  const last = running.slice(running.length - third);
  for (const [k, slackMiB] of [["rss", 24], ["heap", 8], ["external", 8]] as const) {
    const a = mean(middle, k);
    const b = mean(last, k);
    console.log(`  memory    ${k}: middle third ${fmt(a)} MiB, last third ${fmt(b)} MiB (${(((b - a) / a) * 100).toFixed(1)} %)`);
    if (b > a * 1.1 + slackMiB * MiB) failures.push(`${k} keeps growing after warm-up: ${fmt(a)} -> ${fmt(b)} MiB`);
  }
} else {
  console.log(`  memory    only ${running.length} samples: growth not judged (needs 6; lengthen --minutes or shorten --interval)`);
}

if (failures.length > 0) {
  for (const f of failures) console.error(`soak: FAIL: ${f}`);
  process.exit(1);
}
console.log("soak: OK");
process.exit(0);
