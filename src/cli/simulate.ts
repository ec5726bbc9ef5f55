/**
 * `statsworker simulate`: drives a synthetic SFU through a TelemetryService on virtual time and
 * prints a summary.
 *
 * @module
 */
import { toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { EngineKind } from "../engine/engine.ts";
import { loadEngine } from "../engine/load-engine.ts";
import { AnalyticsStatSchema, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import type { Logger } from "../logger.ts";
import type { TelemetryReporter } from "../reporter.ts";
import { HttpReporter } from "../reporters/http-reporter.ts";
import { NdjsonReporter } from "../reporters/ndjson-reporter.ts";
import { Random } from "../sim/random.ts";
import { SyntheticSfu, type SyntheticParticipant, type SyntheticTrack } from "../sim/synthetic-sfu.ts";
import { TelemetryService } from "../telemetry-service.ts";
import {
  UsageError,
  durationOption,
  intOption,
  numberOption,
  oneOf,
  rangeOption,
  urlOption,
} from "./args.ts";
import { Output } from "./capture.ts";
import { compareStats } from "./order.ts";
import { ProgressBar } from "./progress.ts";
import { GcCounter, formatCount, formatMiB, formatRate, formatTable } from "./summary.ts";

/** Help text of `statsworker simulate`. */
export const SIMULATE_HELP = `usage: statsworker simulate [options]

Drives a synthetic SFU through a TelemetryService and prints a summary. Rooms of participants
publish and subscribe to 2-4 tracks each (audio and video, simulcast layers, RTX and FEC
streams, now and then a counter that went backwards: an invalid stat, R7). Every window a few
percent of the participants leave at a random moment (their worker is closed then, T2) and as
many new ones join at the start of the next window; a participant that left still sends a late
stat now and then (dropped and counted, R5/T3).

Time is virtual and runs as fast as possible: window w covers [t0 + w*I, t0 + (w+1)*I) with
I = --flush-interval and t0 = 2026-01-01T00:00:00Z (aligned down to a multiple of I), and at
each window end the service is flushed with its clock set to that end, so runs are
reproducible from --seed. With --realtime, t0 is now and each window is processed when its
end arrives on the wall clock (use a short --flush-interval, like 1s, to watch it live).

options:
  --participants N         participants at any time (default 200)
  --participants-per-room N  room size (default 10)
  --tracks N|MIN-MAX       tracks per participant, half up (rounded up), half down (default 2-4)
  --windows N              flush windows to simulate (default 20)
  --stats-per-window N     stats per track per window (default 2)
  --churn PERCENT          participants leaving (and joining) per window, 0-100 (default 2)
  --invalid-rate P         probability of a backwards counter per stat, 0-1 (default 0.001)
  --flush-interval DUR     window length: 500ms, 10s, 1m (default 10s)
  --realtime               pace windows by the wall clock instead of running flat out
  --engine KIND            wasm | ts (default wasm)
  --input KIND             how stats reach the service (default objects):
                             objects  trackStats() with AnalyticsStat objects
                             bytes    trackStats() with one encoded AnalyticsStat each
                             batch    one ingestBatch() buffer per window: size-delimited
                                      stats routed by their own room, participant, track, kind
  --out FILE               write the reported stats as NDJSON (proto3 JSON, one per line;
                           '-' for stdout, the summary then goes to stderr); each window's
                           stats are sorted by time stamp, room, participant, kind, track
  --http URL               POST each window's reported stats as one AnalyticsStats request
  --http-format FMT        protobuf | json (default protobuf)
  --http-deadline DUR      how long to keep delivering queued requests at the end (default 10s)
  --capture FILE           also write every input stat (late ones included) as a replayable
                           capture for 'statsworker aggregate': size-delimited AnalyticsStat
                           messages with room_id, room_name, participant_id, track_id, kind
                           and time_stamp (the virtual time the stat was produced)
  --seed N                 PRNG seed, 0 to 4294967295 (default 1)
  -h, --help               show this help

A progress bar is drawn on stderr when it is a terminal. Exit codes: 0 done, 1 failure,
2 bad arguments.

example:
  statsworker simulate --participants 1000 --windows 10 --engine ts --input bytes
  statsworker simulate --windows 5 --capture run.bin --out run.ndjson
`;

// 2026-01-01T00:00:00Z: a fixed start keeps virtual-time runs reproducible
const VIRTUAL_EPOCH_MS = Date.UTC(2026, 0, 1);
// a participant that left sends a late stat with this probability per window, for this many windows
const LATE_STAT_RATE = 0.3;
const LATE_WINDOWS = 3;

interface Member {
  readonly p: SyntheticParticipant;
  readonly room: number;
  leaveAt: number;
}

interface Event {
  readonly t: number;
  readonly p: SyntheticParticipant;
  readonly track: SyntheticTrack;
  readonly stat: AnalyticsStat;
}

function stderrLogger(prefix: string, progress: ProgressBar): Logger {
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    // a closed stdout pipe is reported once, by Output, as a quiet end
    if (String(fields?.["error"]).includes("EPIPE")) return;
    progress.clear();
    process.stderr.write(`${prefix}: ${level}: ${message}${fields ? " " + JSON.stringify(fields, (_, v) => (typeof v === "bigint" ? String(v) : v)) : ""}\n`);
  };
  return { debug: () => {}, info: () => {}, warn: line("warn"), error: line("error") };
}

/**
 * Runs `simulate` with `argv` (the arguments after the command name) and returns the exit code:
 * 0, or 1 when a sink dropped stats.
 */
export async function simulate(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      participants: { type: "string", default: "200" },
      "participants-per-room": { type: "string", default: "10" },
      tracks: { type: "string", default: "2-4" },
      windows: { type: "string", default: "20" },
      "stats-per-window": { type: "string", default: "2" },
      churn: { type: "string", default: "2" },
      "invalid-rate": { type: "string", default: "0.001" },
      "flush-interval": { type: "string", default: "10s" },
      realtime: { type: "boolean", default: false },
      engine: { type: "string", default: "wasm" },
      input: { type: "string", default: "objects" },
      out: { type: "string" },
      http: { type: "string" },
      "http-format": { type: "string", default: "protobuf" },
      "http-deadline": { type: "string", default: "10s" },
      capture: { type: "string" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(SIMULATE_HELP);
    return 0;
  }
  const participants = intOption("--participants", values.participants, 1, 10_000_000);
  const perRoom = intOption("--participants-per-room", values["participants-per-room"], 1, 100_000);
  const [minTracks, maxTracks] = rangeOption("--tracks", values.tracks, 1, 64);
  const windows = intOption("--windows", values.windows, 1, 10_000_000);
  const perWindow = intOption("--stats-per-window", values["stats-per-window"], 1, 1000);
  const churn = numberOption("--churn", values.churn, 0, 100);
  const invalidRate = numberOption("--invalid-rate", values["invalid-rate"], 0, 1);
  const windowMs = durationOption("--flush-interval", values["flush-interval"], 10, 24 * 3_600_000);
  const engineKind: EngineKind = oneOf("--engine", values.engine, ["wasm", "ts"] as const);
  const input = oneOf("--input", values.input, ["objects", "bytes", "batch"] as const);
  const httpFormat = oneOf("--http-format", values["http-format"], ["protobuf", "json"] as const);
  const httpDeadlineMs = durationOption("--http-deadline", values["http-deadline"], 0, 3_600_000);
  const httpUrl = values.http === undefined ? undefined : urlOption("--http", values.http);
  const seed = intOption("--seed", values.seed, 0, 2 ** 32 - 1);
  if (values.out !== undefined && values.out === values.capture) throw new UsageError("--out and --capture must name different files");
  if (values.capture === "-") throw new UsageError("--capture needs a file name (stdout is for --out -)");

  const progress = new ProgressBar("simulate");
  const log = stderrLogger("statsworker simulate", progress);
  const summaryStream = values.out === "-" ? process.stderr : process.stdout;

  const sfu = new SyntheticSfu({ participants, participantsPerRoom: perRoom, tracks: minTracks, maxTracks, seed, invalidRate });
  // scheduling (times, churn, late stats) has its own stream so it never shifts the stat stream
  const schedule = new Random((seed ^ 0x5bd1e995) >>> 0);
  const t0 = Math.floor((values.realtime ? Date.now() : VIRTUAL_EPOCH_MS) / windowMs) * windowMs;
  let clockMs = t0;

  const ndjsonOut = values.out === undefined ? undefined : new Output(values.out);
  const capture = values.capture === undefined ? undefined : new Output(values.capture);
  // one batch per window reaches the sinks, so a queue of `windows` batches never drops in a run
  const ndjson =
    ndjsonOut === undefined
      ? undefined
      : new NdjsonReporter(ndjsonOut.stream, { maxQueuedBatches: 4, maxQueuedChars: 1 << 30, logger: log });
  const http =
    httpUrl === undefined
      ? undefined
      : new HttpReporter({ url: httpUrl, format: httpFormat, maxQueuedBatches: Math.max(1000, windows), logger: log });

  // Each flush's batches (one per worker) are collected, sorted and handed to the sinks once per
  // window. Without sinks the reporter takes encoded batches: no AnalyticsStat objects are built
  // on the way out, which is what a host exporting bytes would do.
  let windowStats: AnalyticsStat[] = [];
  let bytesOut = 0;
  const collect = ndjson !== undefined || http !== undefined;
  const reporter: TelemetryReporter = collect
    ? { report: (stats) => void windowStats.push(...stats) }
    : { report: () => {}, reportBytes: (batch) => void (bytesOut += batch.length) };

  const engine = await loadEngine(engineKind);
  const service = new TelemetryService({ engine, reporter, flushIntervalMs: windowMs, now: () => new Date(clockMs) });

  let open: Member[] = sfu.participants.map((p, i) => ({ p, room: Math.floor(i / perRoom), leaveAt: Infinity }));
  let joining: Member[] = open;
  let recentlyLeft: { p: SyntheticParticipant; window: number }[] = [];
  let offered = 0;
  let joined = 0;
  let left = 0;
  let captureBytes = 0;
  let serviceMs = 0;
  let reportedStats = 0;

  const gc = new GcCounter();
  const wallStart = performance.now();
  for (let w = 0; w < windows; w++) {
    const start = t0 + w * windowMs;
    const end = start + windowMs;
    if (values.realtime) {
      const wait = end - Date.now();
      if (wait > 0) await sleep(wait);
    }

    // prepare the window (not timed: generation is the simulator's work, not the library's)
    const leaveCount = Math.min(open.length, stochasticRound((open.length * churn) / 100, schedule));
    const leavers: Member[] = [];
    const pool = open.slice();
    for (let i = 0; i < leaveCount; i++) {
      const j = i + schedule.int(0, pool.length - 1 - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      const m = pool[i]!;
      m.leaveAt = start + 1 + schedule.int(0, windowMs - 2);
      leavers.push(m);
    }
    leavers.sort((a, b) => a.leaveAt - b.leaveAt);

    const events: Event[] = [];
    for (const m of open) {
      for (const track of m.p.tracks) {
        for (let k = 0; k < perWindow; k++) {
          const t = start + Math.floor(((k + schedule.float()) * windowMs) / perWindow);
          if (t >= m.leaveAt) continue;
          events.push({ t, p: m.p, track, stat: sfu.stat(m.p, track) });
        }
      }
    }
    for (const r of recentlyLeft) {
      if (!schedule.chance(LATE_STAT_RATE)) continue;
      const track = schedule.pick(r.p.tracks);
      events.push({ t: start + schedule.int(0, windowMs - 1), p: r.p, track, stat: sfu.stat(r.p, track) });
    }
    events.sort((a, b) => a.t - b.t);
    for (const e of events) {
      e.stat.timeStamp = timestampFromMs(e.t);
      e.stat.roomName = e.p.roomName;
    }
    offered += events.length;

    let encoded: Uint8Array[] | undefined;
    let delimited: Uint8Array | undefined;
    if (input !== "objects" || capture !== undefined) {
      encoded = events.map((e) => toBinary(AnalyticsStatSchema, e.stat));
      delimited = concatDelimited(encoded);
    }

    // the library's work: joins, ingest, leaves, flush, reaping
    const t1 = performance.now();
    clockMs = start;
    for (const m of joining) {
      service.participantJoined({ sid: m.p.roomId, name: m.p.roomName }, { sid: m.p.participantId, identity: m.p.identity });
    }
    if (input === "batch") {
      service.ingestBatch(delimited!);
    } else if (input === "bytes") {
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        service.trackStats(e.p.roomId, e.p.participantId, e.track.trackId, e.track.direction, encoded![i]!);
      }
    } else {
      for (const e of events) service.trackStats(e.p.roomId, e.p.participantId, e.track.trackId, e.track.direction, e.stat);
    }
    for (const m of leavers) {
      clockMs = m.leaveAt;
      service.participantLeft(m.p.roomId, m.p.participantId);
    }
    clockMs = end;
    service.flush();
    service.cleanupWorkers();
    serviceMs += performance.now() - t1;

    // membership for the next window: as many join as left, into the rooms they left
    joined += joining.length;
    left += leavers.length;
    const leaving = new Set(leavers);
    open = open.filter((m) => !leaving.has(m));
    joining = leavers.map((m) => ({ p: sfu.addParticipant(m.room), room: m.room, leaveAt: Infinity }));
    open.push(...joining);
    recentlyLeft = recentlyLeft.filter((r) => r.window > w - LATE_WINDOWS);
    for (const m of leavers) recentlyLeft.push({ p: m.p, window: w });

    reportedStats += await deliver();
    if (capture !== undefined && delimited !== undefined) {
      captureBytes += delimited.length;
      await capture.write(delimited);
    }
    progress.update(w + 1, windows, service.counters.statsIn);
  }

  // the end of the run: everyone still there leaves (nothing is buffered any more), then stop()
  clockMs = t0 + windows * windowMs;
  for (const m of open) service.participantLeft(m.p.roomId, m.p.participantId);
  await service.stop();
  reportedStats += await deliver();
  const wallMs = performance.now() - wallStart;
  progress.clear();

  await ndjson?.close();
  await ndjsonOut?.close();
  await capture?.close();
  if (http !== undefined) {
    if (http.counters.queued > 0) process.stderr.write(`statsworker simulate: delivering ${http.counters.queued} queued request(s) to ${httpUrl}\n`);
    await http.close(httpDeadlineMs);
  }
  const { events: gcEvents, pauseMs } = await gc.stop();

  async function deliver(): Promise<number> {
    if (windowStats.length === 0) return 0;
    const stats = windowStats.sort(compareStats);
    windowStats = [];
    // ndjson formats at once, before the http reporter stamps `id` into the same objects
    ndjson?.report(stats);
    http?.report(stats);
    // backpressure: wait until the file or pipe has taken this window
    await ndjson?.flush();
    ndjsonOut?.check();
    return stats.length;
  }

  const c = service.counters;
  const trackText = minTracks === maxTracks ? String(minTracks) : `${minTracks}-${maxTracks}`;
  const rows: [string, string][] = [
    ["engine", engineKind],
    ["input", input],
    ["participants", `${formatCount(participants)} at a time, ${formatCount(joined)} joined, ${formatCount(left)} left early`],
    ["tracks per participant", trackText],
    ["windows", `${windows} x ${windowMs / 1000} s${values.realtime ? " (realtime)" : " (virtual time)"}`],
    ["stats offered", formatCount(offered)],
    ["stats in", formatCount(c.statsIn)],
    ["stats invalid (skipped, R7)", formatCount(c.invalid)],
    ["stats dropped (late, R5/T3)", formatCount(c.dropped)],
    ["stats malformed", formatCount(c.malformed)],
    ["stats out", formatCount(c.statsOut)],
    ["reports", formatCount(c.reports)],
    ["ingest+flush time", `${serviceMs.toFixed(1)} ms`],
    ["throughput", formatRate(offered, serviceMs, "stats")],
    ["wall time", `${(wallMs / 1000).toFixed(2)} s`],
    ["GC events", `${gcEvents} (${pauseMs.toFixed(1)} ms paused)`],
    ["JS heap used", formatMiB(process.memoryUsage().heapUsed)],
  ];
  if (!collect) rows.push(["bytes out (encoded batches)", formatCount(bytesOut)]);
  if (ndjson !== undefined) {
    const n = ndjson.counters;
    rows.push(["ndjson out", `${values.out === "-" ? "stdout" : values.out}: ${formatCount(n.sentStats)} stats, ${formatCount(n.bytesSent)} bytes, ${n.droppedStats} dropped`]);
  }
  if (http !== undefined) {
    const h = http.counters;
    rows.push([
      "http out",
      `${formatCount(h.sent)} requests, ${formatCount(h.sentStats)} stats, ${h.retries} retries, ${formatCount(h.droppedStats)} stats dropped`,
    ]);
  }
  if (capture !== undefined) rows.push(["capture", `${values.capture}: ${formatCount(offered)} stats, ${formatCount(captureBytes)} bytes`]);
  summaryStream.write(formatTable("statsworker simulate: summary", rows));

  if (collect && reportedStats !== c.statsOut) {
    throw new Error(`reported ${reportedStats} stats, counted ${c.statsOut}`);
  }
  const lost = (ndjson?.counters.droppedStats ?? 0) + (http?.counters.droppedStats ?? 0);
  if (lost > 0) {
    process.stderr.write(`statsworker simulate: ${lost} reported stats were not delivered\n`);
    return 1;
  }
  return 0;
}

function stochasticRound(x: number, random: Random): number {
  const whole = Math.floor(x);
  return whole + (random.chance(x - whole) ? 1 : 0);
}

function concatDelimited(messages: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const m of messages) size += varintSize(m.length) + m.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const m of messages) {
    let n = m.length;
    while (n > 0x7f) {
      out[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[pos++] = n;
    out.set(m, pos);
    pos += m.length;
  }
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n >>>= 7;
    size++;
  }
  return size;
}
