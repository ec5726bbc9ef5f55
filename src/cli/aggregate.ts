/**
 * `statsworker aggregate FILE`: replays a capture through a TelemetryService, windowed by the
 * stats' own time stamps, and writes what the workers report.
 *
 * @module
 */
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { parseArgs } from "node:util";
import type { EngineKind } from "../engine/engine.ts";
import { loadEngine } from "../engine/load-engine.ts";
import { AnalyticsStatSchema, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { NdjsonReporter } from "../reporters/ndjson-reporter.ts";
import { TelemetryService } from "../telemetry-service.ts";
import { UsageError, durationOption, oneOf } from "./args.ts";
import { ByteSource, Output, describeBadRecord, readCapture, type BadRecord, type CaptureFormat } from "./capture.ts";
import { compareStats } from "./order.ts";
import { ProgressBar } from "./progress.ts";
import { GcCounter, formatCount, formatMiB, formatRate, formatTable } from "./summary.ts";

/** Help text of `statsworker aggregate`. */
export const AGGREGATE_HELP = `usage: statsworker aggregate [options] FILE

Replays a capture through a TelemetryService and writes the coalesced stats, one window at a
time. FILE ('-' for stdin) holds AnalyticsStat messages that carry their own room_id,
participant_id, track_id, kind and time_stamp, either size-delimited (a varint byte length
before each message, as 'statsworker simulate --capture' writes) or as NDJSON of proto3-JSON
objects. The format is detected: NDJSON when the first byte is '{' and the first line parses
as JSON, size-delimited otherwise.

Windowing: a window is [start, start + LEN), with start a multiple of LEN since the Unix
epoch. A worker per (room_id, participant_id) is created when the pair is first seen (its room
name from the stat's room_name). When a record belongs to a later window, the current window
ends: every worker is flushed with its clock set to the window end, which becomes the time
stamp of the output. Records are expected in time order; one that belongs to an earlier,
already flushed window is aggregated into the current window and counted as late.

Output order: within each window, stats are sorted by room_id, participant_id, kind (UPSTREAM
first) and track_id, comparing strings by code units. The order in which workers report and
the order of tracks inside a worker's batch are unspecified (R2 in docs/rules.md); sorting makes the output
byte-identical for both engines and for any run.

options:
  --window DUR            window length: 500ms, 10s, 1m (default 10s)
  --format FMT            auto | delimited | ndjson: the input format (default auto)
  --output-format FMT     ndjson | delimited (default ndjson: proto3 JSON, one stat per line)
  --out FILE              where to write (default '-': stdout)
  --engine KIND           wasm | ts (default wasm)
  --skip-bad              skip malformed records, count them and go on; a size-delimited
                          file is resynchronised at the next offset where a well-formed
                          record with room, participant, track and time stamp starts
                          (default: stop at the first one)
  -q, --quiet             no summary on stderr
  -h, --help              show this help

A malformed record stops the run with one line naming its index and byte offset, exit code 1
(with --skip-bad: a warning per bad record and exit code 0). A progress bar is drawn on stderr
for files of 1 MiB or more when stderr is a terminal. Exit codes: 0 done, 1 failure, 2 bad
arguments.

example:
  statsworker simulate --windows 5 --capture run.bin
  statsworker aggregate --window 10s run.bin > out.ndjson
  statsworker aggregate --engine ts --output-format delimited --out out.bin run.bin
`;

const PROGRESS_MIN_BYTES = 1 << 20;
const MAX_BAD_WARNINGS = 20;

/** Runs `aggregate` with `argv` (the arguments after the command name) and returns the exit code. */
export async function aggregate(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      window: { type: "string", default: "10s" },
      format: { type: "string", default: "auto" },
      "output-format": { type: "string", default: "ndjson" },
      out: { type: "string", default: "-" },
      engine: { type: "string", default: "wasm" },
      "skip-bad": { type: "boolean", default: false },
      quiet: { type: "boolean", short: "q", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(AGGREGATE_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? "missing FILE (the capture to replay; '-' for stdin)" : `expected one FILE, got ${positionals.length}: ${positionals.join(" ")}`);
  }
  const file = positionals[0]!;
  const windowMs = durationOption("--window", values.window, 1, 366 * 24 * 3_600_000);
  const format = oneOf("--format", values.format, ["auto", "delimited", "ndjson"] as const);
  const outputFormat = oneOf("--output-format", values["output-format"], ["ndjson", "delimited"] as const);
  const engineKind: EngineKind = oneOf("--engine", values.engine, ["wasm", "ts"] as const);
  if (values.out !== "-" && values.out === file) throw new UsageError("--out must not be the input FILE");

  const src = await ByteSource.open(file);
  const progress = new ProgressBar("aggregate", { enabled: process.stderr.isTTY === true && src.size >= PROGRESS_MIN_BYTES });
  const output = new Output(values.out);
  const ndjson = outputFormat === "ndjson" ? new NdjsonReporter(output.stream, { maxQueuedBatches: 4, maxQueuedChars: 1 << 30 }) : undefined;

  let collected: AnalyticsStat[] = [];
  let clockMs = 0;
  const engine = await loadEngine(engineKind);
  const service = new TelemetryService({
    engine,
    reporter: { report: (stats) => void collected.push(...stats) },
    now: () => new Date(clockMs),
  });

  const workers = new Set<string>();
  let records = 0;
  let late = 0;
  let windows = 0;
  let written = 0;
  let bytesWritten = 0;
  const bad: BadRecord[] = [];
  const onBad = values["skip-bad"]
    ? (b: BadRecord) => {
        bad.push(b);
        if (bad.length <= MAX_BAD_WARNINGS) {
          progress.clear();
          process.stderr.write(`statsworker aggregate: ${file}: skipping ${describeBadRecord(b)} (${b.skipped} bytes)\n`);
        }
      }
    : undefined;

  async function endWindow(endMs: number): Promise<void> {
    clockMs = endMs;
    service.flush();
    windows++;
    if (collected.length === 0) return;
    const stats = collected.sort(compareStats);
    collected = [];
    written += stats.length;
    if (ndjson !== undefined) {
      ndjson.report(stats);
      await ndjson.flush();
      output.check();
    } else {
      const parts = stats.map((s) => sizeDelimitedEncode(AnalyticsStatSchema, s));
      const chunk = Buffer.concat(parts);
      bytesWritten += chunk.length;
      await output.write(chunk);
    }
  }

  const gc = new GcCounter();
  const started = performance.now();
  let current: number | undefined;
  try {
    const readOptions = { ...(format === "auto" ? {} : { format: format as CaptureFormat }), ...(onBad ? { onBad } : {}) };
    for await (const record of readCapture(src, readOptions)) {
      const stat = record.stat;
      const t = stat.timeStamp;
      const ms = t === undefined ? 0 : Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
      const start = Math.floor(ms / windowMs) * windowMs;
      if (current === undefined) current = start;
      else if (start > current) {
        await endWindow(current + windowMs);
        current = start;
      } else if (start < current) late++;
      const key = `${stat.roomId}\u0000${stat.participantId}`;
      if (!workers.has(key)) {
        workers.add(key);
        clockMs = start;
        service.participantJoined({ sid: stat.roomId, name: stat.roomName }, { sid: stat.participantId, identity: "" });
      }
      service.trackStats(stat.roomId, stat.participantId, stat.trackId, stat.kind, stat);
      records++;
      if ((records & 0x3ff) === 0) progress.update(record.offset, src.size, `${formatCount(records)} records`);
    }
    if (current !== undefined) await endWindow(current + windowMs);
  } finally {
    progress.clear();
    await src.close();
  }
  await service.stop();
  await ndjson?.close();
  await output.close();
  const elapsedMs = performance.now() - started;
  const { events: gcEvents } = await gc.stop();

  if (!values.quiet) {
    const c = service.counters;
    const rows: [string, string][] = [
      ["engine", engineKind],
      ["input", `${file} (${formatCount(src.size)} bytes)`],
      ["records", formatCount(records)],
      ["records malformed (skipped)", `${formatCount(bad.length)}${bad.length ? ` (${formatCount(bad.reduce((n, b) => n + b.skipped, 0))} bytes)` : ""}`],
      ["records late", formatCount(late)],
      ["windows", `${formatCount(windows)} x ${windowMs / 1000} s`],
      ["workers", formatCount(workers.size)],
      ["stats invalid (skipped, R7)", formatCount(c.invalid)],
      ["stats out", formatCount(written)],
      ["bytes out", formatCount(ndjson?.counters.bytesSent ?? bytesWritten)],
      ["time", `${elapsedMs.toFixed(1)} ms`],
      ["throughput", formatRate(records, elapsedMs, "records")],
      ["GC events", String(gcEvents)],
      ["JS heap used", formatMiB(process.memoryUsage().heapUsed)],
    ];
    process.stderr.write(formatTable("statsworker aggregate: summary", rows));
  }
  return 0;
}
