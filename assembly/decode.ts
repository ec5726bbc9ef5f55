// The AnalyticsStat decoder: reads one message with the wire reader (wire.ts) and folds it as
// it goes into a delta record.
//
// Acceptance mirrors protobuf-es 2.17 `fromBinary` (from-binary.js), which the host's TS engine
// uses, so both engines accept and reject the same bytes:
// - a known field is read by its declared type whatever its wire type (the project's choice for
//   a wire-type mismatch);
// - a nested message is bounded by its length prefix, but reads are checked only against the
//   end of the whole input: a child that overruns its parent is accepted and the parent stops;
// - unknown fields are skipped, groups with a recursion budget of 100 - depth;
// - strings must be valid UTF-8 (WHATWG decoder, fatal).
// One deliberate difference: an unknown-field varint longer than 10 bytes is rejected, where
// protobuf-es skips it; it is reported only when nothing protobuf-es rejects comes after it, and
// before a bound exceeded (the ts engine's order of checks).
//
// Every message goes first to the canonical-order fast path (decode-fast.ts), which decodes
// what an encoder writing fields in order produces and leaves everything else, from the start
// of the message, to the generic decoder below.
//
// Nothing is written to the slot until the whole message decoded: the stat's own fold goes to
// DELTA (slot layout, count 1) and is merged at the end, which equals folding its streams one by
// one (see mergeValid).

import {
  INFO_ERROR_OFFSET, INFO_HAS_TIME, INFO_KIND, INFO_PARTICIPANT_ID_BYTES, INFO_PARTICIPANT_ID_PTR,
  INFO_ROOM_ID_BYTES, INFO_ROOM_ID_PTR, INFO_SIZE, INFO_TIME_NANOS, INFO_TIME_SECONDS, INFO_TRACK_ID_BYTES, INFO_TRACK_ID_PTR,
  LAYER_BYTES, LAYER_FRAMES, LAYER_LAYER, LAYER_PACKETS, LAYER_SIZE, MAX_LAYERS_PER_STREAM,
  MAX_STREAMS_PER_STAT, SLOT_COUNT, SLOT_SCORE, SLOT_SIZE, STATUS_BAD_VARINT,
  STATUS_TOO_MANY_LAYERS, STATUS_TOO_MANY_STREAMS, STATUS_TRUNCATED, STREAM_FIRS, STREAM_FRAMES,
  STREAM_JITTER, STREAM_NACKS, STREAM_PACKETS_LOST, STREAM_PADDING_BYTES, STREAM_PADDING_PACKETS,
  STREAM_PLIS, STREAM_PRIMARY_BYTES, STREAM_PRIMARY_PACKETS, STREAM_RETRANSMIT_BYTES,
  STREAM_RETRANSMIT_PACKETS, STREAM_RTT, STREAM_SIZE, PSCRATCH_STREAM_END_NANOS,
  PSCRATCH_STREAM_END_SECONDS, PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER, PSCRATCH_STREAM_START_NANOS,
  PSCRATCH_STREAM_START_SECONDS,
} from "./layout";
import * as F from "./schema";
import {
  base, begin, failure, failureAt, limit, overlongAt, pos, readChildEnd, readFloat, readString, readTag,
  readVarint32, readVarint64, RECURSION_LIMIT, skipField, stringBytes, stringPtr,
} from "./wire";
import { infoPtr } from "./input";
import { countInvalid, foldLayer, foldStream, mergeValid } from "./fold";
import { isLiveSlot, liveSlotAddress } from "./slots";
import { isLayerValid, isStreamValid } from "./validate";
import { zero8 } from "./bytes";
import { decodeFast, FAST_MISS, FAST_SLACK } from "./decode-fast";
import {
  foldNoted, isCurrent, noteBegin, noteMime, noteStreamEnd, noteStreamStart, noteStreamValid, reserveNoted,
} from "./profile";

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

/**
 * bound exceeded (STATUS_TOO_MANY_*); decoding goes on to look for malformation. Too many
 * streams wins over too many layers wherever they appear, as the ts engine's checkLimits (which
 * counts streams first) decides.
 */
let bound: i32 = 0;
let boundAt: usize = 0;
/** a stream or layer is invalid (a counter over its bound) */
let invalid: bool = false;
let streamCount: u32 = 0;
let layerCount: u32 = 0;

/**
 * Decodes a google.protobuf.Timestamp (1 int64, 2 int32); with `dst` not 0 its seconds go to
 * `dst + secAt` and its nanos to `dst + nanosAt` (fields absent here keep what an earlier
 * occurrence set: a repeated message field merges).
 */
function parseTimestamp(end: u64, depth: i32, dst: usize, secAt: usize, nanosAt: usize): void {
  while (<u64>pos < end) {
    const tagStart = pos;
    const tag = readTag();
    if (failure != 0) return;
    const fieldNo = tag >>> 3;
    if (fieldNo == F.TIMESTAMP_SECONDS) {
      const seconds = readVarint64();
      if (dst != 0) store<i64>(dst + secAt, <i64>seconds);
    } else if (fieldNo == F.TIMESTAMP_NANOS) {
      const nanos = readVarint32();
      if (dst != 0) store<i32>(dst + nanosAt, <i32>nanos);
    } else skipField(tag & 7, fieldNo, RECURSION_LIMIT - depth, tagStart);
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
      case F.LAYER_LAYER: store<i32>(LAYER + LAYER_LAYER, <i32>readVarint32()); break;
      case F.LAYER_PACKETS: store<u32>(LAYER + LAYER_PACKETS, readVarint32()); break;
      case F.LAYER_BYTES: store<u64>(LAYER + LAYER_BYTES, readVarint64()); break;
      case F.LAYER_FRAMES: store<u32>(LAYER + LAYER_FRAMES, readVarint32()); break;
      default: skipField(tag & 7, fieldNo, RECURSION_LIMIT - DEPTH_LAYER, tagStart);
    }
    if (failure != 0) return;
  }
}

/**
 * Decodes an AnalyticsStream into STREAM, folding each of its layers into DELTA; with `note`
 * not 0 (livekit-current) its times and packets_out_of_order go to that record.
 */
function parseStream(end: u64, note: usize): void {
  while (<u64>pos < end) {
    const tagStart = pos;
    const tag = readTag();
    if (failure != 0) return;
    const fieldNo = tag >>> 3;
    switch (fieldNo) {
      case F.STREAM_SSRC: readVarint32(); break; // not folded: the result's ssrc is 0
      case F.STREAM_PRIMARY_PACKETS: store<u32>(STREAM + STREAM_PRIMARY_PACKETS, readVarint32()); break;
      case F.STREAM_PRIMARY_BYTES: store<u64>(STREAM + STREAM_PRIMARY_BYTES, readVarint64()); break;
      case F.STREAM_RETRANSMIT_PACKETS: store<u32>(STREAM + STREAM_RETRANSMIT_PACKETS, readVarint32()); break;
      case F.STREAM_RETRANSMIT_BYTES: store<u64>(STREAM + STREAM_RETRANSMIT_BYTES, readVarint64()); break;
      case F.STREAM_PADDING_PACKETS: store<u32>(STREAM + STREAM_PADDING_PACKETS, readVarint32()); break;
      case F.STREAM_PADDING_BYTES: store<u64>(STREAM + STREAM_PADDING_BYTES, readVarint64()); break;
      case F.STREAM_PACKETS_LOST: store<u32>(STREAM + STREAM_PACKETS_LOST, readVarint32()); break;
      case F.STREAM_FRAMES: store<u32>(STREAM + STREAM_FRAMES, readVarint32()); break;
      case F.STREAM_RTT: store<u32>(STREAM + STREAM_RTT, readVarint32()); break;
      case F.STREAM_JITTER: store<u32>(STREAM + STREAM_JITTER, readVarint32()); break;
      case F.STREAM_NACKS: store<u32>(STREAM + STREAM_NACKS, readVarint32()); break;
      case F.STREAM_PLIS: store<u32>(STREAM + STREAM_PLIS, readVarint32()); break;
      case F.STREAM_FIRS: store<u32>(STREAM + STREAM_FIRS, readVarint32()); break;
      case F.STREAM_VIDEO_LAYERS: {
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
      case F.STREAM_START_TIME:
      case F.STREAM_END_TIME: {
        const childEnd = readChildEnd();
        if (failure != 0) return;
        const start = fieldNo == F.STREAM_START_TIME;
        parseTimestamp(
          childEnd, DEPTH_STREAM + 1, note,
          start ? PSCRATCH_STREAM_START_SECONDS : PSCRATCH_STREAM_END_SECONDS,
          start ? PSCRATCH_STREAM_START_NANOS : PSCRATCH_STREAM_END_NANOS,
        );
        break;
      }
      case F.STREAM_PACKETS_OUT_OF_ORDER: {
        // folded in livekit-current only
        const packets = readVarint32();
        if (note != 0) store<u32>(note + PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER, packets);
        break;
      }
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
      case F.STAT_ANALYTICS_KEY:
      case F.STAT_NODE:
      case F.STAT_ROOM_NAME:
      case F.STAT_ID:
        readString();
        break;
      case F.STAT_MIME:
        readString();
        if (isCurrent()) noteMime(stringPtr, stringBytes);
        break;
      case F.STAT_KIND: store<i32>(info + INFO_KIND, <i32>readVarint32()); break;
      case F.STAT_TIME_STAMP: {
        const childEnd = readChildEnd();
        if (failure != 0) return;
        store<u32>(info + INFO_HAS_TIME, 1);
        parseTimestamp(childEnd, DEPTH_STAT + 1, info, INFO_TIME_SECONDS, INFO_TIME_NANOS);
        break;
      }
      case F.STAT_ROOM_ID:
        readString();
        store<usize>(info + INFO_ROOM_ID_PTR, stringPtr);
        store<u32>(info + INFO_ROOM_ID_BYTES, stringBytes);
        break;
      case F.STAT_PARTICIPANT_ID:
        readString();
        store<usize>(info + INFO_PARTICIPANT_ID_PTR, stringPtr);
        store<u32>(info + INFO_PARTICIPANT_ID_BYTES, stringBytes);
        break;
      case F.STAT_TRACK_ID:
        readString();
        store<usize>(info + INFO_TRACK_ID_PTR, stringPtr);
        store<u32>(info + INFO_TRACK_ID_BYTES, stringBytes);
        break;
      case F.STAT_SCORE: store<f32>(DELTA + SLOT_SCORE, readFloat()); break;
      case F.STAT_MIN_SCORE:
      case F.STAT_MEDIAN_SCORE:
        readFloat();
        break;
      case F.STAT_STREAMS: {
        if (++streamCount > MAX_STREAMS_PER_STAT && bound != STATUS_TOO_MANY_STREAMS) {
          bound = STATUS_TOO_MANY_STREAMS;
          boundAt = tagStart;
        }
        const childEnd = readChildEnd();
        if (failure != 0) return;
        zero8(STREAM, STREAM_SIZE);
        layerCount = 0;
        const current = isCurrent();
        parseStream(childEnd, current ? noteStreamStart() : 0);
        if (failure != 0) return;
        if (!isStreamValid(STREAM) || (current && !noteStreamValid())) invalid = true;
        else {
          foldStream(DELTA, STREAM);
          if (current) noteStreamEnd();
        }
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
  reset(info);
  const memoryBytes = <u64>memory.size() << 16;
  if (<u64>ptr + <u64>bytes > memoryBytes) {
    store<u32>(info + INFO_ERROR_OFFSET, 0);
    return STATUS_TRUNCATED;
  }
  let status = FAST_MISS;
  if (fastDecode && <u64>ptr + <u64>bytes + <u64>FAST_SLACK <= memoryBytes) {
    status = decodeFast(ptr, bytes, DELTA, info);
    if (status == FAST_MISS) {
      fastMisses++;
      reset(info);
    } else invalid = status == 0;
  }
  if (status == FAST_MISS) {
    begin(ptr, bytes);
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
  }
  store<u32>(DELTA + SLOT_COUNT, 1);
  if (isLiveSlot(slot)) {
    const reserved = reserveDecoded(slot);
    if (reserved < 0) return reserved;
    foldDecodedInto(slot);
  }
  return invalid ? 0 : 1;
}

/** Starts a message: the info record, DELTA, the decoder's state and the profile's notes. */
function reset(info: usize): void {
  zero8(info, INFO_SIZE);
  zero8(DELTA, SLOT_SIZE);
  bound = 0;
  invalid = false;
  streamCount = 0;
  layerCount = 0;
  if (isCurrent()) noteBegin();
}

/** whether decodeFold tries the canonical-order fast path first (decode-fast.ts) */
let fastDecode: bool = true;
/** messages the fast path left to the generic decoder */
let fastMisses: u32 = 0;

/**
 * Turns the canonical-order fast path on (`on` not 0, the default) or off; off, every message
 * goes straight to the generic decoder. A switch for tests that compare the two.
 */
export function setFastDecode(on: i32): void {
  fastDecode = on != 0;
}

/** Messages the fast path tried and left to the generic decoder so far (wrapping): a test measure. */
export function fastDecodeMisses(): u32 {
  return fastMisses;
}

/**
 * Checks that live slot `slot` can take the stat the last successful decodeFold decoded: 0, or
 * (livekit-current) PSTATUS_TOO_MANY_SCORES / STATUS_OUT_OF_MEMORY, and then nothing may be folded.
 */
export function reserveDecoded(slot: i32): i32 {
  return isCurrent() ? reserveNoted(slot, !invalid, load<f32>(DELTA + SLOT_SCORE)) : 0;
}

/**
 * Folds the stat that the last successful decodeFold decoded into live slot `slot` (once): what
 * a batch does after it has routed the message by its decoded ids.
 */
export function foldDecodedInto(slot: i32): void {
  const dst = liveSlotAddress(slot);
  // before the count moves: the profile's record starts its window on the slot's first stat
  if (isCurrent()) foldNoted(slot, !invalid, load<f32>(DELTA + SLOT_SCORE));
  if (invalid) countInvalid(dst);
  else mergeValid(dst, DELTA);
}
