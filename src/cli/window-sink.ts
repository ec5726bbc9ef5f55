/**
 * Where `statsworker aggregate` writes: the service's reporter collects one window's encoded
 * batches, and {@link WindowSink.writeWindow} sorts and writes their stats, NDJSON (proto3 JSON,
 * one stat per line) or size-delimited bytes.
 *
 * Both formats start from the engine's encoded batches (`reportBytes`), copied into one arena:
 * each entry of an encoded `AnalyticsStats` is a tag byte before a length-prefixed stat, so
 * dropping that byte gives the size-delimited record, and the NDJSON line is written from the
 * same bytes (stat-json.ts). No message object is built on either path.
 *
 * @module
 */
import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import { AnalyticsStatSchema } from "../gen/livekit/livekit_analytics_pb.ts";
import type { TelemetryReporter } from "../reporter.ts";
import { CliError } from "./args.ts";
import type { Output } from "./capture.ts";
import { compareCodeUnits } from "./order.ts";
import { RecordFields, Scan, scanRecord, timeMs } from "./scan.ts";
import { ByteWriter, writeStatJson } from "./stat-json.ts";

/** The two output layouts of `aggregate`. */
export type OutputFormat = "ndjson" | "delimited";

const utf8 = new TextDecoder();
const fields = new RecordFields();

function growInt(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const b = new Int32Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Collects what the workers report during a window and writes it when the window ends, sorted
 * by time stamp, room id, participant id, kind (UPSTREAM first) and track id, strings compared by
 * UTF-16 code units: the order of `compareStats` (order.ts), here over the encoded bytes.
 */
export class WindowSink {
  /** the reporter to give the TelemetryService */
  readonly reporter: TelemetryReporter;
  /** stats written so far */
  statsOut = 0;
  /** bytes written so far */
  bytesOut = 0;
  private discarding = false;
  // the window's batches, back to back
  private arena = new Uint8Array(1 << 20);
  private used = 0;
  private batchStart = new Int32Array(1024);
  private batchEnd = new Int32Array(1024);
  private batches = 0;
  // the entries of the batches: where each starts (its tag byte) and ends, its sort keys
  private entStart = new Int32Array(4096);
  private entEnd = new Int32Array(4096);
  // where the stat's own bytes start, past its length prefix
  private entBody = new Int32Array(4096);
  private entTime = new Float64Array(4096);
  private entKind = new Int32Array(4096);
  private entRoom = new Int32Array(4096 * 2);
  private entPart = new Int32Array(4096 * 2);
  private entTrack = new Int32Array(4096 * 2);
  private readonly json: ByteWriter | undefined;

  constructor(
    private readonly output: Output,
    format: OutputFormat,
  ) {
    this.json = format === "ndjson" ? new ByteWriter() : undefined;
    this.reporter = {
      report: () => {},
      // the batch is only valid during the call: it is copied
      reportBytes: (batch) => {
        if (this.discarding) return;
        this.reserve(batch.length);
        this.arena.set(batch, this.used);
        const i = this.batches++;
        if (i === this.batchStart.length) {
          this.batchStart = growInt(this.batchStart, i + 1);
          this.batchEnd = growInt(this.batchEnd, i + 1);
        }
        this.batchStart[i] = this.used;
        this.used += batch.length;
        this.batchEnd[i] = this.used;
      },
    };
  }

  private reserve(n: number): void {
    if (this.used + n <= this.arena.length) return;
    const next = new Uint8Array(Math.max(this.arena.length * 2, this.used + n));
    next.set(this.arena.subarray(0, this.used));
    this.arena = next;
  }

  /** Sorts and writes what was reported since the last call; resolves once the output took it. */
  async writeWindow(): Promise<void> {
    if (this.batches === 0) return;
    const order = this.order();
    const n = order.length;
    let chunk: Uint8Array;
    if (this.json === undefined) {
      let size = 0;
      for (let k = 0; k < n; k++) size += this.entEnd[order[k]!]! - this.entStart[order[k]!]! - 1;
      // the records are laid out after the batches in the arena itself: copyWithin moves bytes
      // without a view per stat, and one slice() hands them to the output
      this.reserve(size);
      const a = this.arena;
      let pos = this.used;
      for (let k = 0; k < n; k++) {
        const e = order[k]!;
        // the record without the entry's tag byte
        const from = this.entStart[e]! + 1;
        const to = this.entEnd[e]!;
        a.copyWithin(pos, from, to);
        pos += to - from;
      }
      chunk = a.slice(this.used, pos);
    } else {
      const w = this.json;
      for (let k = 0; k < n; k++) {
        const e = order[k]!;
        const from = this.entBody[e]!;
        const to = this.entEnd[e]!;
        if (!writeStatJson(w, this.arena, from, to)) this.jsonFallback(this.arena.subarray(from, to));
      }
      chunk = w.take();
    }
    this.used = 0;
    this.batches = 0;
    this.statsOut += n;
    this.bytesOut += chunk.length;
    await this.output.write(chunk);
  }

  // protobuf-es formats what the direct writer declines: the same text, more slowly
  private jsonFallback(stat: Uint8Array): void {
    let text: string;
    try {
      text = toJsonString(AnalyticsStatSchema, fromBinary(AnalyticsStatSchema, stat));
    } catch (err) {
      throw new CliError(`cannot write a stat as proto3 JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.json!.text(text + "\n");
  }

  // Splits the batches into entries and returns the entries in output order. One worker's batch
  // shares its time stamp, room and participant (R3), so batches are sorted by those, then each
  // batch's few entries by kind and track; when a batch is not like that, or two batches share
  // those keys, every entry is sorted on its own.
  private order(): number[] {
    const a = this.arena;
    let entries = 0;
    let uniform = true;
    const firsts: number[] = [];
    for (let b = 0; b < this.batches; b++) {
      const end = this.batchEnd[b]!;
      let pos = this.batchStart[b]!;
      const first = entries;
      firsts.push(first);
      while (pos < end) {
        if (a[pos] !== 0x0a) throw new Error(`encoded batch: unexpected tag ${a[pos]} at byte ${pos}`);
        if (scanRecord(a, pos + 1, end, true, fields) !== Scan.Ok) throw new Error(`encoded batch: unreadable stat at byte ${pos}`);
        const e = entries++;
        if (e === this.entStart.length) this.growEntries();
        this.entStart[e] = pos;
        this.entEnd[e] = fields.end;
        this.entBody[e] = fields.start;
        this.entTime[e] = fields.hasTime ? timeMs(fields.seconds, fields.nanos) : 0;
        this.entKind[e] = fields.kind;
        this.entRoom[2 * e] = fields.roomIdStart;
        this.entRoom[2 * e + 1] = fields.roomIdEnd;
        this.entPart[2 * e] = fields.participantIdStart;
        this.entPart[2 * e + 1] = fields.participantIdEnd;
        this.entTrack[2 * e] = fields.trackIdStart;
        this.entTrack[2 * e + 1] = fields.trackIdEnd;
        if (e !== first && this.compareHead(first, e) !== 0) uniform = false;
        pos = fields.end;
      }
    }
    const out: number[] = [];
    if (uniform) {
      const batches: number[] = [];
      for (let b = 0; b < this.batches; b++) if (this.batchEnd[b]! > this.batchStart[b]!) batches.push(b);
      batches.sort((x, y) => this.compareHead(firsts[x]!, firsts[y]!));
      for (let k = 1; k < batches.length && uniform; k++) if (this.compareHead(firsts[batches[k - 1]!]!, firsts[batches[k]!]!) === 0) uniform = false;
      if (uniform) {
        for (const b of batches) {
          const from = out.length;
          const last = b + 1 < this.batches ? firsts[b + 1]! : entries;
          for (let e = firsts[b]!; e < last; e++) {
            // insertion sort: a batch holds a participant's few tracks
            let k = out.length;
            out.push(e);
            while (k > from && this.compareTail(out[k - 1]!, e) > 0) {
              out[k] = out[k - 1]!;
              k--;
            }
            out[k] = e;
          }
        }
        return out;
      }
    }
    for (let e = 0; e < entries; e++) out.push(e);
    return out.sort((x, y) => this.compareHead(x, y) || this.compareTail(x, y));
  }

  private growEntries(): void {
    const n = this.entStart.length * 2;
    this.entStart = growInt(this.entStart, n);
    this.entEnd = growInt(this.entEnd, n);
    this.entBody = growInt(this.entBody, n);
    const t = new Float64Array(n);
    t.set(this.entTime);
    this.entTime = t;
    this.entKind = growInt(this.entKind, n);
    this.entRoom = growInt(this.entRoom, 2 * n);
    this.entPart = growInt(this.entPart, 2 * n);
    this.entTrack = growInt(this.entTrack, 2 * n);
  }

  // time stamp, room id, participant id
  private compareHead(x: number, y: number): number {
    const t = this.entTime[x]! - this.entTime[y]!;
    if (t !== 0) return t;
    const r = this.compareText(this.entRoom, x, y);
    return r !== 0 ? r : this.compareText(this.entPart, x, y);
  }

  // kind, track id
  private compareTail(x: number, y: number): number {
    const k = this.entKind[x]! - this.entKind[y]!;
    return k !== 0 ? k : this.compareText(this.entTrack, x, y);
  }

  // two id ranges of the arena compared as their decoded strings by UTF-16 code units: ASCII
  // bytes in the same order as its code units; anything else is decoded and compared as text
  private compareText(ranges: Int32Array, x: number, y: number): number {
    const a = this.arena;
    const xs = ranges[2 * x]!;
    const xe = ranges[2 * x + 1]!;
    const ys = ranges[2 * y]!;
    const ye = ranges[2 * y + 1]!;
    const n = Math.min(xe - xs, ye - ys);
    for (let i = 0; i < n; i++) {
      const p = a[xs + i]!;
      const q = a[ys + i]!;
      if ((p | q) & 0x80) return compareCodeUnits(utf8.decode(a.subarray(xs, xe)), utf8.decode(a.subarray(ys, ye)));
      if (p !== q) return p - q;
    }
    // one is a prefix of the other; the rest of the longer one may still be non-ASCII, which
    // does not change that the shorter string sorts first
    return xe - xs - (ye - ys);
  }

  /** From now on, reported stats are dropped unwritten (an interrupted run's partial window). */
  discard(): void {
    this.discarding = true;
    this.used = 0;
    this.batches = 0;
  }

  /** Nothing to end: the output is the caller's to close. */
  async close(): Promise<void> {}
}
