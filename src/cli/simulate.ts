/**
 * `statsworker simulate`: drives a synthetic SFU through a TelemetryService on virtual time and
 * prints a summary. The scenario (simulate-scenario.ts) plans each window, the run
 * (simulate-run.ts) feeds it to the service, the outputs (simulate-outputs.ts) take what the
 * service reports; this file parses the options and prints the summary.
 *
 * @module
 */
import type { EngineKind } from "../engine/engine.ts";
import { loadEngine } from "../engine/load-engine.ts";
import { PROFILES } from "../engine/profile.ts";
import type { Logger } from "../logger.ts";
import {
  UsageError,
  durationOption,
  intOption,
  numberOption,
  oneOf,
  parseCommandArgs,
  rangeOption,
  urlOption,
} from "./args.ts";
import { checkRedisUrl, redactUrl } from "../redis/client.ts";
import { INTERRUPTED_EXIT_CODE, Interrupt } from "./interrupt.ts";
import { ProgressBar } from "./progress.ts";
import { runSimulation, type RunResult } from "./simulate-run.ts";
import { SimulateOutputs } from "./simulate-outputs.ts";
import { Scenario } from "./simulate-scenario.ts";
import { GcCounter, formatCount, formatMiB, formatRate, formatTable, type GcTotals } from "./summary.ts";

/** Help text of `statsworker simulate`. */
export const SIMULATE_HELP = `usage: statsworker simulate [options]

Drives a synthetic SFU through a TelemetryService and prints a summary. Rooms of participants
publish and subscribe to 2-4 tracks each (audio and video, simulcast layers, RTX and FEC
streams, now and then a counter that went backwards: an invalid stat, R7 in docs/rules.md). Every window a few
percent of the participants leave at a random moment (their worker is closed then, T2) and as
many new ones join at the start of the next window; a participant that left still sends a late
stat now and then (dropped and counted, R5/T3).

Time is virtual and runs as fast as possible: window w covers [t0 + w*I, t0 + (w+1)*I) with
I = --flush-interval and t0 = 2026-01-01T00:00:00Z (aligned down to a multiple of I), and at
each window end the service is flushed with its clock set to that end, so runs are
reproducible from --seed. With --realtime, t0 is now and each window is processed when its
end arrives on the wall clock (use a short --flush-interval, like 1s, to watch it live).

options:
  --participants N         participants at any time, 1 to 100 000 (default 200)
  --participants-per-room N  room size, 1 to 100 000 (default 10)
  --tracks N|MIN-MAX       tracks per participant, 1 to 64, half up (rounded up), half down
                           (default 2-4)
  --windows N              flush windows to simulate, 1 to 1 000 000 (default 20)
  --stats-per-window N     stats per track per window, 1 to 100 (default 2); participants x
                           tracks x stats per window may be at most 1 000 000
  --churn PERCENT          participants leaving (and joining) per window, 0-100 (default 2)
  --invalid-rate P         probability of a backwards counter per stat, 0-1 (default 0.001)
  --flush-interval DUR     window length: 500ms, 10s, 1m (default 10s)
  --realtime               pace windows by the wall clock instead of running flat out
  --engine KIND            wasm | ts (default wasm)
  --profile NAME           livekit-v1.2 | livekit-current: which LiveKit rules to follow
                           (default livekit-v1.2, the 2022 reference)
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
  --redis URL              append each window's reported stats to a Redis stream, as a fleet
                           node does (RedisStreamReporter; read them with 'statsworker collect')
  --stream NAME            the stream's key, with --redis
  --capture FILE           also write every input stat (late ones included) as a replayable
                           capture for 'statsworker aggregate': size-delimited AnalyticsStat
                           messages with room_id, room_name, participant_id, track_id, kind
                           and time_stamp (the virtual time the stat was produced)
  --seed N                 PRNG seed, 0 to 4294967295 (default 1)
  -h, --help               show this help

--out and --capture are opened before the run starts. A progress bar (percentage, rate, ETA)
is drawn on stderr when it is a terminal. Ctrl+C stops before the next window: the bar is
erased, the outputs hold whole windows (and whole NDJSON lines), the summary so far is printed,
exit code 130. The summary's GC figures are given twice: for the library's work (the timed
ingest and flush) and for the whole process over the whole run (generation and output too).
Exit codes: 0 done, 1 failure (an output that cannot be written, stats a sink dropped),
2 bad arguments, 130 interrupted.

example:
  statsworker simulate --participants 1000 --windows 10 --engine ts --input bytes
  statsworker simulate --windows 5 --capture run.bin --out run.ndjson
`;

// 2026-01-01T00:00:00Z: a fixed start keeps virtual-time runs reproducible
const VIRTUAL_EPOCH_MS = Date.UTC(2026, 0, 1);
// stats planned per window at most: each is an object until the window is fed, so this bounds
// the run's memory (about a kilobyte per stat)
const MAX_STATS_PER_WINDOW = 1_000_000;

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
 * 0, 1 when a sink dropped stats, 130 when interrupted.
 */
export async function simulate(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
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
      profile: { type: "string", default: "livekit-v1.2" },
      input: { type: "string", default: "objects" },
      out: { type: "string" },
      http: { type: "string" },
      "http-format": { type: "string", default: "protobuf" },
      "http-deadline": { type: "string", default: "10s" },
      redis: { type: "string" },
      stream: { type: "string" },
      capture: { type: "string" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", short: "h", default: false },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(SIMULATE_HELP);
    return 0;
  }
  const participants = intOption("--participants", values.participants, 1, 100_000);
  const perRoom = intOption("--participants-per-room", values["participants-per-room"], 1, 100_000);
  const [minTracks, maxTracks] = rangeOption("--tracks", values.tracks, 1, 64);
  const windows = intOption("--windows", values.windows, 1, 1_000_000);
  const perWindow = intOption("--stats-per-window", values["stats-per-window"], 1, 100);
  const churn = numberOption("--churn", values.churn, 0, 100);
  const invalidRate = numberOption("--invalid-rate", values["invalid-rate"], 0, 1);
  const windowMs = durationOption("--flush-interval", values["flush-interval"], 10, 24 * 3_600_000);
  const engineKind: EngineKind = oneOf("--engine", values.engine, ["wasm", "ts"] as const);
  const profile = oneOf("--profile", values.profile, PROFILES);
  const input = oneOf("--input", values.input, ["objects", "bytes", "batch"] as const);
  const httpFormat = oneOf("--http-format", values["http-format"], ["protobuf", "json"] as const);
  const httpDeadlineMs = durationOption("--http-deadline", values["http-deadline"], 0, 3_600_000);
  const httpUrl = values.http === undefined ? undefined : urlOption("--http", values.http);
  const seed = intOption("--seed", values.seed, 0, 2 ** 32 - 1);
  if ((values.redis === undefined) !== (values.stream === undefined)) throw new UsageError("--redis and --stream go together");
  if (values.redis !== undefined) {
    try {
      checkRedisUrl(values.redis);
    } catch {
      throw new UsageError(`--redis must be a redis:// or rediss:// URL, got ${JSON.stringify(redactUrl(values.redis))}`);
    }
  }
  const statsPerWindow = participants * maxTracks * perWindow;
  if (statsPerWindow > MAX_STATS_PER_WINDOW) {
    throw new UsageError(
      `--participants x --tracks (max) x --stats-per-window is ${formatCount(statsPerWindow)} stats per window, more than ${formatCount(MAX_STATS_PER_WINDOW)}`,
    );
  }
  if (values.out !== undefined && values.out === values.capture) throw new UsageError("--out and --capture must name different files");
  if (values.capture === "-") throw new UsageError("--capture needs a file name (stdout is for --out -)");

  const progress = new ProgressBar("simulate", { unit: "stats in" });
  const outputs = SimulateOutputs.open({
    out: values.out,
    http: httpUrl,
    httpFormat,
    httpDeadlineMs,
    redis: values.redis === undefined ? undefined : { url: values.redis, stream: values.stream! },
    capture: values.capture,
    windows,
    logger: stderrLogger("statsworker simulate", progress),
  });
  const t0 = Math.floor((values.realtime ? Date.now() : VIRTUAL_EPOCH_MS) / windowMs) * windowMs;
  const scenario = new Scenario({
    participants,
    participantsPerRoom: perRoom,
    minTracks,
    maxTracks,
    statsPerWindow: perWindow,
    churn,
    invalidRate,
    seed,
    windowMs,
    t0,
  });
  const interrupt = new Interrupt();
  const gc = new GcCounter();
  let result: RunResult;
  try {
    result = await runSimulation({
      engine: await loadEngine(engineKind, { profile }),
      scenario,
      outputs,
      input,
      windows,
      windowMs,
      t0,
      realtime: values.realtime,
      progress,
      interrupt,
      gc,
    });
  } finally {
    progress.clear();
    interrupt.dispose();
  }
  await outputs.close();
  const gcTotals = await gc.stop();

  const summary = formatTable(
    "statsworker simulate: summary",
    summaryRows({ engineKind, profile, input, participants, minTracks, maxTracks, windows, windowMs, realtime: values.realtime, scenario, result, outputs, gc: gcTotals }),
  );
  (values.out === "-" ? process.stderr : process.stdout).write(summary);

  const c = result.service.counters;
  if (outputs.collecting && outputs.delivered !== c.statsOut) {
    throw new Error(`reported ${outputs.delivered} stats, counted ${c.statsOut}`);
  }
  if (result.interrupted) return INTERRUPTED_EXIT_CODE;
  if (outputs.lost > 0) {
    process.stderr.write(`statsworker simulate: ${outputs.lost} reported stats were not delivered\n`);
    return 1;
  }
  return 0;
}

interface SummaryInput {
  engineKind: EngineKind;
  profile: string;
  input: string;
  participants: number;
  minTracks: number;
  maxTracks: number;
  windows: number;
  windowMs: number;
  realtime: boolean;
  scenario: Scenario;
  result: RunResult;
  outputs: SimulateOutputs;
  gc: GcTotals & { marked: GcTotals };
}

/** The rows of the end-of-run summary. */
function summaryRows(s: SummaryInput): [string, string][] {
  const c = s.result.service.counters;
  const gcText = (t: GcTotals) => `${t.events} (${t.pauseMs.toFixed(1)} ms paused)`;
  const trackText = s.minTracks === s.maxTracks ? String(s.minTracks) : `${s.minTracks}-${s.maxTracks}`;
  const windowsText = s.result.windowsDone === s.windows ? String(s.windows) : `${s.result.windowsDone} of ${s.windows}`;
  const rows: [string, string][] = [
    ["engine", `${s.engineKind} (${s.profile})`],
    ["input", s.input],
    ["participants", `${formatCount(s.participants)} at a time, ${formatCount(s.scenario.joined)} joined, ${formatCount(s.scenario.left)} left early`],
    ["tracks per participant", trackText],
    ["windows", `${windowsText} x ${s.windowMs / 1000} s${s.realtime ? " (realtime)" : " (virtual time)"}`],
    ["stats offered", formatCount(s.scenario.offered)],
    ["stats in", formatCount(c.statsIn)],
    ["stats invalid (skipped, R7)", formatCount(c.invalid)],
    ["stats dropped (late, R5/T3)", formatCount(c.dropped)],
    ["stats malformed", formatCount(c.malformed)],
    ["stats out", formatCount(c.statsOut)],
    ["reports", formatCount(c.reports)],
    ["ingest+flush time", `${s.result.serviceMs.toFixed(1)} ms`],
    ["throughput", formatRate(s.scenario.offered, s.result.serviceMs, "stats")],
    ["wall time", `${(s.result.wallMs / 1000).toFixed(2)} s`],
    ["GC events (library)", `${gcText(s.gc.marked)}, during ingest+flush`],
    ["GC events (whole process)", `${gcText(s.gc)}, whole run: generation and output too`],
    ["JS heap used (whole process)", formatMiB(process.memoryUsage().heapUsed)],
    ...s.outputs.summaryRows(s.scenario.offered),
  ];
  if (s.result.interrupted) rows.push(["interrupted", "by SIGINT: the windows shown were run in full"]);
  return rows;
}
