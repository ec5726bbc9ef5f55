// The canonical-order fast path of the AnalyticsStat decoder (decode.ts calls it first).
//
// It accepts only what an encoder writing fields in field-number order produces (protobuf-es,
// Go, protobufjs): each field at most once (streams and layers repeated, one after another),
// known wire types, varints of at most 8 bytes with no padding, children that end exactly where
// their length says. Anything else, and every error or bound, is a miss: decode.ts then decodes
// the message again from its start with the generic decoder, so what the fast path accepts is
// decoded as the generic decoder would and what it does not is left to it entirely.
//
// Why it is faster: the cursor and the stream's counters live in locals, each field is one
// compare against the tag expected next (no dispatch), a varint is read branch-free from one
// 8-byte load, the counters are validated and folded once per stream, and strings are checked
// 8 bytes at a time for ASCII before the UTF-8 validator runs.
//
// Loads may read up to 8 bytes past the field being read, and a stream's fields may run past its
// end before the check at the stream's end sees it: decode.ts calls this only when
// FAST_SLACK bytes past the message are inside memory, so no load can trap.

import {
  INFO_HAS_TIME, INFO_KIND, INFO_PARTICIPANT_ID_BYTES, INFO_PARTICIPANT_ID_PTR, INFO_ROOM_ID_BYTES,
  INFO_ROOM_ID_PTR, INFO_TIME_NANOS, INFO_TIME_SECONDS, INFO_TRACK_ID_BYTES, INFO_TRACK_ID_PTR, MAX_LAYERS_PER_STREAM,
  MAX_STREAMS_PER_STAT, PSCRATCH_STREAM_END_NANOS, PSCRATCH_STREAM_END_SECONDS,
  PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER, PSCRATCH_STREAM_START_NANOS,
  PSCRATCH_STREAM_START_SECONDS, SLOT_SCORE,
} from "./layout";
import * as F from "./schema";
import { invalidUtf8At, WT_BIT32, WT_LENGTH_DELIMITED, WT_VARINT } from "./wire";
import { foldCounters, foldLayer } from "./fold";
import { areCountersValid } from "./validate";
import { isCurrent, noteMime, noteStreamEnd, noteStreamStart } from "./profile";

/** decodeFast could not decode the message: the generic decoder must, from the message start. */
// @ts-ignore: decorator
@inline export const FAST_MISS: i32 = -1;

/**
 * Bytes past a message's end that must be inside memory for decodeFast: one stream's fields can
 * overrun it by at most 15 fields of 17 bytes (a missed varint moves 16) before the stream's end
 * check, plus a 10-byte read.
 */
// @ts-ignore: decorator
@inline export const FAST_SLACK: usize = 512;

// The one-byte tags expected, in field order.
// @ts-ignore: decorator
@inline const T_ANALYTICS_KEY: u32 = ((F.STAT_ANALYTICS_KEY << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_KIND: u32 = ((F.STAT_KIND << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const T_TIME_STAMP: u32 = ((F.STAT_TIME_STAMP << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_NODE: u32 = ((F.STAT_NODE << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_ROOM_ID: u32 = ((F.STAT_ROOM_ID << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_ROOM_NAME: u32 = ((F.STAT_ROOM_NAME << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_PARTICIPANT_ID: u32 = ((F.STAT_PARTICIPANT_ID << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_TRACK_ID: u32 = ((F.STAT_TRACK_ID << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_SCORE: u32 = ((F.STAT_SCORE << 3) | WT_BIT32);
// @ts-ignore: decorator
@inline const T_STREAMS: u32 = ((F.STAT_STREAMS << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_MIME: u32 = ((F.STAT_MIME << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_MIN_SCORE: u32 = ((F.STAT_MIN_SCORE << 3) | WT_BIT32);
// @ts-ignore: decorator
@inline const T_MEDIAN_SCORE: u32 = ((F.STAT_MEDIAN_SCORE << 3) | WT_BIT32);
// @ts-ignore: decorator
@inline const T_ID: u32 = ((F.STAT_ID << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const T_VIDEO_LAYERS: u32 = ((F.STREAM_VIDEO_LAYERS << 3) | WT_LENGTH_DELIMITED);
// the stream's fields 17-19 have two-byte tags (tag varints 0x8a 0x01, 0x92 0x01, 0x98 0x01:
// (17 << 3) | 2, (18 << 3) | 2, 19 << 3), compared as a little-endian u16
// @ts-ignore: decorator
@inline const T2_START_TIME: u32 = 0x018a;
// @ts-ignore: decorator
@inline const T2_END_TIME: u32 = 0x0192;
// @ts-ignore: decorator
@inline const T2_PACKETS_OUT_OF_ORDER: u32 = 0x0198;

// ── varints from one 8-byte word ─────────────────────────────────────────────────────────────
// For a word `w` loaded at a varint's first byte, `t` = stopAt(w) is the bit index of the high
// bit of its last byte: 8n - 1 for an n-byte varint, 64 when none of the 8 bytes ends it. Varints
// of 9 and 10 bytes (negative int32, u64 values from 2^56) take an out-of-line path.

// @ts-ignore: decorator
@inline function stopAt(w: u64): u64 {
  return ctz(~w & 0x8080_8080_8080_8080);
}

/** The value of an up-to-8-byte varint (t < 64): its 7-bit groups gathered pairwise, branch-free. */
// @ts-ignore: decorator
@inline function valueOf(w: u64, t: u64): u64 {
  let x = w & (0xffff_ffff_ffff_ffff >> (63 - t)) & 0x7f7f_7f7f_7f7f_7f7f;
  x = ((x & 0x7f00_7f00_7f00_7f00) >> 1) | (x & 0x007f_007f_007f_007f);
  x = ((x & 0x3fff_0000_3fff_0000) >> 2) | (x & 0x0000_3fff_0000_3fff);
  x = ((x & 0x0fff_ffff_0000_0000) >> 4) | (x & 0x0000_0000_0fff_ffff);
  return x;
}

/**
 * stopAt(w) for the varint at `q` (w = its first 8 bytes), and for one of 9 or 10 bytes 71 or 79
 * (wideStopAt); WIDE_MISS for one the fast path leaves alone.
 */
// @ts-ignore: decorator
@inline function stopOf(w: u64, q: usize): u64 {
  let t = stopAt(w);
  if (t == 64) t = wideStopAt(q);
  return t;
}

/** The value of the varint at `q` whose stop bit stopOf() gave as `t` (not WIDE_MISS). */
// @ts-ignore: decorator
@inline function valueAt(w: u64, t: u64, q: usize): u64 {
  if (t < 64) return valueOf(w, t);
  return wideValueAt(q);
}

/**
 * stopOf() of a varint over 10 bytes or one padded with a zero last byte: the fast path's miss
 * (bit 10 makes oddOf() see it; its low 7 bits make bytesOf() 16).
 */
// @ts-ignore: decorator
@inline const WIDE_MISS: u64 = 0x47f;

/** The stop bit of a varint at `q` longer than 8 bytes: 71 or 79, else WIDE_MISS. */
function wideStopAt(q: usize): u64 {
  const b8 = load<u8>(q, 8);
  if (b8 < 0x80) return b8 != 0 ? 71 : WIDE_MISS;
  const b9 = load<u8>(q, 9);
  return b9 < 0x80 && b9 != 0 ? 79 : WIDE_MISS;
}

/**
 * The value of a 9- or 10-byte varint at `q`, kept to its low 64 bits: the 10th byte lands at
 * bit 63, so only its lowest bit survives (as in wire.ts and protobuf-es).
 */
function wideValueAt(q: usize): u64 {
  let v = valueOf(load<u64>(q), 63) | (<u64>(load<u8>(q, 8) & 0x7f) << 56);
  if (load<u8>(q, 8) >= 0x80) v |= <u64>load<u8>(q, 9) << 63;
  return v;
}

/** Bytes of the varint (at most 16, for WIDE_MISS: a miss never moves the cursor further). */
// @ts-ignore: decorator
@inline function bytesOf(t: u64): usize {
  return <usize>((t & 127) >> 3) + 1;
}

/**
 * Not 0 when the varint is one the fast path leaves to the generic decoder: WIDE_MISS, or one of
 * 2-8 bytes padded (a last byte of 0).
 */
// @ts-ignore: decorator
@inline function oddOf(w: u64, t: u64): u64 {
  return (t >> 10) | (<u64>(t - 8 < 56) & <u64>(((w >> ((t - 7) & 63)) & 0xff) == 0));
}

/** Whether `length` bytes from `p` end at or before `end` (no wrap-around, whatever `length`). */
// @ts-ignore: decorator
@inline function fits(p: usize, length: u64, end: usize): bool {
  return p <= end && length <= <u64>(end - p);
}

/** The byte at `p` as the tag expected next, 0 at `end` (0 is no tag). */
// @ts-ignore: decorator
@inline function tagAt(p: usize, end: usize): u32 {
  return p < end ? <u32>load<u8>(p) : 0;
}

// ── strings and timestamps (rare or short: out of line) ─────────────────────────────────────

let stringAt: usize = 0;
let stringLength: u32 = 0;

/**
 * Reads the string whose length prefix is at `p` within `[.., end)` into stringAt/stringLength;
 * returns the address after it, or 0 (a miss: bad prefix, overrun, invalid UTF-8).
 */
function fastString(p: usize, end: usize): usize {
  const w = load<u64>(p);
  const t = stopOf(w, p);
  if (oddOf(w, t) != 0) return 0;
  const length = valueAt(w, t, p);
  const start = p + bytesOf(t);
  if (!fits(start, length, end)) return 0;
  const stop = start + <usize>length;
  // 8 bytes at a time for ASCII, the last partial word masked; the validator only for the rest
  let q = start;
  let high: u64 = 0;
  while (q + 8 <= stop) {
    high |= load<u64>(q);
    q += 8;
  }
  const tail = stop - q;
  if (tail != 0) high |= load<u64>(q) & ((<u64>1 << (<u64>tail << 3)) - 1);
  if ((high & 0x8080_8080_8080_8080) != 0 && invalidUtf8At(start, stop) != stop) return 0;
  stringAt = start;
  stringLength = <u32>length;
  return stop;
}

/**
 * Reads the google.protobuf.Timestamp whose length prefix is at `p` within `[.., end)`; with
 * `dst` not 0, its seconds go to `dst + secAt` and its nanos to `dst + nanosAt`. Returns the
 * address after it, or 0 (a miss).
 */
function fastTimestamp(p: usize, end: usize, dst: usize, secAt: usize, nanosAt: usize): usize {
  let w = load<u64>(p);
  let t = stopOf(w, p);
  if (oddOf(w, t) != 0) return 0;
  const length = valueAt(w, t, p);
  p += bytesOf(t);
  if (!fits(p, length, end)) return 0;
  const stop = p + <usize>length;
  let odd: u64 = 0;
  let tag = tagAt(p, stop);
  if (tag == ((F.TIMESTAMP_SECONDS << 3) | WT_VARINT)) {
    w = load<u64>(p + 1);
    t = stopOf(w, p + 1);
    odd |= oddOf(w, t);
    if (dst != 0) store<i64>(dst + secAt, <i64>valueAt(w, t, p + 1));
    p += bytesOf(t) + 1;
    tag = tagAt(p, stop);
  }
  if (tag == ((F.TIMESTAMP_NANOS << 3) | WT_VARINT)) {
    w = load<u64>(p + 1);
    t = stopOf(w, p + 1);
    odd |= oddOf(w, t);
    if (dst != 0) store<i32>(dst + nanosAt, <i32>valueAt(w, t, p + 1));
    p += bytesOf(t) + 1;
  }
  return p == stop && odd == 0 ? stop : 0;
}

// ── the message ─────────────────────────────────────────────────────────────────────────────

/**
 * Decodes the AnalyticsStat at `[ptr, ptr + bytes)` in canonical order, folding it into `delta`
 * (zeroed, slot layout) and its ids and kind into `info` (zeroed) as decode.ts's parseStat does.
 * Returns 1 (valid), 0 (invalid: R7) or FAST_MISS, after which `delta`, `info` and the
 * profile's notes hold garbage and the caller must reset them.
 */
export function decodeFast(ptr: usize, bytes: u32, delta: usize, info: usize): i32 {
  const end = ptr + <usize>bytes;
  const current = isCurrent();
  let p = ptr;
  let valid = true;
  let w: u64 = 0;
  let t: u64 = 0;
  let tag = tagAt(p, end);
  if (tag == T_ANALYTICS_KEY) {
    p = fastString(p + 1, end);
    if (p == 0) return FAST_MISS;
    tag = tagAt(p, end);
  }
  if (tag == T_KIND) {
    w = load<u64>(p + 1);
    t = stopOf(w, p + 1);
    if (oddOf(w, t) != 0) return FAST_MISS;
    store<i32>(info + INFO_KIND, <i32>valueAt(w, t, p + 1));
    p += bytesOf(t) + 1;
    tag = tagAt(p, end);
  }
  if (tag == T_TIME_STAMP) {
    p = fastTimestamp(p + 1, end, info, INFO_TIME_SECONDS, INFO_TIME_NANOS);
    if (p == 0) return FAST_MISS;
    store<u32>(info + INFO_HAS_TIME, 1);
    tag = tagAt(p, end);
  }
  if (tag == T_NODE) {
    p = fastString(p + 1, end);
    if (p == 0) return FAST_MISS;
    tag = tagAt(p, end);
  }
  if (tag == T_ROOM_ID) {
    p = fastString(p + 1, end);
    if (p == 0) return FAST_MISS;
    store<usize>(info + INFO_ROOM_ID_PTR, stringAt);
    store<u32>(info + INFO_ROOM_ID_BYTES, stringLength);
    tag = tagAt(p, end);
  }
  if (tag == T_ROOM_NAME) {
    p = fastString(p + 1, end);
    if (p == 0) return FAST_MISS;
    tag = tagAt(p, end);
  }
  if (tag == T_PARTICIPANT_ID) {
    p = fastString(p + 1, end);
    if (p == 0) return FAST_MISS;
    store<usize>(info + INFO_PARTICIPANT_ID_PTR, stringAt);
    store<u32>(info + INFO_PARTICIPANT_ID_BYTES, stringLength);
    tag = tagAt(p, end);
  }
  if (tag == T_TRACK_ID) {
    p = fastString(p + 1, end);
    if (p == 0) return FAST_MISS;
    store<usize>(info + INFO_TRACK_ID_PTR, stringAt);
    store<u32>(info + INFO_TRACK_ID_BYTES, stringLength);
    tag = tagAt(p, end);
  }
  if (tag == T_SCORE) {
    if (p + 5 > end) return FAST_MISS;
    store<f32>(delta + SLOT_SCORE, load<f32>(p, 1));
    p += 5;
    tag = tagAt(p, end);
  }
  let streams: u32 = 0;
  while (tag == T_STREAMS) {
    if (++streams > MAX_STREAMS_PER_STAT) return FAST_MISS;
    w = load<u64>(p + 1);
    t = stopOf(w, p + 1);
    if (oddOf(w, t) != 0) return FAST_MISS;
    const length = valueAt(w, t, p + 1);
    p += bytesOf(t) + 1;
    if (!fits(p, length, end)) return FAST_MISS;
    const se = p + <usize>length;
    // the stream's fields, each optional, each in the order of its field number; a varint's
    // oddity is gathered in `odd` and checked once with the stream's end
    let odd: u64 = 0;
    let primaryPackets: u32 = 0;
    let retransmitPackets: u32 = 0;
    let paddingPackets: u32 = 0;
    let packetsLost: u32 = 0;
    let frames: u32 = 0;
    let rtt: u32 = 0;
    let jitter: u32 = 0;
    let nacks: u32 = 0;
    let plis: u32 = 0;
    let firs: u32 = 0;
    let primaryBytes: u64 = 0;
    let retransmitBytes: u64 = 0;
    let paddingBytes: u64 = 0;
    tag = tagAt(p, se);
    if (tag == ((F.STREAM_SSRC << 3) | WT_VARINT)) {
      // not folded: the result's ssrc is 0
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_PRIMARY_PACKETS << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); primaryPackets = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_PRIMARY_BYTES << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); primaryBytes = valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_RETRANSMIT_PACKETS << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); retransmitPackets = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_RETRANSMIT_BYTES << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); retransmitBytes = valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_PADDING_PACKETS << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); paddingPackets = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_PADDING_BYTES << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); paddingBytes = valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_PACKETS_LOST << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); packetsLost = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_FRAMES << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); frames = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_RTT << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); rtt = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_JITTER << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); jitter = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_NACKS << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); nacks = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_PLIS << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); plis = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (tag == ((F.STREAM_FIRS << 3) | WT_VARINT)) {
      w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); firs = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, se);
    }
    if (odd != 0 || p > se) return FAST_MISS;
    let layers: u32 = 0;
    while (tag == T_VIDEO_LAYERS) {
      if (++layers > MAX_LAYERS_PER_STREAM) return FAST_MISS;
      w = load<u64>(p + 1);
      t = stopOf(w, p + 1);
      if (oddOf(w, t) != 0) return FAST_MISS;
      const layerLength = valueAt(w, t, p + 1);
      p += bytesOf(t) + 1;
      if (!fits(p, layerLength, se)) return FAST_MISS;
      const le = p + <usize>layerLength;
      let index: i32 = 0;
      let packets: u32 = 0;
      let layerBytes: u64 = 0;
      let layerFrames: u32 = 0;
      tag = tagAt(p, le);
      if (tag == ((F.LAYER_LAYER << 3) | WT_VARINT)) {
        w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); index = <i32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, le);
      }
      if (tag == ((F.LAYER_PACKETS << 3) | WT_VARINT)) {
        w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); packets = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, le);
      }
      if (tag == ((F.LAYER_BYTES << 3) | WT_VARINT)) {
        w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); layerBytes = valueAt(w, t, p + 1); p += bytesOf(t) + 1; tag = tagAt(p, le);
      }
      if (tag == ((F.LAYER_FRAMES << 3) | WT_VARINT)) {
        w = load<u64>(p + 1); t = stopOf(w, p + 1); odd |= oddOf(w, t); layerFrames = <u32>valueAt(w, t, p + 1); p += bytesOf(t) + 1;
      }
      if (odd != 0 || p != le) return FAST_MISS;
      // as parseStream: a valid layer is folded at once, an invalid one makes the stat invalid
      if (areCountersValid(packets | layerFrames, layerBytes)) foldLayer(delta, index, packets, layerFrames, layerBytes);
      else valid = false;
      tag = tagAt(p, se);
    }
    // fields 17-19 (two-byte tags); livekit-current keeps them in the profile's note
    const note = current ? noteStreamStart() : 0;
    if (p + 2 <= se && load<u16>(p) == T2_START_TIME) {
      p = fastTimestamp(p + 2, se, note, PSCRATCH_STREAM_START_SECONDS, PSCRATCH_STREAM_START_NANOS);
      if (p == 0) return FAST_MISS;
    }
    if (p + 2 <= se && load<u16>(p) == T2_END_TIME) {
      p = fastTimestamp(p + 2, se, note, PSCRATCH_STREAM_END_SECONDS, PSCRATCH_STREAM_END_NANOS);
      if (p == 0) return FAST_MISS;
    }
    let outOfOrder: u32 = 0;
    if (p + 2 <= se && load<u16>(p) == T2_PACKETS_OUT_OF_ORDER) {
      w = load<u64>(p + 2); t = stopOf(w, p + 2); odd |= oddOf(w, t); outOfOrder = <u32>valueAt(w, t, p + 2); p += bytesOf(t) + 2;
    }
    if (odd != 0 || p != se) return FAST_MISS;
    if (
      areCountersValid(
        primaryPackets | retransmitPackets | paddingPackets | packetsLost | frames | nacks | plis | firs,
        primaryBytes | retransmitBytes | paddingBytes,
      ) && (!current || (outOfOrder >> 31) == 0)
    ) {
      foldCounters(
        delta, primaryPackets, retransmitPackets, paddingPackets, packetsLost, frames, nacks, plis,
        firs, rtt, jitter, primaryBytes, retransmitBytes, paddingBytes,
      );
      if (current) {
        store<u32>(note + PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER, outOfOrder);
        noteStreamEnd();
      }
    } else valid = false;
    tag = tagAt(p, end);
  }
  if (tag == T_MIME) {
    p = fastString(p + 1, end);
    if (p == 0) return FAST_MISS;
    if (current) noteMime(stringAt, stringLength);
    tag = tagAt(p, end);
  }
  if (tag == T_MIN_SCORE) {
    if (p + 5 > end) return FAST_MISS;
    p += 5;
    tag = tagAt(p, end);
  }
  if (tag == T_MEDIAN_SCORE) {
    if (p + 5 > end) return FAST_MISS;
    p += 5;
    tag = tagAt(p, end);
  }
  if (tag == T_ID) {
    p = fastString(p + 1, end);
    if (p == 0) return FAST_MISS;
  }
  return p != end ? FAST_MISS : valid ? 1 : 0;
}
