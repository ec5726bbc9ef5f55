/**
 * One `statsworker aggregate` window as output bytes: the encoded batches the workers reported,
 * split into their stats and written in output order, NDJSON (proto3 JSON, one stat per line)
 * or size-delimited. A pure function of the bytes, so that it can run on a thread of its own
 * (window-format-thread.ts) while the engine works on the next window.
 *
 * Each entry of an encoded `AnalyticsStats` is a tag byte before a length-prefixed stat, so
 * dropping that byte gives the size-delimited record, and the NDJSON line is written from the
 * same bytes (stat-json.ts). No message object is built on either path.
 *
 * @module
 */
import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import { AnalyticsStatSchema } from "../gen/livekit/livekit_analytics_pb.ts";
import { CliError } from "./args.ts";
import { compareCodeUnits } from "./order.ts";
import { RecordFields, Scan, scanRecord, timeMs } from "./scan.ts";
import { ByteWriter, writeStatJson } from "./stat-json.ts";

/** The two output layouts of `aggregate`. */
export type OutputFormat = "ndjson" | "delimited";

/** One window's reported batches: batch `i` is the encoded `AnalyticsStats` at `arena[batchStart[i], batchEnd[i])`. */
export interface WindowBatches {
  readonly arena: Uint8Array;
  readonly batchStart: Int32Array;
  readonly batchEnd: Int32Array;
  /** how many of the entries of `batchStart` and `batchEnd` are batches */
  readonly batches: number;
}

/** A formatted window: the bytes to write (a buffer of their own) and how many stats they hold. */
export interface FormattedWindow {
  readonly chunk: Uint8Array;
  readonly stats: number;
}

const utf8 = new TextDecoder();
const fields = new RecordFields();

/** @internal Grows `a` to at least `n` entries (at least doubling), keeping its contents. */
export function growInt(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const b = new Int32Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Formats windows, sorted by time stamp, room id, participant id, kind (UPSTREAM first) and
 * track id, strings compared by UTF-16 code units: the order of `compareStats` (order.ts), here
 * over the encoded bytes. It keeps its work arrays from one window to the next.
 */
export class WindowFormatter {
  private arena: Uint8Array = new Uint8Array(0);
  private batchStart: Int32Array = new Int32Array(0);
  private batchEnd: Int32Array = new Int32Array(0);
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

  constructor(format: OutputFormat) {
    this.json = format === "ndjson" ? new ByteWriter() : undefined;
  }

  /**
   * The window's stats in output order.
   *
   * @throws CliError when a stat cannot be written as proto3 JSON
   */
  format(window: WindowBatches): FormattedWindow {
    this.arena = window.arena;
    this.batchStart = window.batchStart;
    this.batchEnd = window.batchEnd;
    this.batches = window.batches;
    if (this.batches === 0) return { chunk: new Uint8Array(0), stats: 0 };
    const order = this.order();
    const n = order.length;
    const a = this.arena;
    let chunk: Uint8Array;
    if (this.json === undefined) {
      let size = 0;
      for (let k = 0; k < n; k++) size += this.entEnd[order[k]!]! - this.entStart[order[k]!]! - 1;
      chunk = new Uint8Array(size);
      let pos = 0;
      for (let k = 0; k < n; k++) {
        const e = order[k]!;
        // the record without the entry's tag byte; a loop, not a view per stat
        const to = this.entEnd[e]!;
        for (let i = this.entStart[e]! + 1; i < to; i++) chunk[pos++] = a[i]!;
      }
    } else {
      const w = this.json;
      for (let k = 0; k < n; k++) {
        const e = order[k]!;
        const from = this.entBody[e]!;
        const to = this.entEnd[e]!;
        if (!writeStatJson(w, a, from, to)) this.jsonFallback(a.subarray(from, to));
      }
      chunk = w.take();
    }
    this.arena = new Uint8Array(0);
    return { chunk, stats: n };
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

}
