// Draining a worker's window: each live slot becomes one coalesced AnalyticsStat, either listed
// for the host to build objects from (drainList) or encoded straight into one AnalyticsStats
// message (drainEncode), byte for byte what protobuf-es toBinary writes for the same objects:
// fields in number order, proto3 zero values left out, a float left out only when it is +0.
// Slots that saw no stat this window (quiet tracks) are released, so a track that stops
// sending costs nothing after one window.

import { blockAlloc, blockCapacity, blockFree } from "./heap";
import {
  DRAIN_ENTRY_BUCKET, DRAIN_ENTRY_SIZE, DRAIN_ENTRY_SLOT, DRAIN_ENTRY_TRACK_BYTES,
  DRAIN_ENTRY_TRACK_PTR, META_BUCKET, META_NEXT, META_TRACK_BYTES, META_TRACK_PTR, SLOT_COUNT,
  SLOT_FIRS, SLOT_FRAMES, SLOT_JITTER, SLOT_LAYER, SLOT_LAYER_BYTES, SLOT_LAYER_FRAMES,
  SLOT_LAYER_PACKETS, SLOT_LAYER_PRESENT, SLOT_NACKS, SLOT_PACKETS_LOST, SLOT_PADDING_BYTES,
  SLOT_PADDING_PACKETS, SLOT_PLIS, SLOT_PRIMARY_BYTES, SLOT_PRIMARY_PACKETS, SLOT_RETRANSMIT_BYTES,
  SLOT_RETRANSMIT_PACKETS, SLOT_RTT, SLOT_SCORE, SLOT_SIZE,
} from "./layout";
import * as F from "./schema";
import { WT_BIT32, WT_LENGTH_DELIMITED, WT_VARINT } from "./wire";
import {
  clearPending, isWorker, releaseSlot, slotAddress, workerHead, workerPatch, workerPatchBytes,
} from "./registry";
import { metaAddress } from "./slots";
import { copySmall, zero8 } from "./bytes";
import { KEEP_BUFFER_BYTES } from "./input";
import { isCurrent, slotExtPtr } from "./profile";
import {
  EXT_END_NSEC, EXT_END_SEC, EXT_MEDIAN_SCORE, EXT_MIME_BYTES, EXT_MIME_PTR, EXT_MIN_SCORE,
  EXT_PACKETS_OUT_OF_ORDER, EXT_SCORE_COUNT, EXT_START_NSEC, EXT_START_SEC,
  IDS_CHARS, IDS_COUNT, IDS_SHORT, IDS_SIZE,
} from "./layout";

/** the output buffer (drainList entries or drainEncode bytes), grown on demand */
let output: usize = 0;
/** bytes of output the last drain wrote */
let outputUsed: u64 = 0;
let drained: u32 = 0;

/** A growable list of i32 in a heap block; only the module reads it. */
@unmanaged class I32List {
  ptr: usize;
  count: u32;
}

/** slots released by the last drain, for the host to forget its cached ids */
const FREED = changetype<I32List>(memory.data(offsetof<I32List>(), 16));
/** the live slots of the drain in progress, in result order */
const ORDER = changetype<I32List>(memory.data(offsetof<I32List>(), 16));

/** Appends `value` to `list`; false when memory is exhausted (the list is unchanged). */
function push(list: I32List, value: i32): bool {
  if (list.ptr == 0 || blockCapacity(list.ptr) < (<u64>list.count + 1) << 2) {
    const grown = blockAlloc(list.ptr == 0 ? 256 : blockCapacity(list.ptr) << 1);
    if (grown == 0) return false;
    if (list.ptr != 0) memory.copy(grown, list.ptr, <usize>list.count << 2);
    blockFree(list.ptr);
    list.ptr = grown;
  }
  store<i32>(list.ptr + (<usize>list.count << 2), value);
  list.count++;
  return true;
}

/** Frees an empty list's block when it grew past KEEP_BUFFER_BYTES. */
function trimList(list: I32List): void {
  if (list.ptr != 0 && blockCapacity(list.ptr) > KEEP_BUFFER_BYTES) {
    blockFree(list.ptr);
    list.ptr = 0;
  }
}

/**
 * Gives the output buffer, the spare and the drain lists back to the heap when they grew past
 * KEEP_BUFFER_BYTES (64 KiB); the host must hold no view of the last drain's output.
 */
export function trimOutput(): void {
  if (output != 0 && blockCapacity(output) > KEEP_BUFFER_BYTES) {
    blockFree(output);
    output = 0;
  }
  if (spare != 0 && blockCapacity(spare) > KEEP_BUFFER_BYTES) {
    blockFree(spare);
    spare = 0;
  }
  FREED.count = 0;
  trimList(FREED);
  trimList(ORDER);
  outputUsed = 0;
}

// @ts-ignore: decorator
@inline function at(list: I32List, i: u32): i32 {
  return load<i32>(list.ptr + (<usize>i << 2));
}

// A reporter handed a view of `output` may, inside reportBytes, make another worker drain
// (participantLeft, flush): that drain must not overwrite the view. The host lends the buffer
// for the duration of the call; drains meanwhile write to another buffer (the spare, reused
// across calls, so a steady window allocates nothing).
// @ts-ignore: decorator
@inline const MAX_LENT: u32 = 256;
const LENT: usize = memory.data(<i32>(MAX_LENT << 2), 16);
let lentDepth: u32 = 0;
let spare: usize = 0;

/**
 * Lends the current output buffer to the host (a reporter is reading it); later drains write
 * elsewhere until returnOutput(). -1 when lends nest deeper than 256.
 */
export function lendOutput(): i32 {
  if (lentDepth == MAX_LENT) return -1;
  store<usize>(LENT + (<usize>lentDepth << 2), output);
  lentDepth++;
  output = spare;
  spare = 0;
  return 0;
}

/** Takes back the buffer lent last; the one used meanwhile becomes the spare unless it is large. */
export function returnOutput(): void {
  if (lentDepth == 0) return;
  if (spare == 0 && (output == 0 || blockCapacity(output) <= KEEP_BUFFER_BYTES)) spare = output;
  else blockFree(output);
  lentDepth--;
  output = load<usize>(LENT + (<usize>lentDepth << 2));
}

/** Address of the last drain's output. */
export function outputPtr(): usize {
  return output;
}

/** Results the last drain produced. */
export function drainCount(): u32 {
  return drained;
}

/** Address of the list of slots (i32) the last drain released. */
export function freedPtr(): usize {
  return FREED.ptr;
}

/** Number of slots the last drain released. */
export function freedSlots(): u32 {
  return FREED.count;
}

/** Makes `output` hold `bytes` bytes, keeping the first `keep`; false when memory is exhausted. */
function ensureOutput(bytes: u64, keep: usize): bool {
  if (output != 0 && blockCapacity(output) >= bytes) return true;
  let capacity: u64 = output == 0 ? 4096 : blockCapacity(output) << 1;
  while (capacity < bytes) capacity <<= 1;
  const grown = blockAlloc(capacity);
  if (grown == 0) return false;
  if (keep != 0) memory.copy(grown, output, keep);
  blockFree(output);
  output = grown;
  return true;
}

/**
 * The one drain walk: releases `worker`'s quiet slots (no stat this window; listed at
 * freedPtr()) and lists its live ones in ORDER, every UPSTREAM (bucket 0) slot first. False
 * when memory is exhausted; nothing live was touched then.
 */
function collect(worker: i32): bool {
  drained = 0;
  FREED.count = 0;
  ORDER.count = 0;
  // buffers that grew for one big drain go back to the heap once drains are small again
  if (output != 0 && blockCapacity(output) > KEEP_BUFFER_BYTES && outputUsed * 4 < blockCapacity(output)) {
    blockFree(output);
    output = 0;
  }
  trimList(FREED);
  trimList(ORDER);
  for (let bucket: u32 = 0; bucket < 2; bucket++) {
    let slot = workerHead(worker);
    while (slot >= 0) {
      const meta = metaAddress(<u32>slot);
      const next = load<i32>(meta + META_NEXT);
      if (load<u32>(meta + META_BUCKET) == bucket) {
        if (load<u32>(slotAddress(slot) + SLOT_COUNT) == 0) {
          if (!push(FREED, slot)) return false;
          releaseSlot(slot);
        } else if (!push(ORDER, slot)) {
          return false;
        }
      }
      slot = next;
    }
  }
  return true;
}

/**
 * Lists `worker`'s live results at outputPtr() (DRAIN_ENTRY records), every UPSTREAM entry
 * first, and releases quiet slots (listed at freedPtr()). The host reads each listed slot and
 * resets it. Returns the number of entries, or -1 when memory is exhausted.
 */
export function drainList(worker: i32): i32 {
  drained = 0;
  FREED.count = 0;
  if (!isWorker(worker)) return 0;
  if (!collect(worker)) return -1;
  const n = ORDER.count;
  if (n != 0 && !ensureOutput(<u64>n * DRAIN_ENTRY_SIZE, 0)) return -1;
  for (let i: u32 = 0; i < n; i++) {
    const slot = at(ORDER, i);
    const meta = metaAddress(<u32>slot);
    const entry = output + <usize>i * DRAIN_ENTRY_SIZE;
    store<i32>(entry + DRAIN_ENTRY_SLOT, slot);
    store<u32>(entry + DRAIN_ENTRY_BUCKET, load<u32>(meta + META_BUCKET));
    store<u32>(entry + DRAIN_ENTRY_TRACK_PTR, load<u32>(meta + META_TRACK_PTR));
    store<u32>(entry + DRAIN_ENTRY_TRACK_BYTES, load<u32>(meta + META_TRACK_BYTES));
  }
  drained = n;
  outputUsed = <u64>n * DRAIN_ENTRY_SIZE;
  clearPending(worker);
  return <i32>n;
}

// ── protobuf writing ──────────────────────────────────────────────────────────────────────────

// Tags, built from the field numbers (schema.ts) and wire types (wire.ts).
// @ts-ignore: decorator
@inline const TAG_STATS_STAT: u8 = <u8>((F.STATS_STATS << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const TAG_STAT_KIND: u8 = <u8>((F.STAT_KIND << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STAT_TIME_STAMP: u8 = <u8>((F.STAT_TIME_STAMP << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const TAG_STAT_TRACK_ID: u8 = <u8>((F.STAT_TRACK_ID << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const TAG_STAT_SCORE: u8 = <u8>((F.STAT_SCORE << 3) | WT_BIT32);
// @ts-ignore: decorator
@inline const TAG_STAT_STREAMS: u8 = <u8>((F.STAT_STREAMS << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const TAG_STREAM_PRIMARY_PACKETS: u8 = <u8>((F.STREAM_PRIMARY_PACKETS << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_PRIMARY_BYTES: u8 = <u8>((F.STREAM_PRIMARY_BYTES << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_RETRANSMIT_PACKETS: u8 = <u8>((F.STREAM_RETRANSMIT_PACKETS << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_RETRANSMIT_BYTES: u8 = <u8>((F.STREAM_RETRANSMIT_BYTES << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_PADDING_PACKETS: u8 = <u8>((F.STREAM_PADDING_PACKETS << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_PADDING_BYTES: u8 = <u8>((F.STREAM_PADDING_BYTES << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_PACKETS_LOST: u8 = <u8>((F.STREAM_PACKETS_LOST << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_FRAMES: u8 = <u8>((F.STREAM_FRAMES << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_RTT: u8 = <u8>((F.STREAM_RTT << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_JITTER: u8 = <u8>((F.STREAM_JITTER << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_NACKS: u8 = <u8>((F.STREAM_NACKS << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_PLIS: u8 = <u8>((F.STREAM_PLIS << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_FIRS: u8 = <u8>((F.STREAM_FIRS << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STREAM_VIDEO_LAYERS: u8 = <u8>((F.STREAM_VIDEO_LAYERS << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const TAG_LAYER_LAYER: u8 = <u8>((F.LAYER_LAYER << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_LAYER_PACKETS: u8 = <u8>((F.LAYER_PACKETS << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_LAYER_BYTES: u8 = <u8>((F.LAYER_BYTES << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_LAYER_FRAMES: u8 = <u8>((F.LAYER_FRAMES << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_STAT_MIME: u8 = <u8>((F.STAT_MIME << 3) | WT_LENGTH_DELIMITED);
// @ts-ignore: decorator
@inline const TAG_STAT_MIN_SCORE: u8 = <u8>((F.STAT_MIN_SCORE << 3) | WT_BIT32);
// @ts-ignore: decorator
@inline const TAG_STAT_MEDIAN_SCORE: u8 = <u8>((F.STAT_MEDIAN_SCORE << 3) | WT_BIT32);
// @ts-ignore: decorator
@inline const TAG_STAT_ID: u8 = <u8>((F.STAT_ID << 3) | WT_LENGTH_DELIMITED);
/** bytes a stamped id adds to a stat: tag, length, "AS_" and the characters */
// @ts-ignore: decorator
@inline const ID_FIELD_BYTES: u32 = 5 + IDS_CHARS;

// ── stamped ids ──────────────────────────────────────────────────────────────────────────────
// A network reporter sends every stat with a unique id. The host fills this pool with random
// base62 characters (the same source as its own ids), and a stamping drain writes them as it
// encodes, so that no reporter has to walk and re-write the engine's bytes to add them.

const ID_POOL: usize = memory.data(<i32>IDS_SIZE, 16);
let idsLeft: u32 = 0;

/** Address of the stamped-id pool (IDS), which the host fills before calling idPoolFilled(). */
export function idPoolPtr(): usize {
  return ID_POOL;
}

/** The host wrote IDS_COUNT fresh ids into the pool: stamping drains take them from its start. */
export function idPoolFilled(): void {
  idsLeft = IDS_COUNT;
}
// field numbers 16 and up take a two-byte tag; `tag | 0x80` then 1 for 17-19
// @ts-ignore: decorator
@inline const TAG_STREAM_START_TIME: u8 = <u8>(((F.STREAM_START_TIME << 3) | WT_LENGTH_DELIMITED) | 0x80);
// @ts-ignore: decorator
@inline const TAG_STREAM_END_TIME: u8 = <u8>(((F.STREAM_END_TIME << 3) | WT_LENGTH_DELIMITED) | 0x80);
// @ts-ignore: decorator
@inline const TAG_STREAM_PACKETS_OUT_OF_ORDER: u8 = <u8>(((F.STREAM_PACKETS_OUT_OF_ORDER << 3) | WT_VARINT) | 0x80);
// @ts-ignore: decorator
@inline const TAG_TIMESTAMP_SECONDS: u8 = <u8>((F.TIMESTAMP_SECONDS << 3) | WT_VARINT);
// @ts-ignore: decorator
@inline const TAG_TIMESTAMP_NANOS: u8 = <u8>((F.TIMESTAMP_NANOS << 3) | WT_VARINT);

// @ts-ignore: decorator
@inline function varintSize(v: u64): u32 {
  let n: u32 = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

function writeVarint(p: usize, v: u64): usize {
  while (v >= 0x80) {
    store<u8>(p++, <u8>(v | 0x80));
    v >>= 7;
  }
  store<u8>(p++, <u8>v);
  return p;
}

// @ts-ignore: decorator
@inline function fieldU32(p: usize, tag: u8, v: u32): usize {
  if (v == 0) return p;
  store<u8>(p, tag);
  return writeVarint(p + 1, v);
}

// @ts-ignore: decorator
@inline function fieldU64(p: usize, tag: u8, v: u64): usize {
  if (v == 0) return p;
  store<u8>(p, tag);
  return writeVarint(p + 1, v);
}

/**
 * the largest encoded stream: 13 counters of up to 10 bytes plus the layer, and in
 * livekit-current two timestamps (3 + 2 x 11 bytes each) and packets_out_of_order (2 + 5)
 */
// @ts-ignore: decorator
@inline const STREAM_MAX: usize = 13 * 11 + 3 + 4 * 11 + 2 * 25 + 7;
const STREAM_BUF: usize = memory.data(<i32>STREAM_MAX + 16, 16);
const LAYER_BUF: usize = memory.data(64, 16);
// the patch time stamp at 0, a stream time being written at 16
const TIME_BUF: usize = memory.data(48, 16);

/**
 * Writes a Go time.Time (seconds since 0001-01-01, nanoseconds) as the Timestamp field `tag`
 * (two-byte tag, always present, as `timestamppb.New` makes it); returns the new end.
 */
function fieldTime(p: usize, tag: u8, internalSec: i64, nsec: u32): usize {
  // Go parity: timestamppb.New(t) is t.Unix(), which subtracts unixToInternal with int64 wrap
  const seconds = internalSec - 62_135_596_800;
  let q = TIME_BUF + 16;
  q = fieldU64(q, TAG_TIMESTAMP_SECONDS, <u64>seconds);
  q = fieldU32(q, TAG_TIMESTAMP_NANOS, nsec);
  const bytes = <u32>(q - (TIME_BUF + 16));
  store<u8>(p, tag);
  store<u8>(p + 1, 1);
  store<u8>(p + 2, <u8>bytes);
  copySmall(p + 3, TIME_BUF + 16, bytes);
  return p + 3 + bytes;
}

/**
 * Encodes the coalesced stream of slot record `a` into STREAM_BUF; returns its length. With
 * `ext` not 0 (livekit-current) the stream's start and end time and packets_out_of_order follow.
 */
function encodeStream(a: usize, ext: usize): u32 {
  let p = STREAM_BUF;
  p = fieldU32(p, TAG_STREAM_PRIMARY_PACKETS, load<u32>(a + SLOT_PRIMARY_PACKETS));
  p = fieldU64(p, TAG_STREAM_PRIMARY_BYTES, load<u64>(a + SLOT_PRIMARY_BYTES));
  p = fieldU32(p, TAG_STREAM_RETRANSMIT_PACKETS, load<u32>(a + SLOT_RETRANSMIT_PACKETS));
  p = fieldU64(p, TAG_STREAM_RETRANSMIT_BYTES, load<u64>(a + SLOT_RETRANSMIT_BYTES));
  p = fieldU32(p, TAG_STREAM_PADDING_PACKETS, load<u32>(a + SLOT_PADDING_PACKETS));
  p = fieldU64(p, TAG_STREAM_PADDING_BYTES, load<u64>(a + SLOT_PADDING_BYTES));
  p = fieldU32(p, TAG_STREAM_PACKETS_LOST, load<u32>(a + SLOT_PACKETS_LOST));
  p = fieldU32(p, TAG_STREAM_FRAMES, load<u32>(a + SLOT_FRAMES));
  p = fieldU32(p, TAG_STREAM_RTT, load<u32>(a + SLOT_RTT));
  p = fieldU32(p, TAG_STREAM_JITTER, load<u32>(a + SLOT_JITTER));
  p = fieldU32(p, TAG_STREAM_NACKS, load<u32>(a + SLOT_NACKS));
  p = fieldU32(p, TAG_STREAM_PLIS, load<u32>(a + SLOT_PLIS));
  p = fieldU32(p, TAG_STREAM_FIRS, load<u32>(a + SLOT_FIRS));
  if (load<u32>(a + SLOT_LAYER_PRESENT) != 0) {
    let q = LAYER_BUF;
    // int32 is written as a sign-extended 64-bit varint, as protobuf-es does
    q = fieldU64(q, TAG_LAYER_LAYER, <u64>(<i64>load<i32>(a + SLOT_LAYER)));
    q = fieldU32(q, TAG_LAYER_PACKETS, load<u32>(a + SLOT_LAYER_PACKETS));
    q = fieldU64(q, TAG_LAYER_BYTES, load<u64>(a + SLOT_LAYER_BYTES));
    q = fieldU32(q, TAG_LAYER_FRAMES, load<u32>(a + SLOT_LAYER_FRAMES));
    const layerBytes = <u32>(q - LAYER_BUF);
    store<u8>(p, TAG_STREAM_VIDEO_LAYERS);
    p = writeVarint(p + 1, layerBytes);
    copySmall(p, LAYER_BUF, layerBytes);
    p += layerBytes;
  }
  if (ext != 0) {
    p = fieldTime(p, TAG_STREAM_START_TIME, load<i64>(ext + EXT_START_SEC), load<u32>(ext + EXT_START_NSEC));
    p = fieldTime(p, TAG_STREAM_END_TIME, load<i64>(ext + EXT_END_SEC), load<u32>(ext + EXT_END_NSEC));
    const ooo = load<u32>(ext + EXT_PACKETS_OUT_OF_ORDER);
    if (ooo != 0) {
      store<u8>(p, TAG_STREAM_PACKETS_OUT_OF_ORDER);
      store<u8>(p + 1, 1);
      p = writeVarint(p + 2, ooo);
    }
  }
  return <u32>(p - STREAM_BUF);
}

/**
 * Encodes `worker`'s window as one AnalyticsStats message at outputPtr() and resets the slots:
 * one stat per live slot, UPSTREAM first, each patched with kind, time stamp (`seconds`,
 * `nanos`), the worker's pre-encoded patch fields (node, room and participant) and the track id,
 * and with `stampIds` not 0 an `id` from the pool (IDS). Quiet slots are released (listed at
 * freedPtr()). Returns the message length (0: no results), -1 when memory is exhausted, or
 * IDS_SHORT when the pool has fewer ids left than the window has stats; the window then stays in
 * place for the next drain. drainCount() gives the number of stats.
 */
export function drainEncode(worker: i32, seconds: f64, nanos: i32, stampIds: i32): i32 {
  drained = 0;
  FREED.count = 0;
  if (!isWorker(worker)) return 0;
  if (!collect(worker)) return -1;
  const stamp = stampIds != 0;
  if (stamp && ORDER.count > idsLeft) return IDS_SHORT;
  let t = TIME_BUF;
  t = fieldU64(t, TAG_TIMESTAMP_SECONDS, <u64>(<i64>seconds));
  t = fieldU64(t, TAG_TIMESTAMP_NANOS, <u64>(<i64>nanos));
  const timeBytes = <u32>(t - TIME_BUF);
  const patch = workerPatch(worker);
  const patchBytes = workerPatchBytes(worker);
  const current = isCurrent();
  const n = ORDER.count;
  let length: usize = 0;
  for (let i: u32 = 0; i < n; i++) {
    const slot = at(ORDER, i);
    const meta = metaAddress(<u32>slot);
    const bucket = load<u32>(meta + META_BUCKET);
    const a = slotAddress(slot);
    const ext = current ? slotExtPtr(slot) : 0;
    const streamBytes = encodeStream(a, ext);
    const trackBytes = load<u32>(meta + META_TRACK_BYTES);
    // Go parity: float32 division by the count of all stats, invalid ones included; in
    // livekit-current by the count of positive scores, 0 when there are none
    let score: f32;
    if (ext == 0) score = load<f32>(a + SLOT_SCORE) / <f32>load<u32>(a + SLOT_COUNT);
    else {
      const scores = load<u32>(ext + EXT_SCORE_COUNT);
      score = scores == 0 ? 0 : load<f32>(a + SLOT_SCORE) / <f32>scores;
    }
    let statBytes: u32 = (bucket == 1 ? 2 : 0) + 2 + timeBytes + patchBytes + 1 + varintSize(streamBytes) + streamBytes;
    if (stamp) statBytes += ID_FIELD_BYTES;
    if (trackBytes != 0) statBytes += 1 + varintSize(trackBytes) + trackBytes;
    if (reinterpret<u32>(score) != 0) statBytes += 5;
    let mimeBytes: u32 = 0;
    let minScore: f32 = 0;
    let medianScore: f32 = 0;
    if (ext != 0) {
      mimeBytes = load<u32>(ext + EXT_MIME_BYTES);
      minScore = load<f32>(ext + EXT_MIN_SCORE);
      medianScore = load<f32>(ext + EXT_MEDIAN_SCORE);
      if (mimeBytes != 0) statBytes += 1 + varintSize(mimeBytes) + mimeBytes;
      if (reinterpret<u32>(minScore) != 0) statBytes += 5;
      if (reinterpret<u32>(medianScore) != 0) statBytes += 5;
    }
    if (!ensureOutput(<u64>length + 6 + statBytes, length)) return -1;
    let p = output + length;
    store<u8>(p, TAG_STATS_STAT);
    p = writeVarint(p + 1, statBytes);
    if (bucket == 1) {
      // kind = DOWNSTREAM (1)
      store<u8>(p, TAG_STAT_KIND);
      store<u8>(p + 1, 1);
      p += 2;
    }
    store<u8>(p, TAG_STAT_TIME_STAMP);
    store<u8>(p + 1, <u8>timeBytes);
    copySmall(p + 2, TIME_BUF, timeBytes);
    p += 2 + timeBytes;
    copySmall(p, patch, patchBytes);
    p += patchBytes;
    if (trackBytes != 0) {
      store<u8>(p, TAG_STAT_TRACK_ID);
      p = writeVarint(p + 1, trackBytes);
      copySmall(p, load<u32>(meta + META_TRACK_PTR), trackBytes);
      p += trackBytes;
    }
    if (reinterpret<u32>(score) != 0) {
      store<u8>(p, TAG_STAT_SCORE);
      store<f32>(p + 1, score);
      p += 5;
    }
    store<u8>(p, TAG_STAT_STREAMS);
    p = writeVarint(p + 1, streamBytes);
    copySmall(p, STREAM_BUF, streamBytes);
    p += streamBytes;
    if (mimeBytes != 0) {
      store<u8>(p, TAG_STAT_MIME);
      p = writeVarint(p + 1, mimeBytes);
      memory.copy(p, <usize>load<u32>(ext + EXT_MIME_PTR), mimeBytes);
      p += mimeBytes;
    }
    if (reinterpret<u32>(minScore) != 0) {
      store<u8>(p, TAG_STAT_MIN_SCORE);
      store<f32>(p + 1, minScore);
      p += 5;
    }
    if (reinterpret<u32>(medianScore) != 0) {
      store<u8>(p, TAG_STAT_MEDIAN_SCORE);
      store<f32>(p + 1, medianScore);
      p += 5;
    }
    if (stamp) {
      // field 14, the last: "AS_" and the pool's next id
      store<u8>(p, TAG_STAT_ID);
      store<u8>(p + 1, <u8>(3 + IDS_CHARS));
      store<u8>(p + 2, 0x41);
      store<u8>(p + 3, 0x53);
      store<u8>(p + 4, 0x5f);
      copySmall(p + 5, ID_POOL + <usize>(IDS_COUNT - idsLeft) * IDS_CHARS, IDS_CHARS);
      idsLeft--;
      p += ID_FIELD_BYTES;
    }
    length = p - output;
  }
  // only now that every stat is encoded does the window end
  for (let i: u32 = 0; i < n; i++) zero8(slotAddress(at(ORDER, i)), SLOT_SIZE);
  drained = n;
  outputUsed = <u64>length;
  clearPending(worker);
  return <i32>length;
}
