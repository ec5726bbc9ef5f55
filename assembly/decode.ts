// Protobuf wire decoder for one AnalyticsStat, folding as it goes into a delta record.
//
// Acceptance mirrors protobuf-es 2.17 `fromBinary` (from-binary.js, wire/binary-encoding.js,
// wire/varint.js), which the host's TS engine uses, so both engines accept and reject the same
// bytes:
// - a known field is read by its declared type whatever its wire type (SPEC section 6 choice);
// - a nested message is bounded by its length prefix, but reads are checked only against the
//   end of the whole input: a child that overruns its parent is accepted and the parent stops;
// - unknown fields are skipped, groups with a recursion budget of 100 - depth;
// - strings must be valid UTF-8 (WHATWG decoder, fatal).
// One deliberate difference: an unknown-field varint longer than 10 bytes is rejected
// (SPEC section 6), where protobuf-es skips it; it is reported only when nothing protobuf-es
// rejects comes after it, and before a bound exceeded (the ts engine's order of checks).
//
// Nothing is written to the slot until the whole message decoded: the stat's own fold goes to
// DELTA (slot layout, count 1) and is merged at the end, which equals folding its streams one by
// one (see mergeValid).

import {
  INFO_ERROR_OFFSET, INFO_KIND, INFO_PARTICIPANT_ID_BYTES, INFO_PARTICIPANT_ID_PTR,
  INFO_ROOM_ID_BYTES, INFO_ROOM_ID_PTR, INFO_SIZE, INFO_TRACK_ID_BYTES, INFO_TRACK_ID_PTR,
  LAYER_BYTES, LAYER_FRAMES, LAYER_LAYER, LAYER_PACKETS, LAYER_SIZE, MAX_LAYERS_PER_STREAM,
  MAX_STREAMS_PER_STAT, SLOT_COUNT, SLOT_SCORE, SLOT_SIZE, STATUS_BAD_GROUP, STATUS_BAD_TAG,
  STATUS_BAD_UTF8, STATUS_BAD_VARINT, STATUS_TOO_DEEP, STATUS_TOO_MANY_LAYERS,
  STATUS_TOO_MANY_STREAMS, STATUS_TRUNCATED, STREAM_FIRS, STREAM_FRAMES, STREAM_JITTER,
  STREAM_NACKS, STREAM_PACKETS_LOST, STREAM_PADDING_BYTES, STREAM_PADDING_PACKETS, STREAM_PLIS,
  STREAM_PRIMARY_BYTES, STREAM_PRIMARY_PACKETS, STREAM_RETRANSMIT_BYTES,
  STREAM_RETRANSMIT_PACKETS, STREAM_RTT, STREAM_SIZE,
} from "./layout";
import { infoPtr } from "./input";
import { countInvalid, foldLayer, foldStream, mergeValid } from "./fold";
import { isLiveSlot, liveSlotAddress } from "./slots";
import { isLayerValid, isStreamValid } from "./validate";
import { zero8 } from "./bytes";

// Wire types (protobuf encoding spec).
// @ts-ignore: decorator
@inline const WT_VARINT: u32 = 0;
// @ts-ignore: decorator
@inline const WT_BIT64: u32 = 1;
// @ts-ignore: decorator
@inline const WT_LENGTH_DELIMITED: u32 = 2;
// @ts-ignore: decorator
@inline const WT_START_GROUP: u32 = 3;
// @ts-ignore: decorator
@inline const WT_BIT32: u32 = 5;

/** protobuf-es `recursionLimit` default; a message at depth d skips groups with 100 - d. */
// @ts-ignore: decorator
@inline const RECURSION_LIMIT: i32 = 100;

// @ts-ignore: decorator
@inline const DEPTH_STAT: i32 = 1;
// @ts-ignore: decorator
@inline const DEPTH_STREAM: i32 = 2;
// @ts-ignore: decorator
@inline const DEPTH_LAYER: i32 = 3;

/** the stat's own fold, slot layout */
const DELTA: usize = memory.data(<i32>SLOT_SIZE, 16);
/** the stream being decoded, scratch stream layout (fields: last occurrence wins) */
const STREAM: usize = memory.data(<i32>STREAM_SIZE, 16);
/** the layer being decoded, scratch layer layout */
const LAYER: usize = memory.data(<i32>LAYER_SIZE, 16);

/** absolute address of the message start */
let base: usize = 0;
/** absolute address one past the input; no read may reach it */
let limit: usize = 0;
/** absolute address of the next byte to read; always <= limit */
let pos: usize = 0;
/** first error (a negative STATUS), 0 while decoding goes well */
let failure: i32 = 0;
let failureAt: usize = 0;
/**
 * bound exceeded (STATUS_TOO_MANY_*); decoding goes on to look for malformation. Too many
 * streams wins over too many layers wherever they appear, as the ts engine's checkLimits (which
 * counts streams first) decides.
 */
let bound: i32 = 0;
let boundAt: usize = 0;
/** the first unknown-field varint longer than 10 bytes, 0 if none */
let overlongAt: usize = 0;
/** a stream or layer failed R7 */
let invalid: bool = false;
let streamCount: u32 = 0;
let layerCount: u32 = 0;
/** the last string read, absolute */
let stringPtr: usize = 0;
let stringBytes: u32 = 0;

// @ts-ignore: decorator
@inline function fail(status: i32, at: usize): void {
  failure = status;
  failureAt = at;
}

/**
 * Reads a varint, keeping its low 32 bits (protobuf-es varint32read): the same bytes, the same
 * 10-byte limit and the same errors as readVarint64, and the low 32 bits of its value (bytes 1-4
 * and the low 4 bits of byte 5), so it is one.
 */
// @ts-ignore: decorator
@inline function readVarint32(): u32 {
  return <u32>readVarint64();
}

/** Reads a varint, keeping its low 64 bits; one-byte fast path (see readVarint64Slow). */
// @ts-ignore: decorator
@inline function readVarint64(): u64 {
  const p = pos;
  if (p < limit) {
    const b = <u32>load<u8>(p);
    if (b < 0x80) {
      pos = p + 1;
      return <u64>b;
    }
  }
  return readVarint64Fast();
}

/**
 * Reads a varint of up to 4 bytes with no per-byte bounds check when 4 bytes are left, else falls
 * back to readVarint64Slow (the exact protobuf-es rules). Counters are mostly 2-4 bytes.
 */
// @ts-ignore: decorator
@inline function readVarint64Fast(): u64 {
  const p = pos;
  if (limit - p >= 4) {
    let b = <u32>load<u8>(p);
    let v = b & 0x7f;
    b = <u32>load<u8>(p, 1);
    v |= (b & 0x7f) << 7;
    if (b < 0x80) {
      pos = p + 2;
      return <u64>v;
    }
    b = <u32>load<u8>(p, 2);
    v |= (b & 0x7f) << 14;
    if (b < 0x80) {
      pos = p + 3;
      return <u64>v;
    }
    b = <u32>load<u8>(p, 3);
    v |= (b & 0x7f) << 21;
    if (b < 0x80) {
      pos = p + 4;
      return <u64>v;
    }
  }
  return readVarint64Slow();
}

/** Reads a varint, keeping its low 64 bits (protobuf-es varint64read); errors as readVarint32. */
function readVarint64Slow(): u64 {
  const start = pos;
  let p = pos;
  let value: u64 = 0;
  for (let i: u64 = 0; i < 10; i++) {
    if (p >= limit) {
      fail(STATUS_TRUNCATED, start);
      return 0;
    }
    const b = <u64>load<u8>(p++);
    // the 10th byte lands at bit 63: only its lowest bit survives, as in protobuf-es
    value |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      pos = p;
      return value;
    }
  }
  fail(STATUS_BAD_VARINT, start);
  return 0;
}

/**
 * Reads a tag (protobuf-es BinaryReader.tag); 0 on error.
 *
 * A tag longer than 5 bytes, or of 5 bytes with a last byte over 0x0f, overflows uint32:
 * BAD_VARINT. Field number 0 or wire type 6/7: BAD_TAG.
 */
// @ts-ignore: decorator
@inline function readTag(): u32 {
  // fast path: fields 1-15 have one-byte tags
  const p = pos;
  if (p < limit) {
    const tag = <u32>load<u8>(p);
    if (tag < 0x80 && tag >= 8 && (tag & 7) <= 5) {
      pos = p + 1;
      return tag;
    }
  }
  return readTagSlow();
}

function readTagSlow(): u32 {
  const start = pos;
  const tag = readVarint32();
  if (failure != 0) return 0;
  const length = pos - start;
  if (length > 5 || (length == 5 && load<u8>(pos - 1) > 0x0f)) {
    fail(STATUS_BAD_VARINT, start);
    return 0;
  }
  if ((tag >>> 3) == 0 || (tag & 7) > 5) {
    fail(STATUS_BAD_TAG, start);
    return 0;
  }
  return tag;
}

/**
 * Skips the value of an unknown field (protobuf-es BinaryReader.skip).
 *
 * `budget` is the remaining group recursion budget; a group opened with none left is TOO_DEEP.
 * A group ends at the end-group tag of the same field number (else BAD_GROUP); input ending
 * inside it is TRUNCATED. An end-group tag with no group open cannot be skipped: BAD_TAG.
 */
function skipField(wireType: u32, fieldNo: u32, budget: i32, tagStart: usize): void {
  switch (wireType) {
    case WT_VARINT: {
      // protobuf-es skips a varint of any length; SPEC section 6 makes one longer than 10 bytes
      // malformed. It is noted here and reported only if the rest of the message is well-formed,
      // the order in which the ts engine (fromBinary, then its own check) finds the two.
      const start = pos;
      let p = pos;
      for (let i = 0; ; i++) {
        if (p >= limit) {
          fail(STATUS_TRUNCATED, start);
          return;
        }
        if ((load<u8>(p++) & 0x80) == 0) {
          if (i >= 10 && overlongAt == 0) overlongAt = start;
          break;
        }
      }
      pos = p;
      return;
    }
    case WT_BIT64: {
      if (limit - pos < 8) fail(STATUS_TRUNCATED, pos);
      else pos += 8;
      return;
    }
    case WT_BIT32: {
      if (limit - pos < 4) fail(STATUS_TRUNCATED, pos);
      else pos += 4;
      return;
    }
    case WT_LENGTH_DELIMITED: {
      const start = pos;
      const length = readVarint32();
      if (failure != 0) return;
      if (<usize>length > limit - pos) fail(STATUS_TRUNCATED, start);
      else pos += <usize>length;
      return;
    }
    case WT_START_GROUP: {
      if (budget <= 0) {
        fail(STATUS_TOO_DEEP, tagStart);
        return;
      }
      while (true) {
        const innerStart = pos;
        const tag = readTag();
        if (failure != 0) return;
        if ((tag & 7) == 4) {
          if ((tag >>> 3) != fieldNo) fail(STATUS_BAD_GROUP, innerStart);
          return;
        }
        skipField(tag & 7, tag >>> 3, budget - 1, innerStart);
        if (failure != 0) return;
      }
    }
    default:
      // wire type 4 (6 and 7 never get here: readTag rejects them)
      fail(STATUS_BAD_TAG, tagStart);
  }
}

/**
 * Returns the address of the first byte of `[start, end)` that makes it invalid UTF-8, or `end`.
 *
 * The WHATWG UTF-8 decoder with fatal: true (TextDecoder, used by protobuf-es): no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncated sequence.
 */
function invalidUtf8At(start: usize, end: usize): usize {
  let p = start;
  while (p < end) {
    const lead = <u32>load<u8>(p);
    if (lead < 0x80) {
      p++;
      continue;
    }
    let need: usize;
    let lower: u32 = 0x80;
    let upper: u32 = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      need = 1;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      need = 2;
      if (lead == 0xe0) lower = 0xa0;
      else if (lead == 0xed) upper = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      need = 3;
      if (lead == 0xf0) lower = 0x90;
      else if (lead == 0xf4) upper = 0x8f;
    } else {
      return p;
    }
    if (end - p <= need) return p;
    for (let k: usize = 1; k <= need; k++) {
      const b = <u32>load<u8>(p + k);
      if (b < lower || b > upper) return p;
      lower = 0x80;
      upper = 0xbf;
    }
    p += need + 1;
  }
  return end;
}

/** Reads a string field into stringPtr/stringBytes (protobuf-es BinaryReader.string, strict). */
function readString(): void {
  const start = pos;
  const length = readVarint32();
  if (failure != 0) return;
  if (<usize>length > limit - pos) {
    fail(STATUS_TRUNCATED, start);
    return;
  }
  const end = pos + <usize>length;
  const bad = invalidUtf8At(pos, end);
  if (bad != end) {
    fail(STATUS_BAD_UTF8, bad);
    return;
  }
  stringPtr = pos;
  stringBytes = length;
  pos = end;
}

/** Reads a float field: 4 bytes little-endian, whatever the wire type. */
function readFloat(): f32 {
  if (limit - pos < 4) {
    fail(STATUS_TRUNCATED, pos);
    return 0;
  }
  const value = load<f32>(pos);
  pos += 4;
  return value;
}

/**
 * Reads the length prefix of a nested message and returns the child's end (64-bit).
 *
 * Clamped to one past the input: the child loop then runs into the input end and fails with
 * TRUNCATED exactly where protobuf-es does.
 */
function readChildEnd(): u64 {
  const length = readVarint32();
  const end = <u64>pos + <u64>length;
  const cap = <u64>limit + 1;
  return end < cap ? end : cap;
}

/** Decodes a google.protobuf.Timestamp for well-formedness only (1 int64, 2 int32). */
function parseTimestamp(end: u64, depth: i32): void {
  while (<u64>pos < end) {
    const tagStart = pos;
    const tag = readTag();
    if (failure != 0) return;
    const fieldNo = tag >>> 3;
    if (fieldNo == 1) readVarint64();
    else if (fieldNo == 2) readVarint32();
    else skipField(tag & 7, fieldNo, RECURSION_LIMIT - depth, tagStart);
    if (failure != 0) return;
  }
}

/** Decodes an AnalyticsVideoLayer into LAYER. */
function parseLayer(end: u64): void {
  while (<u64>pos < end) {
    const tagStart = pos;
    const tag = readTag();
    if (failure != 0) return;
    const fieldNo = tag >>> 3;
    switch (fieldNo) {
      case 1: store<i32>(LAYER + LAYER_LAYER, <i32>readVarint32()); break;
      case 2: store<u32>(LAYER + LAYER_PACKETS, readVarint32()); break;
      case 3: store<u64>(LAYER + LAYER_BYTES, readVarint64()); break;
      case 4: store<u32>(LAYER + LAYER_FRAMES, readVarint32()); break;
      default: skipField(tag & 7, fieldNo, RECURSION_LIMIT - DEPTH_LAYER, tagStart);
    }
    if (failure != 0) return;
  }
}

/** Decodes an AnalyticsStream into STREAM, folding each of its layers into DELTA. */
function parseStream(end: u64): void {
  while (<u64>pos < end) {
    const tagStart = pos;
    const tag = readTag();
    if (failure != 0) return;
    const fieldNo = tag >>> 3;
    switch (fieldNo) {
      case 1: readVarint32(); break; // ssrc: not folded (R6: the result's ssrc is 0)
      case 2: store<u32>(STREAM + STREAM_PRIMARY_PACKETS, readVarint32()); break;
      case 3: store<u64>(STREAM + STREAM_PRIMARY_BYTES, readVarint64()); break;
      case 4: store<u32>(STREAM + STREAM_RETRANSMIT_PACKETS, readVarint32()); break;
      case 5: store<u64>(STREAM + STREAM_RETRANSMIT_BYTES, readVarint64()); break;
      case 6: store<u32>(STREAM + STREAM_PADDING_PACKETS, readVarint32()); break;
      case 7: store<u64>(STREAM + STREAM_PADDING_BYTES, readVarint64()); break;
      case 8: store<u32>(STREAM + STREAM_PACKETS_LOST, readVarint32()); break;
      case 9: store<u32>(STREAM + STREAM_FRAMES, readVarint32()); break;
      case 10: store<u32>(STREAM + STREAM_RTT, readVarint32()); break;
      case 11: store<u32>(STREAM + STREAM_JITTER, readVarint32()); break;
      case 12: store<u32>(STREAM + STREAM_NACKS, readVarint32()); break;
      case 13: store<u32>(STREAM + STREAM_PLIS, readVarint32()); break;
      case 14: store<u32>(STREAM + STREAM_FIRS, readVarint32()); break;
      case 15: {
        if (++layerCount > MAX_LAYERS_PER_STREAM && bound == 0) {
          bound = STATUS_TOO_MANY_LAYERS;
          boundAt = tagStart;
        }
        const childEnd = readChildEnd();
        if (failure != 0) return;
        zero8(LAYER, LAYER_SIZE);
        parseLayer(childEnd);
        if (failure != 0) return;
        if (!isLayerValid(LAYER)) invalid = true;
        else {
          foldLayer(
            DELTA,
            load<i32>(LAYER + LAYER_LAYER),
            load<u32>(LAYER + LAYER_PACKETS),
            load<u32>(LAYER + LAYER_FRAMES),
            load<u64>(LAYER + LAYER_BYTES),
          );
        }
        break;
      }
      case 17:
      case 18: {
        const childEnd = readChildEnd();
        if (failure != 0) return;
        parseTimestamp(childEnd, DEPTH_STREAM + 1);
        break;
      }
      case 19: readVarint32(); break; // packets_out_of_order: not folded (R12)
      default: skipField(tag & 7, fieldNo, RECURSION_LIMIT - DEPTH_STREAM, tagStart);
    }
    if (failure != 0) return;
  }
}

/** Decodes the AnalyticsStat at [base, limit), folding its streams into DELTA. */
function parseStat(): void {
  const info = infoPtr();
  const end = <u64>limit;
  while (<u64>pos < end) {
    const tagStart = pos;
    const tag = readTag();
    if (failure != 0) return;
    const fieldNo = tag >>> 3;
    switch (fieldNo) {
      case 1: // analytics_key
      case 4: // node
      case 6: // room_name
      case 11: // mime
      case 14: // id
        readString();
        break;
      case 2: store<i32>(info + INFO_KIND, <i32>readVarint32()); break;
      case 3: {
        const childEnd = readChildEnd();
        if (failure != 0) return;
        parseTimestamp(childEnd, DEPTH_STAT + 1);
        break;
      }
      case 5:
        readString();
        store<usize>(info + INFO_ROOM_ID_PTR, stringPtr);
        store<u32>(info + INFO_ROOM_ID_BYTES, stringBytes);
        break;
      case 7:
        readString();
        store<usize>(info + INFO_PARTICIPANT_ID_PTR, stringPtr);
        store<u32>(info + INFO_PARTICIPANT_ID_BYTES, stringBytes);
        break;
      case 8:
        readString();
        store<usize>(info + INFO_TRACK_ID_PTR, stringPtr);
        store<u32>(info + INFO_TRACK_ID_BYTES, stringBytes);
        break;
      case 9: store<f32>(DELTA + SLOT_SCORE, readFloat()); break;
      case 12: // min_score
      case 13: // median_score
        readFloat();
        break;
      case 10: {
        if (++streamCount > MAX_STREAMS_PER_STAT && bound != STATUS_TOO_MANY_STREAMS) {
          bound = STATUS_TOO_MANY_STREAMS;
          boundAt = tagStart;
        }
        const childEnd = readChildEnd();
        if (failure != 0) return;
        zero8(STREAM, STREAM_SIZE);
        layerCount = 0;
        parseStream(childEnd);
        if (failure != 0) return;
        if (!isStreamValid(STREAM)) invalid = true;
        else foldStream(DELTA, STREAM);
        break;
      }
      default: skipField(tag & 7, fieldNo, RECURSION_LIMIT - DEPTH_STAT, tagStart);
    }
    if (failure != 0) return;
  }
}

/**
 * Decodes one AnalyticsStat at `[ptr, ptr + bytes)`, validates it and folds it into `slot`.
 *
 * Returns 1 folded, 0 invalid (R7: the slot only counts it), or a negative STATUS: malformed
 * bytes (TRUNCATED .. TOO_DEEP) win over a bound exceeded (TOO_MANY_STREAMS/LAYERS). On any
 * negative status nothing is folded and INFO.errorOffset holds the offset, within the message,
 * of the element where the problem was found. `slot` -1 (or any slot not in use) decodes and
 * validates only. An input range outside memory is TRUNCATED at offset 0.
 */
export function decodeFold(ptr: usize, bytes: u32, slot: i32): i32 {
  const info = infoPtr();
  zero8(info, INFO_SIZE);
  zero8(DELTA, SLOT_SIZE);
  failure = 0;
  bound = 0;
  overlongAt = 0;
  invalid = false;
  streamCount = 0;
  layerCount = 0;
  if (<u64>ptr + <u64>bytes > (<u64>memory.size() << 16)) {
    store<u32>(info + INFO_ERROR_OFFSET, 0);
    return STATUS_TRUNCATED;
  }
  base = ptr;
  pos = ptr;
  limit = ptr + <usize>bytes;
  parseStat();
  if (failure != 0) {
    store<u32>(info + INFO_ERROR_OFFSET, <u32>(failureAt - base));
    return failure;
  }
  if (overlongAt != 0) {
    store<u32>(info + INFO_ERROR_OFFSET, <u32>(overlongAt - base));
    return STATUS_BAD_VARINT;
  }
  if (bound != 0) {
    store<u32>(info + INFO_ERROR_OFFSET, <u32>(boundAt - base));
    return bound;
  }
  store<u32>(DELTA + SLOT_COUNT, 1);
  if (isLiveSlot(slot)) foldDecodedInto(slot);
  return invalid ? 0 : 1;
}

/**
 * Folds the stat that the last successful decodeFold decoded into live slot `slot` (once): what
 * a batch does after it has routed the message by its decoded ids.
 */
export function foldDecodedInto(slot: i32): void {
  const dst = liveSlotAddress(slot);
  if (invalid) countInvalid(dst);
  else mergeValid(dst, DELTA);
}
