/**
 * Where `statsworker aggregate` writes: the service's reporter collects one window's stats, and
 * {@link WindowSink.writeWindow} sorts and writes them, NDJSON (proto3 JSON, one stat per line)
 * or size-delimited bytes.
 *
 * The size-delimited output takes the engine's encoded batches as they are (`reportBytes`): each
 * entry of an encoded `AnalyticsStats` is a tag byte before a length-prefixed stat, so dropping
 * that byte gives the size-delimited record without building or encoding any message object.
 *
 * @module
 */
import type { AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import type { TelemetryReporter } from "../reporter.ts";
import { NdjsonReporter } from "../reporters/ndjson-reporter.ts";
import type { Output } from "./capture.ts";
import { compareRouted, compareStats } from "./order.ts";
import { RecordFields, Scan, scanRecord, timeMs } from "./scan.ts";

/** The two output layouts of `aggregate`. */
export type OutputFormat = "ndjson" | "delimited";

/** One stat of an encoded batch, with the keys the output order needs. */
interface Entry {
  readonly time: number;
  readonly roomId: string;
  readonly participantId: string;
  readonly kind: number;
  readonly trackId: string;
  /** the length-prefixed stat */
  readonly bytes: Uint8Array;
}

const utf8 = new TextDecoder();

/** Collects what the workers report during a window and writes it, sorted, when the window ends. */
export class WindowSink {
  /** the reporter to give the TelemetryService */
  readonly reporter: TelemetryReporter;
  /** stats written so far */
  statsOut = 0;
  /** bytes written so far */
  bytesOut = 0;
  private stats: AnalyticsStat[] = [];
  private batches: Uint8Array[] = [];
  private readonly ndjson: NdjsonReporter | undefined;
  private discarding = false;

  constructor(
    private readonly output: Output,
    format: OutputFormat,
  ) {
    if (format === "ndjson") {
      // one batch per window reaches the reporter, and flush() waits for it: nothing queues up
      this.ndjson = new NdjsonReporter(output.stream, { maxQueuedBatches: 4, maxQueuedChars: 1 << 30 });
      this.reporter = { report: (stats) => void (this.discarding || this.stats.push(...stats)) };
    } else {
      this.ndjson = undefined;
      this.reporter = {
        report: () => {},
        // the batch is only valid during the call: copy it (a Buffer's slice() would be a view)
        reportBytes: (batch) => void (this.discarding || this.batches.push(new Uint8Array(batch))),
      };
    }
  }

  /** Sorts and writes what was reported since the last call; resolves once the output took it. */
  async writeWindow(): Promise<void> {
    if (this.ndjson !== undefined) {
      if (this.stats.length === 0) return;
      const stats = this.stats.sort(compareStats);
      this.stats = [];
      this.statsOut += stats.length;
      this.ndjson.report(stats);
      await this.ndjson.flush();
      this.bytesOut = this.ndjson.counters.bytesSent;
      this.output.check();
      return;
    }
    if (this.batches.length === 0) return;
    const entries: Entry[] = [];
    for (const batch of this.batches) splitBatch(batch, entries);
    this.batches = [];
    entries.sort(compareEntries);
    let size = 0;
    for (const e of entries) size += e.bytes.length;
    const chunk = new Uint8Array(size);
    let pos = 0;
    for (const e of entries) {
      chunk.set(e.bytes, pos);
      pos += e.bytes.length;
    }
    this.statsOut += entries.length;
    this.bytesOut += size;
    await this.output.write(chunk);
  }

  /** From now on, reported stats are dropped unwritten (an interrupted run's partial window). */
  discard(): void {
    this.discarding = true;
    this.stats = [];
    this.batches = [];
  }

  /** Ends the NDJSON reporter, if any (the output itself is the caller's to close). */
  async close(): Promise<void> {
    await this.ndjson?.close();
  }
}

const fields = new RecordFields();

function sameBytes(buf: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let i = 0; i < aEnd - aStart; i++) if (buf[aStart + i] !== buf[bStart + i]) return false;
  return true;
}

// An encoded AnalyticsStats is a run of field-1 entries: 0x0a, then a length-prefixed stat. One
// worker's batch shares its room and participant (R3), so their strings are made once per batch.
function splitBatch(batch: Uint8Array, into: Entry[]): void {
  let pos = 0;
  let roomId = "";
  let participantId = "";
  let roomStart = -1;
  let roomEnd = -1;
  let partStart = -1;
  let partEnd = -1;
  while (pos < batch.length) {
    if (batch[pos] !== 0x0a) throw new Error(`encoded batch: unexpected tag ${batch[pos]} at byte ${pos}`);
    const status = scanRecord(batch, pos + 1, batch.length, true, fields);
    if (status !== Scan.Ok) throw new Error(`encoded batch: unreadable stat at byte ${pos}`);
    if (!sameBytes(batch, roomStart, roomEnd, fields.roomIdStart, fields.roomIdEnd)) {
      roomId = utf8.decode(batch.subarray(fields.roomIdStart, fields.roomIdEnd));
    }
    if (!sameBytes(batch, partStart, partEnd, fields.participantIdStart, fields.participantIdEnd)) {
      participantId = utf8.decode(batch.subarray(fields.participantIdStart, fields.participantIdEnd));
    }
    roomStart = fields.roomIdStart;
    roomEnd = fields.roomIdEnd;
    partStart = fields.participantIdStart;
    partEnd = fields.participantIdEnd;
    into.push({
      time: fields.hasTime ? timeMs(fields.seconds, fields.nanos) : 0,
      roomId,
      participantId,
      kind: fields.kind,
      trackId: utf8.decode(batch.subarray(fields.trackIdStart, fields.trackIdEnd)),
      bytes: batch.subarray(pos + 1, fields.end),
    });
    pos = fields.end;
  }
}

function compareEntries(a: Entry, b: Entry): number {
  return compareRouted(a, a.time, b, b.time);
}
