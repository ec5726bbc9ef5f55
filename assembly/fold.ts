// The associative fold of valid stats into a slot (R8-R10, Q1).
//
// Port of coalesce in statsworker.go (livekit/livekit 29039b4e), reshaped as a fold: a slot is
// the running result of every stat seen so far in the window, so a stat can be folded in on
// arrival and nothing is buffered. Sums wrap (u32/u64 arithmetic), rtt and jitter take the
// maximum, and a single layer accumulator keeps the highest layer index with its sums.

import {
  LAYER_BYTES, LAYER_FRAMES, LAYER_LAYER, LAYER_PACKETS, LAYER_SIZE, SCRATCH_LAYERS,
  SCRATCH_LAYER_COUNT, SCRATCH_SCORE, SCRATCH_STREAMS, SCRATCH_STREAM_COUNT, SLOT_COUNT,
  SLOT_FIRS, SLOT_FRAMES, SLOT_JITTER, SLOT_LAYER, SLOT_LAYER_BYTES, SLOT_LAYER_FRAMES,
  SLOT_LAYER_PACKETS, SLOT_LAYER_PRESENT, SLOT_NACKS, SLOT_PACKETS_LOST, SLOT_PADDING_BYTES,
  SLOT_PADDING_PACKETS, SLOT_PLIS, SLOT_PRIMARY_BYTES, SLOT_PRIMARY_PACKETS, SLOT_RETRANSMIT_BYTES,
  SLOT_RETRANSMIT_PACKETS, SLOT_RTT, SLOT_SCORE, STREAM_FIRS, STREAM_FRAMES, STREAM_JITTER,
  STREAM_NACKS, STREAM_PACKETS_LOST, STREAM_PADDING_BYTES, STREAM_PADDING_PACKETS, STREAM_PLIS,
  STREAM_PRIMARY_BYTES, STREAM_PRIMARY_PACKETS, STREAM_RETRANSMIT_BYTES,
  STREAM_RETRANSMIT_PACKETS, STREAM_RTT, STREAM_SIZE,
} from "./layout";
import { scratchPtr } from "./input";
import { isLiveSlot, liveSlotAddress } from "./slots";
import { checkScratchCounts, isScratchValid } from "./validate";
import { foldScratchExt, isCurrent, reserveScratch, scratchStreamsValid } from "./profile";

// @ts-ignore: decorator
@inline function addU32(dst: usize, value: u32): void {
  store<u32>(dst, load<u32>(dst) + value);
}

// @ts-ignore: decorator
@inline function addU64(dst: usize, value: u64): void {
  store<u64>(dst, load<u64>(dst) + value);
}

// @ts-ignore: decorator
@inline function maxU32(dst: usize, value: u32): void {
  if (value > load<u32>(dst)) store<u32>(dst, value);
}

/**
 * Folds the counters of one stream, given as values, into a slot-layout record `dst`.
 *
 * Go parity (R8): the eleven counters wrap; rtt and jitter are the unsigned maximum from 0.
 */
// @ts-ignore: decorator
@inline export function foldCounters(
  dst: usize, primaryPackets: u32, retransmitPackets: u32, paddingPackets: u32, packetsLost: u32,
  frames: u32, nacks: u32, plis: u32, firs: u32, rtt: u32, jitter: u32,
  primaryBytes: u64, retransmitBytes: u64, paddingBytes: u64,
): void {
  addU32(dst + SLOT_PRIMARY_PACKETS, primaryPackets);
  addU32(dst + SLOT_RETRANSMIT_PACKETS, retransmitPackets);
  addU32(dst + SLOT_PADDING_PACKETS, paddingPackets);
  addU32(dst + SLOT_PACKETS_LOST, packetsLost);
  addU32(dst + SLOT_FRAMES, frames);
  addU32(dst + SLOT_NACKS, nacks);
  addU32(dst + SLOT_PLIS, plis);
  addU32(dst + SLOT_FIRS, firs);
  maxU32(dst + SLOT_RTT, rtt);
  maxU32(dst + SLOT_JITTER, jitter);
  addU64(dst + SLOT_PRIMARY_BYTES, primaryBytes);
  addU64(dst + SLOT_RETRANSMIT_BYTES, retransmitBytes);
  addU64(dst + SLOT_PADDING_BYTES, paddingBytes);
}

/** Folds the counters of one stream record (scratch layout) into a slot-layout record `dst` (R8). */
export function foldStream(dst: usize, stream: usize): void {
  foldCounters(
    dst,
    load<u32>(stream + STREAM_PRIMARY_PACKETS),
    load<u32>(stream + STREAM_RETRANSMIT_PACKETS),
    load<u32>(stream + STREAM_PADDING_PACKETS),
    load<u32>(stream + STREAM_PACKETS_LOST),
    load<u32>(stream + STREAM_FRAMES),
    load<u32>(stream + STREAM_NACKS),
    load<u32>(stream + STREAM_PLIS),
    load<u32>(stream + STREAM_FIRS),
    load<u32>(stream + STREAM_RTT),
    load<u32>(stream + STREAM_JITTER),
    load<u64>(stream + STREAM_PRIMARY_BYTES),
    load<u64>(stream + STREAM_RETRANSMIT_BYTES),
    load<u64>(stream + STREAM_PADDING_BYTES),
  );
}

/**
 * Folds one video layer into the layer accumulator of a slot-layout record `dst`.
 *
 * Go parity (R9): the first occurrence of an index is copied, later ones add into it, and only
 * the highest index is kept. Q1: indices compare as signed i32, so -1 beats -5 always.
 */
export function foldLayer(dst: usize, layer: i32, packets: u32, frames: u32, bytes: u64): void {
  if (load<u32>(dst + SLOT_LAYER_PRESENT) == 0 || layer > load<i32>(dst + SLOT_LAYER)) {
    store<i32>(dst + SLOT_LAYER, layer);
    store<u32>(dst + SLOT_LAYER_PRESENT, 1);
    store<u32>(dst + SLOT_LAYER_PACKETS, packets);
    store<u32>(dst + SLOT_LAYER_FRAMES, frames);
    store<u64>(dst + SLOT_LAYER_BYTES, bytes);
  } else if (layer == load<i32>(dst + SLOT_LAYER)) {
    addU32(dst + SLOT_LAYER_PACKETS, packets);
    addU32(dst + SLOT_LAYER_FRAMES, frames);
    addU64(dst + SLOT_LAYER_BYTES, bytes);
  }
}

/**
 * Adds the fold of one valid stat (`delta`, slot layout, count 1) to the slot record `dst`.
 *
 * Equivalent to folding the stat's streams and layers into `dst` one by one: sums and maxima are
 * associative, and the layer accumulator keeps the highest index with the sum of its
 * occurrences whatever the order. R10: the score is added once, rounded to float32.
 */
export function mergeValid(dst: usize, delta: usize): void {
  store<u32>(dst + SLOT_COUNT, load<u32>(dst + SLOT_COUNT) + 1);
  addScore(dst, load<f32>(delta + SLOT_SCORE));
  addU32(dst + SLOT_PRIMARY_PACKETS, load<u32>(delta + SLOT_PRIMARY_PACKETS));
  addU32(dst + SLOT_RETRANSMIT_PACKETS, load<u32>(delta + SLOT_RETRANSMIT_PACKETS));
  addU32(dst + SLOT_PADDING_PACKETS, load<u32>(delta + SLOT_PADDING_PACKETS));
  addU32(dst + SLOT_PACKETS_LOST, load<u32>(delta + SLOT_PACKETS_LOST));
  addU32(dst + SLOT_FRAMES, load<u32>(delta + SLOT_FRAMES));
  addU32(dst + SLOT_NACKS, load<u32>(delta + SLOT_NACKS));
  addU32(dst + SLOT_PLIS, load<u32>(delta + SLOT_PLIS));
  addU32(dst + SLOT_FIRS, load<u32>(delta + SLOT_FIRS));
  maxU32(dst + SLOT_RTT, load<u32>(delta + SLOT_RTT));
  maxU32(dst + SLOT_JITTER, load<u32>(delta + SLOT_JITTER));
  addU64(dst + SLOT_PRIMARY_BYTES, load<u64>(delta + SLOT_PRIMARY_BYTES));
  addU64(dst + SLOT_RETRANSMIT_BYTES, load<u64>(delta + SLOT_RETRANSMIT_BYTES));
  addU64(dst + SLOT_PADDING_BYTES, load<u64>(delta + SLOT_PADDING_BYTES));
  if (load<u32>(delta + SLOT_LAYER_PRESENT) != 0) {
    foldLayer(
      dst,
      load<i32>(delta + SLOT_LAYER),
      load<u32>(delta + SLOT_LAYER_PACKETS),
      load<u32>(delta + SLOT_LAYER_FRAMES),
      load<u64>(delta + SLOT_LAYER_BYTES),
    );
  }
}

/**
 * Adds a valid stat's score to the slot's float32 sum, rounded once (R10); livekit-current sums
 * only the positive ones (profile.ts keeps their count).
 */
// @ts-ignore: decorator
@inline function addScore(dst: usize, score: f32): void {
  if (!isCurrent() || score > 0) store<f32>(dst + SLOT_SCORE, load<f32>(dst + SLOT_SCORE) + score);
}

/** Counts an invalid stat into the slot record `dst` (R7, R10: it only moves the divisor). */
export function countInvalid(dst: usize): void {
  store<u32>(dst + SLOT_COUNT, load<u32>(dst + SLOT_COUNT) + 1);
}

/**
 * Validates the scratch record and folds it into `slot`: 1 folded, 0 invalid (count only).
 *
 * The stat is validated whole before anything is folded (R7). A slot that is not in use is
 * left alone (validate only, like decodeFold with slot -1). Counts over the scratch capacity
 * give STATUS_TOO_MANY_STREAMS / STATUS_TOO_MANY_LAYERS and fold nothing.
 */
export function foldScratch(slot: i32): i32 {
  const status = checkScratchCounts();
  if (status < 0) return status;
  const scratch = scratchPtr();
  const streamCount = load<u32>(scratch + SCRATCH_STREAM_COUNT);
  const current = isCurrent();
  const valid = isScratchValid() && (!current || scratchStreamsValid(streamCount));
  if (!isLiveSlot(slot)) return valid ? 1 : 0;
  const dst = liveSlotAddress(slot);
  const score = load<f32>(scratch + SCRATCH_SCORE);
  if (current) {
    // livekit-current: the score store and the mime need room before anything is folded
    const reserved = reserveScratch(slot, valid, score);
    if (reserved < 0) return reserved;
    foldScratchExt(slot, valid, score, streamCount);
  }
  if (!valid) {
    countInvalid(dst);
    return 0;
  }
  store<u32>(dst + SLOT_COUNT, load<u32>(dst + SLOT_COUNT) + 1);
  addScore(dst, score);
  let stream = scratch + SCRATCH_STREAMS;
  for (let i: u32 = 0; i < streamCount; i++, stream += STREAM_SIZE) foldStream(dst, stream);
  const layerCount = load<u32>(scratch + SCRATCH_LAYER_COUNT);
  let layer = scratch + SCRATCH_LAYERS;
  for (let i: u32 = 0; i < layerCount; i++, layer += LAYER_SIZE) {
    foldLayer(
      dst,
      load<i32>(layer + LAYER_LAYER),
      load<u32>(layer + LAYER_PACKETS),
      load<u32>(layer + LAYER_FRAMES),
      load<u64>(layer + LAYER_BYTES),
    );
  }
  return 1;
}
