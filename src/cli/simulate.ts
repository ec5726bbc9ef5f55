/**
 * `statsworker simulate`: drives a synthetic SFU through a TelemetryService on virtual time and
 * prints a summary.
 *
 * @module
 */
import { toBinary } from "@bufbuild/protobuf";
import { PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { loadEngine } from "../engine/load-engine.ts";
import type { EngineKind } from "../engine/engine.ts";
import { AnalyticsStatSchema, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import type { TelemetryReporter } from "../reporter.ts";
import { SyntheticSfu } from "../sim/synthetic-sfu.ts";
import { TelemetryService } from "../telemetry-service.ts";
import { UsageError, intOption, oneOf } from "./args.ts";

export const SIMULATE_HELP = `usage: statsworker simulate [options]

Drives a synthetic SFU (rooms of participants, each with up and down tracks, simulcast layers,
now and then a backwards counter) through a TelemetryService on virtual time, and prints what
was reported.

options:
  --participants N   participants (default 200)
  --tracks N         tracks per participant, half up, half down (default 4)
  --windows N        flush windows to simulate (default 20)
  --stats-per-window N  stats per track per window (default 2)
  --engine KIND      wasm | ts (default wasm)
  --input KIND       objects | bytes (default objects)
  --seed N           PRNG seed (default 1)
  -h, --help         show this help
`;

/** Runs `simulate` with `argv` (the arguments after the command name). */
export async function simulate(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      participants: { type: "string", default: "200" },
      tracks: { type: "string", default: "4" },
      windows: { type: "string", default: "20" },
      "stats-per-window": { type: "string", default: "2" },
      engine: { type: "string", default: "wasm" },
      input: { type: "string", default: "objects" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    out.write(SIMULATE_HELP);
    return;
  }
  const participants = intOption("--participants", values.participants, 1, 1_000_000);
  const tracks = intOption("--tracks", values.tracks, 1, 64);
  const windows = intOption("--windows", values.windows, 1, 1_000_000);
  const perWindow = intOption("--stats-per-window", values["stats-per-window"], 1, 1000);
  const seed = intOption("--seed", values.seed, 0, 2 ** 32 - 1);
  const engineKind = oneOf("--engine", values.engine, ["wasm", "ts"] as const) as EngineKind;
  const input = oneOf("--input", values.input, ["objects", "bytes"] as const);

  const sfu = new SyntheticSfu({ participants, tracks, seed });
  const summary = { batches: 0, statsOut: 0, bytesOut: 0, scoreSum: 0, packetsLost: 0 };
  const reporter: TelemetryReporter = {
    report(stats: AnalyticsStat[]) {
      summary.batches++;
      summary.statsOut += stats.length;
      for (const s of stats) {
        summary.scoreSum += s.score;
        summary.packetsLost += s.streams[0]?.packetsLost ?? 0;
      }
    },
  };
  let virtualMs = Date.UTC(2026, 0, 1);
  const engine = await loadEngine(engineKind);
  const service = new TelemetryService({ engine, reporter, now: () => new Date(virtualMs) });

  let gcEvents = 0;
  const gc = new PerformanceObserver((list) => void (gcEvents += list.getEntries().length));
  gc.observe({ entryTypes: ["gc"] });

  for (const p of sfu.participants) service.participantJoined({ sid: p.roomId, name: p.roomName }, { sid: p.participantId, identity: p.identity });
  let ingestMs = 0;
  for (let w = 0; w < windows; w++) {
    // generation is not timed: only ingest and flush are the library's work
    const window: { p: (typeof sfu.participants)[number]; t: (typeof sfu.participants)[number]["tracks"][number]; s: AnalyticsStat | Uint8Array }[] = [];
    for (const p of sfu.participants) {
      for (const t of p.tracks) {
        for (let k = 0; k < perWindow; k++) {
          const s = sfu.stat(p, t);
          window.push({ p, t, s: input === "bytes" ? toBinary(AnalyticsStatSchema, s) : s });
        }
      }
    }
    const t0 = performance.now();
    for (const { p, t, s } of window) service.trackStats(p.roomId, p.participantId, t.trackId, t.direction, s);
    virtualMs += 10_000;
    service.flush();
    ingestMs += performance.now() - t0;
  }
  for (const p of sfu.participants) service.participantLeft(p.roomId, p.participantId);
  await service.stop();
  await new Promise((r) => setTimeout(r, 0));
  gc.disconnect();

  const c = service.counters;
  const rows: [string, string][] = [
    ["engine", engineKind],
    ["input", input],
    ["participants", String(participants)],
    ["windows", String(windows)],
    ["stats in", String(c.statsIn)],
    ["stats invalid (skipped, R7)", String(c.invalid)],
    ["stats dropped", String(c.dropped)],
    ["stats out", String(c.statsOut)],
    ["reports", String(c.reports)],
    ["mean score out", c.statsOut ? (summary.scoreSum / c.statsOut).toFixed(3) : "-"],
    ["ingest+flush time", `${ingestMs.toFixed(1)} ms`],
    ["throughput", `${((c.statsIn / ingestMs) * 1000 / 1e6).toFixed(3)} M stats/s`],
    ["GC events", String(gcEvents)],
    ["JS heap used", `${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  out.write(`statsworker simulate: summary\n`);
  for (const [k, v] of rows) out.write(`  ${k.padEnd(width)}  ${v}\n`);
  if (summary.statsOut !== c.statsOut) throw new Error(`reported ${summary.statsOut} stats, counted ${c.statsOut}`);
}

export { UsageError };
