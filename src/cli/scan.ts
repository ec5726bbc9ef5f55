/**
 * The routing fields of a size-delimited `AnalyticsStat` record, read without decoding it:
 * `aggregate` needs each record's time stamp (for its window) and its room and participant (to
 * join the worker first), while the engine decodes the record itself in `ingestBatch`.
 *
 * Only the top level of the message is walked. Anything a plain walk could read differently from
 * protobuf-es (a known field with another wire type, a group, a field running past the end, field
 * number 0) makes the record `odd`: the caller then decodes it in full, which either gives the
 * fields or the precise error. So the scanner never rejects or reads a record differently from
 * the engines; it only defers to them.
 *
 * @module
 */
import { LIMITS } from "../limits.ts";

/** What {@link scanRecord} found. */
export const Scan = {
  /** the record is well framed and its routing fields are in the {@link RecordFields} */
  Ok: 0,
  /** the record is framed but needs a full decode (see the module comment) */
  Odd: 1,
  /** the record extends past the bytes given and the end of the input was not reached */
  More: 2,
  /** the length prefix is broken: see {@link RecordFields.detail} */
  BadFrame: 3,
} as const;

/** One of the {@link Scan} outcomes. */
export type Scan = (typeof Scan)[keyof typeof Scan];

/** Byte ranges and values of one record's routing fields, overwritten by every scan. */
export class RecordFields {
  /** the buffer last scanned */
  buf: Uint8Array = new Uint8Array(0);
  /** where the message starts (after its length prefix) and ends */
  start = 0;
  end = 0;
  roomIdStart = 0;
  roomIdEnd = 0;
  roomNameStart = 0;
  roomNameEnd = 0;
  participantIdStart = 0;
  participantIdEnd = 0;
  trackIdStart = 0;
  trackIdEnd = 0;
  /** whether a non-empty `track_id` is present */
  hasTrack = false;
  /** `kind` (StreamType), 0 when absent */
  kind = 0;
  /** whether `time_stamp` is present, and its seconds and nanos */
  hasTime = false;
  seconds = 0;
  nanos = 0;
  /** top-level fields walked */
  fields = 0;
  /** why the frame is broken, for {@link Scan.BadFrame} */
  detail = "";
}

// the declared wire type of each known AnalyticsStat field (1-14), -1 for none
const WIRE = [-1, 2, 0, 2, 2, 2, 2, 2, 2, 5, 2, 2, 5, 5, 2];

/**
 * Scans the record whose length prefix starts at `pos` in `buf[0, limit)`. `atEnd` says whether
 * `limit` is the end of the input (then a short record is a broken frame, not {@link Scan.More}).
 * A record with more than `maxFields` top-level fields is {@link Scan.Odd}; resynchronising
 * uses a small bound so that probing one offset costs a bounded time.
 */
export function scanRecord(buf: Uint8Array, pos: number, limit: number, atEnd: boolean, out: RecordFields, maxFields = Infinity): Scan {
  // the length prefix: a varint of at most 10 bytes (`scale` is 2 ** shift, exact as a double)
  let length = 0;
  let p = pos;
  for (let scale = 1; ; scale *= 128) {
    if (p >= limit) {
      if (!atEnd && p - pos < 10) return Scan.More;
      out.detail = p - pos < 10 ? "truncated length prefix at the end of the file" : "length prefix is not a varint";
      return Scan.BadFrame;
    }
    if (p - pos === 10) {
      out.detail = "length prefix is not a varint";
      return Scan.BadFrame;
    }
    const b = buf[p++]!;
    length += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) break;
  }
  if (length > LIMITS.maxMessageBytes) {
    out.detail = `record length ${length} is over the limit of ${LIMITS.maxMessageBytes} bytes`;
    return Scan.BadFrame;
  }
  const end = p + length;
  if (end > limit) {
    if (!atEnd) return Scan.More;
    out.detail = `record length ${length} runs past the end of the file (${limit - p} bytes left)`;
    return Scan.BadFrame;
  }
  out.buf = buf;
  out.start = p;
  out.end = end;
  // the fields are gathered in locals and stored once: this runs for every record of a capture
  let roomIdStart = p;
  let roomIdEnd = p;
  let roomNameStart = p;
  let roomNameEnd = p;
  let participantIdStart = p;
  let participantIdEnd = p;
  let trackIdStart = p;
  let trackIdEnd = p;
  let kind = 0;
  let fields = 0;
  let status: Scan = Scan.Ok;
  out.hasTime = false;
  out.seconds = 0;
  out.nanos = 0;
  walk: while (p < end) {
    if (++fields > maxFields) {
      status = Scan.Odd;
      break;
    }
    // tag: one byte for every known field (numbers below 16); longer ones fit in 5 bytes
    let tag = buf[p++]!;
    if (tag & 0x80) {
      tag &= 0x7f;
      let scale = 128;
      let b: number;
      do {
        if (p >= end || scale > 2 ** 28) {
          status = Scan.Odd;
          break walk;
        }
        b = buf[p++]!;
        tag += (b & 0x7f) * scale;
        scale *= 128;
      } while (b & 0x80);
    }
    const field = tag < 0x80 ? tag >> 3 : Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0 || (field < WIRE.length && WIRE[field] !== wire)) {
      status = Scan.Odd;
      break;
    }
    if (wire === 2) {
      if (p >= end) {
        status = Scan.Odd;
        break;
      }
      let n = buf[p++]!;
      if (n & 0x80) {
        n &= 0x7f;
        let scale = 128;
        let b: number;
        do {
          if (p >= end || scale > 2 ** 28) {
            status = Scan.Odd;
            break walk;
          }
          b = buf[p++]!;
          n += (b & 0x7f) * scale;
          scale *= 128;
        } while (b & 0x80);
      }
      const to = p + n;
      if (to > end) {
        status = Scan.Odd;
        break;
      }
      switch (field) {
        case 3:
          if (!readTimestamp(buf, p, to, out)) {
            status = Scan.Odd;
            break walk;
          }
          break;
        case 5:
          roomIdStart = p;
          roomIdEnd = to;
          break;
        case 6:
          roomNameStart = p;
          roomNameEnd = to;
          break;
        case 7:
          participantIdStart = p;
          participantIdEnd = to;
          break;
        case 8:
          trackIdStart = p;
          trackIdEnd = to;
          break;
      }
      p = to;
    } else if (wire === 0) {
      const from = p;
      while (p < end && buf[p]! & 0x80) p++;
      if (p >= end || p - from >= 10) {
        status = Scan.Odd;
        break;
      }
      p++;
      // kind: an enum; values past one byte are not StreamTypes, and the sort only needs order
      if (field === 2) kind = p - from === 1 ? buf[from]! : 0x7fffffff;
    } else if (wire === 5) {
      p += 4;
    } else if (wire === 1) {
      p += 8;
    } else {
      status = Scan.Odd;
      break;
    }
    if (p > end) {
      status = Scan.Odd;
      break;
    }
  }
  out.roomIdStart = roomIdStart;
  out.roomIdEnd = roomIdEnd;
  out.roomNameStart = roomNameStart;
  out.roomNameEnd = roomNameEnd;
  out.participantIdStart = participantIdStart;
  out.participantIdEnd = participantIdEnd;
  out.trackIdStart = trackIdStart;
  out.trackIdEnd = trackIdEnd;
  out.hasTrack = trackIdEnd > trackIdStart;
  out.kind = kind;
  out.fields = fields;
  return status;
}

// Reads google.protobuf.Timestamp (1: int64 seconds, 2: int32 nanos) into `out`, merging into a
// time stamp seen before as protobuf merges a repeated singular message. False for anything
// unusual, which the caller hands to the full decoder.
function readTimestamp(buf: Uint8Array, p: number, end: number, out: RecordFields): boolean {
  if (end - p > 64) return false;
  out.hasTime = true;
  while (p < end) {
    const tag = buf[p++]!;
    if (tag !== 0x08 && tag !== 0x10) return false;
    // a varint as two's complement: low 32 bits and high 32 bits, exact as a double below 2^53
    let lo = 0;
    let hi = 0;
    let i = 0;
    let b: number;
    do {
      if (p >= end || i === 10) return false;
      b = buf[p++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      i++;
    } while (b & 0x80);
    if (tag === 0x08) out.seconds = hi * 2 ** 32 + (lo >>> 0);
    else out.nanos = lo | 0;
  }
  return true;
}

/** The largest time a `Date` holds, in ms from the epoch (either sign). */
export const MAX_DATE_MS = 8.64e15;

/** A time stamp as ms since the epoch (`seconds * 1000 + floor(nanos / 1e6)`), as `aggregate` windows it. */
export function timeMs(seconds: number, nanos: number): number {
  return seconds * 1000 + Math.floor(nanos / 1e6);
}
