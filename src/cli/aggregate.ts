/**
 * `statsworker aggregate FILE`: replays a capture through a TelemetryService, windowed by the
 * stats' own time stamps, and writes what the workers report.
 *
 * A size-delimited capture goes through the engine's batch path: a windowed `ingestBatch` takes
 * records until one needs the replay (a join, a window's end, a bad record), and only those
 * records are read here (scan.ts). An NDJSON capture is parsed record by record.
 *
 * @module
 */
import type { EngineKind } from "../engine/engine.ts";
import { decodeStat } from "../engine/decode-stat.ts";
import { loadEngine } from "../engine/load-engine.ts";
import { PROFILES } from "../engine/profile.ts";
import { isDecodeError, isLimitError } from "../errors.ts";
import type { AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { CliError, UsageError, durationOption, oneOf, parseCommandArgs } from "./args.ts";
import {
  BLOCK_BYTES,
  ByteSource,
  Output,
  describeBadRecord,
  detectFormat,
  errorDetail,
  readNdjson,
  type BadRecord,
} from "./capture.ts";
import { INTERRUPTED_EXIT_CODE, Interrupt } from "./interrupt.ts";
import { ProgressBar } from "./progress.ts";
import { Replay, idRanges, type IdRanges } from "./replay.ts";
import { MAX_DATE_MS, RecordFields, Scan, scanRecord, timeMs } from "./scan.ts";
import { GcCounter, formatCount, formatMiB, formatRate, formatTable } from "./summary.ts";
import { WindowSink } from "./window-sink.ts";

/** Help text of `statsworker aggregate`. */
export const AGGREGATE_HELP = `usage: statsworker aggregate [options] FILE

Replays a capture through a TelemetryService and writes the coalesced stats, one window at a
time. FILE holds AnalyticsStat messages that carry their own room_id, participant_id, track_id,
kind and time_stamp, either size-delimited (a varint byte length before each message, as
'statsworker simulate --capture' writes) or as NDJSON of proto3-JSON objects. FILE may be a
regular file, '-' for stdin, a FIFO or a process substitution such as <(zcat run.bin.gz).

Format detection (--format auto): NDJSON when the first byte that is not white space is '{' and
the first line parses as JSON, size-delimited otherwise.

Windowing: a window is [start, start + LEN), with start a multiple of LEN since the Unix
epoch. When a record belongs to a later window, the current window ends: every worker is
flushed with its clock set to the window end, which becomes the time stamp of the output.
Records are expected in time order; one that belongs to an earlier, already flushed window is
aggregated into the current window and counted as late. A time stamp outside the range of a
JavaScript Date (about 275 000 years either side of 1970) is a malformed record.

Participants: a worker per (room_id, participant_id) joins when the pair is first seen (its
room name from the stat's room_name). A participant with no stat during a whole window is taken
to have left: its worker is closed at that window's end and reaped 180 s of capture time later,
as the service reaps closed workers; a later stat from it joins it again.

Output order: within each window, stats are sorted by room_id, participant_id, kind (UPSTREAM
first) and track_id, comparing strings by code units. The order in which workers report and
the order of tracks inside a worker's batch are unspecified (R2 in docs/rules.md); sorting
makes the output byte-identical for both engines and for any run.

options:
  --window DUR            window length from 1ms to 366 days: 500ms, 10s, 1m (default 10s)
  --format FMT            auto | delimited | ndjson: the input format (default auto)
  --output-format FMT     ndjson | delimited (default ndjson: proto3 JSON, one stat per line)
  --out FILE              where to write (default '-': stdout); opened before the run starts
  --engine KIND           wasm | ts (default wasm)
  --profile NAME          livekit-v1.2 | livekit-current: which LiveKit rules to follow
                          (default livekit-v1.2, the 2022 reference)
  --skip-bad              skip malformed records, count them and go on; a size-delimited
                          file whose length prefix is broken is resynchronised at the next
                          offset where a record with room, participant, track and time
                          stamp starts (in time linear in the bytes skipped)
                          (default: stop at the first one)
  --ignore-unknown-fields NDJSON input: skip JSON keys that AnalyticsStat does not have
                          (default: such a record is malformed)
  -q, --quiet             no summary on stderr
  -h, --help              show this help

A malformed record stops the run with one line naming its index and byte offset, exit code 1
(with --skip-bad: a warning per bad record, the first 20, and exit code 0). A progress bar
(percentage, rate, ETA) is drawn on stderr for files of 1 MiB or more when stderr is a terminal.
Ctrl+C stops at the next record: the bar is erased, the windows already written stay whole (the
window in progress is not written), the summary so far is printed, exit code 130.
Exit codes: 0 done, 1 failure (an unreadable FILE or --out, a malformed record), 2 bad
arguments, 130 interrupted.

example:
  statsworker simulate --windows 5 --capture run.bin
  statsworker aggregate --window 10s run.bin > out.ndjson
  statsworker aggregate --engine ts --output-format delimited --out out.bin run.bin
`;

const PROGRESS_MIN_BYTES = 1 << 20;
const MAX_BAD_WARNINGS = 20;
// a resynchronisation probe walks at most this many top-level fields of a candidate record: a
// real stat has about a dozen plus one per stream (LIMITS.maxStreamsPerStat), and the bound is
// what keeps probing every offset of a long run of garbage linear
const MAX_PROBE_FIELDS = 128;

/** Runs `aggregate` with `argv` (the arguments after the command name) and returns the exit code. */
export async function aggregate(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      window: { type: "string", default: "10s" },
      format: { type: "string", default: "auto" },
      "output-format": { type: "string", default: "ndjson" },
      out: { type: "string", default: "-" },
      engine: { type: "string", default: "wasm" },
      profile: { type: "string", default: "livekit-v1.2" },
      "skip-bad": { type: "boolean", default: false },
      "ignore-unknown-fields": { type: "boolean", default: false },
      quiet: { type: "boolean", short: "q", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
  );
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
  const profile = oneOf("--profile", values.profile, PROFILES);
  if (values.out !== "-" && values.out === file) throw new UsageError("--out must not be the input FILE");

  const interrupt = new Interrupt();
  let src: ByteSource;
  let output: Output;
  try {
    src = await ByteSource.open(file, interrupt.signal);
    try {
      output = new Output(values.out);
    } catch (err) {
      await src.close();
      throw err;
    }
  } catch (err) {
    interrupt.dispose();
    throw err;
  }
  const progress = new ProgressBar("aggregate", {
    enabled: process.stderr.isTTY === true && src.size >= PROGRESS_MIN_BYTES,
    unit: "records",
  });
  const sink = new WindowSink(output, outputFormat);
  const replay = new Replay({ engine: await loadEngine(engineKind, { profile }), sink, windowMs });
  const bad: BadRecord[] = [];
  const onBad = (b: BadRecord): void => {
    bad.push(b);
    if (bad.length <= MAX_BAD_WARNINGS) {
      progress.clear();
      process.stderr.write(`statsworker aggregate: ${file}: skipping ${describeBadRecord(b)} (${b.skipped} bytes)\n`);
    }
  };
  const options: RunOptions = {
    src,
    replay,
    windowMs,
    progress,
    interrupt,
    onBad: values["skip-bad"] ? onBad : undefined,
    ignoreUnknownFields: values["ignore-unknown-fields"],
  };

  const gc = new GcCounter();
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let records = 0;
  try {
    progress.start(src.size);
    const detected = format === "auto" ? await detectFormat(src) : format;
    records = detected === "ndjson" ? await replayNdjson(options) : await replayDelimited(options);
    if (interrupt.requested) sink.discard();
    else await replay.endWindow(undefined);
  } finally {
    progress.clear();
    interrupt.dispose();
    await src.close();
  }
  await replay.service.stop();
  await sink.close();
  await output.close();
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const { events: gcEvents, pauseMs } = await gc.stop();

  if (!values.quiet) {
    const c = replay.service.counters;
    const skippedBytes = bad.reduce((n, b) => n + b.skipped, 0);
    const size = Number.isFinite(src.size) ? `${formatCount(src.size)} bytes` : "a stream";
    const rows: [string, string][] = [
      ["engine", `${engineKind} (${profile})`],
      ["input", `${file} (${size})`],
      ["records", formatCount(records)],
      ["records malformed (skipped)", `${formatCount(bad.length)}${bad.length ? ` (${formatCount(skippedBytes)} bytes)` : ""}`],
      ["records late", formatCount(replay.late)],
      ["windows", `${formatCount(replay.windows)} x ${windowMs / 1000} s`],
      ["workers", `${formatCount(replay.joins)} joined, ${formatCount(replay.idleCloses)} closed idle, ${formatCount(replay.reaped)} reaped`],
      ["stats invalid (skipped, R7)", formatCount(c.invalid)],
      ["stats out", formatCount(sink.statsOut)],
      ["bytes out", formatCount(sink.bytesOut)],
      ["time", `${elapsedMs.toFixed(1)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms CPU`],
      ["throughput", `${formatRate(records, elapsedMs, "records")} (wall)`],
      ["GC events (whole process)", `${gcEvents} (${pauseMs.toFixed(1)} ms paused)`],
      ["JS heap used (whole process)", formatMiB(process.memoryUsage().heapUsed)],
    ];
    if (interrupt.requested) rows.push(["interrupted", "by SIGINT: the window in progress was not written"]);
    process.stderr.write(formatTable("statsworker aggregate: summary", rows));
  }
  return interrupt.requested ? INTERRUPTED_EXIT_CODE : 0;
}

interface RunOptions {
  src: ByteSource;
  replay: Replay;
  windowMs: number;
  progress: ProgressBar;
  interrupt: Interrupt;
  /** with --skip-bad: report a bad record and go on; without: stop with a CliError */
  onBad: ((bad: BadRecord) => void) | undefined;
  ignoreUnknownFields: boolean;
}

/** Throws the CliError of a bad record, or hands it to `onBad`. */
function badRecord(options: RunOptions, bad: BadRecord): void {
  if (options.onBad === undefined) throw new CliError(describeBadRecord(bad));
  options.onBad(bad);
}

/** The window of a time stamp, or a detail for a bad record when a Date cannot hold it. */
function windowStart(options: RunOptions, ms: number): number | string {
  // the window's end must be a valid Date too: it becomes the output's time stamp
  if (!(Math.abs(ms) <= MAX_DATE_MS - options.windowMs)) {
    return `time stamp ${ms} ms is outside the range of a JavaScript Date (+-${MAX_DATE_MS} ms)`;
  }
  return options.replay.windowOf(ms);
}

async function replayNdjson(options: RunOptions): Promise<number> {
  const { replay, progress, src, interrupt } = options;
  const ndjsonOptions = { ignoreUnknownFields: options.ignoreUnknownFields, ...(options.onBad ? { onBad: options.onBad } : {}) };
  let records = 0;
  for await (const record of readNdjson(src, ndjsonOptions)) {
    if (interrupt.requested) break;
    const stat: AnalyticsStat = record.stat;
    const t = stat.timeStamp;
    const missing = missingRouting(stat.roomId !== "", stat.participantId !== "", stat.trackId !== "", t !== undefined);
    const start = missing ?? windowStart(options, t === undefined ? 0 : timeMs(Number(t.seconds), t.nanos));
    if (typeof start === "string") {
      badRecord(options, { offset: record.offset, index: record.index, line: record.line, detail: start, skipped: record.length });
      continue;
    }
    if (replay.current !== undefined && start > replay.current) await replay.endWindow(start);
    replay.admit(start, idRanges(stat.roomId, stat.participantId), () => stat);
    replay.service.trackStats(stat.roomId, stat.participantId, stat.trackId, stat.kind, stat);
    records++;
    if ((records & 0x3ff) === 0) progress.update(record.offset, src.size, records);
  }
  return records;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

// A windowed ingest copies its bytes into the engine, and after each record it stops at (a
// join, a window's end, a bad record) the next one copies again: a chunk starts small after a
// stop, as stops come in runs (the joins of a capture's first window), and doubles while it is
// taken whole, up to a size past which the engine would give its input buffer back every call.
const MIN_CHUNK_BYTES = 4 << 10;
const MAX_CHUNK_BYTES = 64 << 10;

/**
 * Replays a size-delimited capture: the engine takes each block's records in chunks through a
 * windowed ingestBatch, which stops at every record the replay must look at (a new participant,
 * a later window, a record that is malformed or lacks its routing); that record alone goes
 * through the scanner here (scan.ts), {@link Replay.admit} and a one-record ingestBatch.
 */
async function replayDelimited(options: RunOptions): Promise<number> {
  const { replay, progress, src, interrupt } = options;
  const f = new RecordFields();
  let records = 0;
  let nextProgress = 1 << 14;
  let index = 0;
  // the block: file bytes [base, base + view.length)
  let base = 0;
  await src.ensure(0, BLOCK_BYTES, 1);
  let view = src.view(0, BLOCK_BYTES);
  let pos = 0;
  let chunk = MAX_CHUNK_BYTES;

  // the block from `at` on, with at least one byte more than is held from there (a stream
  // delivers what it has; a file gives a whole block)
  const refill = async (at: number): Promise<void> => {
    const held = Math.max(0, base + view.length - at);
    await src.ensure(at, BLOCK_BYTES, held + 1);
    base = at;
    view = src.view(at, BLOCK_BYTES);
    pos = 0;
  };
  // the routing of a record the scanner leaves to the full decoder; a DecodeError says it is bad
  let decoded: AnalyticsStat | undefined;
  const identity = () => {
    if (decoded !== undefined) return decoded;
    return {
      roomId: utf8.decode(view.subarray(f.roomIdStart, f.roomIdEnd)),
      roomName: utf8.decode(view.subarray(f.roomNameStart, f.roomNameEnd)),
      participantId: utf8.decode(view.subarray(f.participantIdStart, f.participantIdEnd)),
    };
  };

  // A bad record is not ingested. When its frame is in doubt (a broken length prefix, bytes
  // that do not decode, routing fields missing) the file is resynchronised at the next
  // plausible record after its first byte; otherwise only its frame is skipped.
  const skip = async (offset: number, detail: string, resync: boolean): Promise<void> => {
    const bad: BadRecord = { offset, index: index++, detail, skipped: 0 };
    if (options.onBad === undefined) throw new CliError(describeBadRecord(bad));
    const next = resync ? await resynchronise(src, offset + 1, interrupt) : base + f.end;
    bad.skipped = next - offset;
    options.onBad(bad);
    if (resync) await refill(next);
    else pos = next - base;
  };

  for (;;) {
    if (interrupt.requested) return records;
    if (pos >= view.length && base + pos >= src.size) break;
    if (replay.current !== undefined && pos < view.length) {
      const to = Math.min(view.length, pos + chunk);
      const taken = replay.ingestWindow(view.subarray(pos, to));
      pos += taken.bytes;
      index += taken.messages;
      records += taken.messages;
      if (records >= nextProgress) {
        progress.update(base + pos, src.size, records);
        nextProgress = records + (1 << 14);
      }
      // all of the chunk taken: the next one; otherwise the record at pos is the replay's
      if (pos === to) {
        chunk = Math.min(MAX_CHUNK_BYTES, chunk * 2);
        continue;
      }
      chunk = MIN_CHUNK_BYTES;
    }
    const atEnd = base + view.length >= src.size;
    const status = scanRecord(view, pos, view.length, atEnd, f);
    if (status === Scan.More) {
      await refill(base + pos);
      if (view.length === 0) break;
      continue;
    }
    const offset = base + pos;
    if (status === Scan.BadFrame) {
      await skip(offset, f.detail, true);
      continue;
    }
    decoded = undefined;
    let ms = f.hasTime ? timeMs(f.seconds, f.nanos) : 0;
    let ids: IdRanges = f;
    const routed = f.roomIdEnd > f.roomIdStart && f.participantIdEnd > f.participantIdStart && f.hasTrack && f.hasTime;
    let missing = routed ? undefined : missingRouting(f.roomIdEnd > f.roomIdStart, f.participantIdEnd > f.participantIdStart, f.hasTrack, f.hasTime);
    if (status === Scan.Odd) {
      try {
        decoded = decodeStat(view.subarray(f.start, f.end));
      } catch (err) {
        if (!isDecodeError(err) && !isLimitError(err)) throw err;
        await skip(offset, errorDetail(err), true);
        continue;
      }
      const t = decoded.timeStamp;
      ms = t === undefined ? 0 : timeMs(Number(t.seconds), t.nanos);
      ids = idRanges(decoded.roomId, decoded.participantId);
      missing = missingRouting(decoded.roomId !== "", decoded.participantId !== "", decoded.trackId !== "", t !== undefined);
    }
    if (missing !== undefined) {
      await skip(offset, missing, true);
      continue;
    }
    const start = windowStart(options, ms);
    if (typeof start === "string") {
      await skip(offset, start, false);
      continue;
    }
    if (replay.current !== undefined && start > replay.current) await replay.endWindow(start);
    try {
      replay.admit(start, ids, identity);
    } catch (err) {
      // ids that are not UTF-8 (the fatal TextDecoder throws a TypeError): the decoder names it
      if (!(err instanceof TypeError)) throw err;
      await skip(offset, decodeProblem(view.subarray(f.start, f.end)), true);
      continue;
    }
    // a record the engine rejects is a bad record after all
    records += 1 - ingestRecord(options, view.subarray(pos, f.end), view.subarray(f.start, f.end), offset, index);
    pos = f.end;
    index++;
  }
  return records;
}

/** Which routing field a record lacks, as a bad record's detail, or undefined when it has all. */
function missingRouting(room: boolean, participant: boolean, track: boolean, time: boolean): string | undefined {
  const missing = [room ? "" : "room_id", participant ? "" : "participant_id", track ? "" : "track_id", time ? "" : "time_stamp"].filter((n) => n !== "");
  return missing.length === 0 ? undefined : `record has no ${missing.join(", ")} (a capture record carries its own routing)`;
}

/** What the decoder finds wrong with a message, for one the scanner could not take. */
function decodeProblem(message: Uint8Array): string {
  try {
    decodeStat(message);
  } catch (err) {
    if (isDecodeError(err) || isLimitError(err)) return errorDetail(err);
    throw err;
  }
  return "invalid UTF-8 in an id";
}

/**
 * Ingests one whole record (`frame`: its length prefix included, at `message` the stat) and
 * returns 1 when it is a bad record, 0 otherwise. A record the engine rejects as malformed or
 * over a per-message bound is bad: it stops the run without --skip-bad and is reported with it.
 * One a window refused (livekit-current's score bound) is no bad record: the service counted it.
 */
function ingestRecord(options: RunOptions, frame: Uint8Array, message: Uint8Array, fileOffset: number, index: number): number {
  try {
    options.replay.service.ingestBatch(frame);
    return 0;
  } catch (err) {
    if (!isDecodeError(err) && !isLimitError(err)) throw err;
    if (isLimitError(err) && err.code === "out_of_memory") throw new CliError(`engine memory exhausted at byte offset ${fileOffset}`);
    let detail: string | undefined = isDecodeError(err) ? errorDetail(err) : undefined;
    if (detail === undefined) {
      try {
        decodeStat(message);
      } catch (e) {
        if (!isDecodeError(e) && !isLimitError(e)) throw e;
        detail = errorDetail(e);
      }
    }
    if (detail === undefined) return 0;
    badRecord(options, { offset: fileOffset, index, detail, skipped: frame.length });
    return 1;
  }
}

/**
 * The offset of the next plausible record at or after `from`: one whose frame fits and whose
 * top level (at most {@link MAX_PROBE_FIELDS} fields) walks cleanly with room, participant,
 * track and time stamp. Random bytes decode as an AnalyticsStat surprisingly often, but rarely
 * with every routing field set. Each offset costs a bounded time, so the scan is linear.
 */
async function resynchronise(src: ByteSource, from: number, interrupt: Interrupt): Promise<number> {
  const probe = new RecordFields();
  let q = from;
  await src.ensure(q, BLOCK_BYTES, 1);
  let base = q;
  let view = src.view(q, BLOCK_BYTES);
  const more = async (): Promise<void> => {
    const held = Math.max(0, base + view.length - q);
    await src.ensure(q, BLOCK_BYTES, held + 1);
    base = q;
    view = src.view(q, BLOCK_BYTES);
  };
  for (;;) {
    // an interrupted read brings nothing new: the caller stops at its next check
    if (interrupt.requested) return q;
    if (q >= src.size) return src.size;
    const i = q - base;
    const atEnd = base + view.length >= src.size;
    if (i >= view.length) {
      if (atEnd) return src.size;
      await more();
      continue;
    }
    const status = scanRecord(view, i, view.length, atEnd, probe, MAX_PROBE_FIELDS);
    // a record fits in a block, so from the block's start More cannot happen; elsewhere it asks
    // for the block to move up to the candidate
    if (status === Scan.More) {
      await more();
      continue;
    }
    if (
      status === Scan.Ok &&
      probe.roomIdEnd > probe.roomIdStart &&
      probe.participantIdEnd > probe.participantIdStart &&
      probe.hasTrack &&
      probe.hasTime
    ) {
      return q;
    }
    q++;
  }
}
