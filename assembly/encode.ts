// Draining a worker's window: each live slot becomes one coalesced AnalyticsStat, either listed
// for the host to build objects from (drainList) or encoded straight into one AnalyticsStats
// message (drainEncode), byte for byte what protobuf-es toBinary writes for the same objects:
// fields in number order, proto3 zero values left out, a float left out only when it is +0.
// Slots that saw no stat this window (quiet tracks) are released, so a track that stops
// sending costs nothing after one window.

import { blockAlloc, blockCapacity, blockFree } from "./heap";
import {
  SLOT_COUNT, SLOT_FIRS, SLOT_FRAMES, SLOT_JITTER, SLOT_LAYER, SLOT_LAYER_BYTES,
  SLOT_LAYER_FRAMES, SLOT_LAYER_PACKETS, SLOT_LAYER_PRESENT, SLOT_NACKS, SLOT_PACKETS_LOST,
  SLOT_PADDING_BYTES, SLOT_PADDING_PACKETS, SLOT_PLIS, SLOT_PRIMARY_BYTES, SLOT_PRIMARY_PACKETS,
  SLOT_RETRANSMIT_BYTES, SLOT_RETRANSMIT_PACKETS, SLOT_RTT, SLOT_SCORE, SLOT_SIZE,
} from "./layout";
import {
  clearPending, isWorker, releaseSlot, slotAddress, workerHead, workerPatch, workerPatchBytes,
} from "./registry";
import { metaAddress, META_BUCKET, META_NEXT, META_TRACK_BYTES, META_TRACK_PTR } from "./slots";
import { copySmall, zero8 } from "./bytes";

/** the output buffer (drainList entries or drainEncode bytes), grown on demand */
let output: usize = 0;
let drained: u32 = 0;
/** slots released by the last drain, for the host to forget its cached ids */
let freed: usize = 0;
let freedCount: u32 = 0;

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

/** Takes back the buffer lent last; the one used meanwhile becomes the spare. */
export function returnOutput(): void {
  if (lentDepth == 0) return;
  if (spare == 0) spare = output;
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
  return freed;
}

/** Number of slots the last drain released. */
export function freedSlots(): u32 {
  return freedCount;
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

function noteFreed(slot: i32): bool {
  if (freed == 0 || blockCapacity(freed) < (<u64>freedCount + 1) << 2) {
    const grown = blockAlloc(freed == 0 ? 256 : blockCapacity(freed) << 1);
    if (grown == 0) return false;
    if (freed != 0) memory.copy(grown, freed, <usize>freedCount << 2);
    blockFree(freed);
    freed = grown;
  }
  store<i32>(freed + (<usize>freedCount << 2), slot);
  freedCount++;
  return true;
}

/**
 * Lists `worker`'s live results at outputPtr(), every UPSTREAM (bucket 0) entry first (R2), and
 * releases quiet slots (listed at freedPtr()). The host reads each listed slot and resets it.
 * Returns the number of entries, or -1 when memory is exhausted.
 *
 * ┌──────────┬────────────┬──────────────┬────────────────┐
 * │ slot i32 │ bucket u32 │ trackPtr u32 │ trackBytes u32 │  one 16-byte entry per result
 * └──────────┴────────────┴──────────────┴────────────────┘
 */
export function drainList(worker: i32): i32 {
  drained = 0;
  freedCount = 0;
  if (!isWorker(worker)) return 0;
  clearPending(worker);
  for (let bucket: u32 = 0; bucket < 2; bucket++) {
    let slot = workerHead(worker);
    while (slot >= 0) {
      const meta = metaAddress(<u32>slot);
      const next = load<i32>(meta + META_NEXT);
      if (load<u32>(meta + META_BUCKET) == bucket) {
        if (load<u32>(slotAddress(slot) + SLOT_COUNT) == 0) {
          if (!noteFreed(slot)) return -1;
          releaseSlot(slot);
        } else {
          if (!ensureOutput((<u64>drained + 1) << 4, <usize>drained << 4)) return -1;
          const entry = output + (<usize>drained << 4);
          store<i32>(entry, slot);
          store<u32>(entry + 4, bucket);
          store<u32>(entry + 8, load<u32>(meta + META_TRACK_PTR));
          store<u32>(entry + 12, load<u32>(meta + META_TRACK_BYTES));
          drained++;
        }
      }
      slot = next;
    }
  }
  return <i32>drained;
}

// ── protobuf writing ──────────────────────────────────────────────────────────────────────────

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

/** the largest encoded stream: 13 counters of up to 10 bytes plus the layer */
// @ts-ignore: decorator
@inline const STREAM_MAX: usize = 13 * 11 + 3 + 4 * 11;
const STREAM_BUF: usize = memory.data(<i32>STREAM_MAX + 16, 16);
const LAYER_BUF: usize = memory.data(64, 16);
const TIME_BUF: usize = memory.data(32, 16);

/** Encodes the coalesced stream of slot record `a` into STREAM_BUF; returns its length. */
function encodeStream(a: usize): u32 {
  let p = STREAM_BUF;
  p = fieldU32(p, 0x10, load<u32>(a + SLOT_PRIMARY_PACKETS));
  p = fieldU64(p, 0x18, load<u64>(a + SLOT_PRIMARY_BYTES));
  p = fieldU32(p, 0x20, load<u32>(a + SLOT_RETRANSMIT_PACKETS));
  p = fieldU64(p, 0x28, load<u64>(a + SLOT_RETRANSMIT_BYTES));
  p = fieldU32(p, 0x30, load<u32>(a + SLOT_PADDING_PACKETS));
  p = fieldU64(p, 0x38, load<u64>(a + SLOT_PADDING_BYTES));
  p = fieldU32(p, 0x40, load<u32>(a + SLOT_PACKETS_LOST));
  p = fieldU32(p, 0x48, load<u32>(a + SLOT_FRAMES));
  p = fieldU32(p, 0x50, load<u32>(a + SLOT_RTT));
  p = fieldU32(p, 0x58, load<u32>(a + SLOT_JITTER));
  p = fieldU32(p, 0x60, load<u32>(a + SLOT_NACKS));
  p = fieldU32(p, 0x68, load<u32>(a + SLOT_PLIS));
  p = fieldU32(p, 0x70, load<u32>(a + SLOT_FIRS));
  if (load<u32>(a + SLOT_LAYER_PRESENT) != 0) {
    let q = LAYER_BUF;
    // int32 is written as a sign-extended 64-bit varint, as protobuf-es does
    q = fieldU64(q, 0x08, <u64>(<i64>load<i32>(a + SLOT_LAYER)));
    q = fieldU32(q, 0x10, load<u32>(a + SLOT_LAYER_PACKETS));
    q = fieldU64(q, 0x18, load<u64>(a + SLOT_LAYER_BYTES));
    q = fieldU32(q, 0x20, load<u32>(a + SLOT_LAYER_FRAMES));
    const layerBytes = <u32>(q - LAYER_BUF);
    store<u8>(p, 0x7a);
    p = writeVarint(p + 1, layerBytes);
    copySmall(p, LAYER_BUF, layerBytes);
    p += layerBytes;
  }
  return <u32>(p - STREAM_BUF);
}

/**
 * Encodes `worker`'s window as one AnalyticsStats message at outputPtr() and resets the slots:
 * one stat per live slot, UPSTREAM first (R2), each patched (R3) with kind, time stamp
 * (`seconds`, `nanos`), the worker's pre-encoded room and participant fields and the track id.
 * Quiet slots are released (listed at freedPtr()). Returns the message length (0: no results),
 * or -1 when memory is exhausted; drainCount() gives the number of stats.
 */
export function drainEncode(worker: i32, seconds: f64, nanos: i32): i32 {
  drained = 0;
  freedCount = 0;
  if (!isWorker(worker)) return 0;
  clearPending(worker);
  let t = TIME_BUF;
  t = fieldU64(t, 0x08, <u64>(<i64>seconds));
  t = fieldU64(t, 0x10, <u64>(<i64>nanos));
  const timeBytes = <u32>(t - TIME_BUF);
  const patch = workerPatch(worker);
  const patchBytes = workerPatchBytes(worker);
  let length: usize = 0;
  for (let bucket: u32 = 0; bucket < 2; bucket++) {
    let slot = workerHead(worker);
    while (slot >= 0) {
      const meta = metaAddress(<u32>slot);
      const next = load<i32>(meta + META_NEXT);
      if (load<u32>(meta + META_BUCKET) != bucket) {
        slot = next;
        continue;
      }
      const a = slotAddress(slot);
      const count = load<u32>(a + SLOT_COUNT);
      if (count == 0) {
        if (!noteFreed(slot)) return -1;
        releaseSlot(slot);
        slot = next;
        continue;
      }
      const streamBytes = encodeStream(a);
      const trackBytes = load<u32>(meta + META_TRACK_BYTES);
      // Go parity (R10): float32 division by the count of all stats, invalid ones included
      const score = load<f32>(a + SLOT_SCORE) / <f32>count;
      let statBytes: u32 = (bucket == 1 ? 2 : 0) + 2 + timeBytes + patchBytes + 1 + varintSize(streamBytes) + streamBytes;
      if (trackBytes != 0) statBytes += 1 + varintSize(trackBytes) + trackBytes;
      if (reinterpret<u32>(score) != 0) statBytes += 5;
      if (!ensureOutput(<u64>length + 6 + statBytes, length)) return -1;
      let p = output + length;
      store<u8>(p, 0x0a);
      p = writeVarint(p + 1, statBytes);
      if (bucket == 1) {
        store<u16>(p, 0x0110); // kind = DOWNSTREAM (field 2, varint 1)
        p += 2;
      }
      store<u8>(p, 0x1a);
      store<u8>(p + 1, <u8>timeBytes);
      copySmall(p + 2, TIME_BUF, timeBytes);
      p += 2 + timeBytes;
      copySmall(p, patch, patchBytes);
      p += patchBytes;
      if (trackBytes != 0) {
        store<u8>(p, 0x42);
        p = writeVarint(p + 1, trackBytes);
        copySmall(p, load<u32>(meta + META_TRACK_PTR), trackBytes);
        p += trackBytes;
      }
      if (reinterpret<u32>(score) != 0) {
        store<u8>(p, 0x4d);
        store<f32>(p + 1, score);
        p += 5;
      }
      store<u8>(p, 0x52);
      p = writeVarint(p + 1, streamBytes);
      copySmall(p, STREAM_BUF, streamBytes);
      p += streamBytes;
      length = p - output;
      zero8(a, SLOT_SIZE);
      drained++;
      slot = next;
    }
  }
  return <i32>length;
}
