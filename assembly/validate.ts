// Validity of one stat (R7), over stream and layer records in the scratch layout.
//
// Port of isValid in statsworker.go (livekit/livekit 29039b4e): a stat is invalid when any
// stream has a u32 counter >= 2^31 or a u64 counter >= 2^63, or any layer has packets or frames
// >= 2^31 or bytes >= 2^63. rtt, jitter, ssrc, layer and score are not checked.

import {
  LAYER_BYTES, LAYER_FRAMES, LAYER_PACKETS, LAYER_SIZE, MAX_STREAMS_PER_STAT, SCRATCH_LAYERS,
  SCRATCH_LAYER_COUNT, SCRATCH_MAX_LAYERS, SCRATCH_STREAMS, SCRATCH_STREAM_COUNT,
  STATUS_TOO_MANY_LAYERS, STATUS_TOO_MANY_STREAMS, STREAM_FIRS, STREAM_FRAMES, STREAM_NACKS,
  STREAM_PACKETS_LOST, STREAM_PADDING_BYTES, STREAM_PADDING_PACKETS, STREAM_PLIS,
  STREAM_PRIMARY_BYTES, STREAM_PRIMARY_PACKETS, STREAM_RETRANSMIT_BYTES,
  STREAM_RETRANSMIT_PACKETS, STREAM_SIZE,
} from "./layout";
import { scratchPtr } from "./input";
import { isCurrent, scratchStreamsValid } from "./profile";

/**
 * Reports whether counters whose bits are OR-ed into `u32Bits` (u32 counters) and `u64Bits`
 * (u64 counters) pass R7.
 */
// @ts-ignore: decorator
@inline export function areCountersValid(u32Bits: u32, u64Bits: u64): bool {
  // Go parity (R7): the checks are `>= 2^31` / `>= 2^63`, i.e. the top bit of each counter.
  return (u32Bits >> 31) == 0 && (u64Bits >> 63) == 0;
}

/** Reports whether the stream record at `streamPtr` passes R7 (its own counters only). */
// @ts-ignore: decorator
@inline export function isStreamValid(streamPtr: usize): bool {
  const u32Bits =
    load<u32>(streamPtr + STREAM_PRIMARY_PACKETS) |
    load<u32>(streamPtr + STREAM_RETRANSMIT_PACKETS) |
    load<u32>(streamPtr + STREAM_PADDING_PACKETS) |
    load<u32>(streamPtr + STREAM_PACKETS_LOST) |
    load<u32>(streamPtr + STREAM_FRAMES) |
    load<u32>(streamPtr + STREAM_NACKS) |
    load<u32>(streamPtr + STREAM_PLIS) |
    load<u32>(streamPtr + STREAM_FIRS);
  const u64Bits =
    load<u64>(streamPtr + STREAM_PRIMARY_BYTES) |
    load<u64>(streamPtr + STREAM_RETRANSMIT_BYTES) |
    load<u64>(streamPtr + STREAM_PADDING_BYTES);
  return areCountersValid(u32Bits, u64Bits);
}

/** Reports whether the layer record at `layerPtr` passes R7. */
// @ts-ignore: decorator
@inline export function isLayerValid(layerPtr: usize): bool {
  return areCountersValid(load<u32>(layerPtr + LAYER_PACKETS) | load<u32>(layerPtr + LAYER_FRAMES), load<u64>(layerPtr + LAYER_BYTES));
}

/**
 * Checks the scratch header counts against the scratch capacity.
 *
 * 0 when they fit, else STATUS_TOO_MANY_STREAMS or STATUS_TOO_MANY_LAYERS; the host guarantees
 * the counts, this keeps a broken host from reading past the scratch region.
 */
export function checkScratchCounts(): i32 {
  const scratch = scratchPtr();
  if (load<u32>(scratch + SCRATCH_STREAM_COUNT) > MAX_STREAMS_PER_STAT) return STATUS_TOO_MANY_STREAMS;
  if (load<u32>(scratch + SCRATCH_LAYER_COUNT) > SCRATCH_MAX_LAYERS) return STATUS_TOO_MANY_LAYERS;
  return 0;
}

/** Reports whether the stat in the scratch record passes R7; call after checkScratchCounts(). */
export function isScratchValid(): bool {
  const scratch = scratchPtr();
  const streamCount = load<u32>(scratch + SCRATCH_STREAM_COUNT);
  const layerCount = load<u32>(scratch + SCRATCH_LAYER_COUNT);
  let stream = scratch + SCRATCH_STREAMS;
  for (let i: u32 = 0; i < streamCount; i++, stream += STREAM_SIZE) {
    if (!isStreamValid(stream)) return false;
  }
  let layer = scratch + SCRATCH_LAYERS;
  for (let i: u32 = 0; i < layerCount; i++, layer += LAYER_SIZE) {
    if (!isLayerValid(layer)) return false;
  }
  return true;
}

/**
 * Validates the scratch record (R7): 1 valid, 0 invalid.
 *
 * Counts over the scratch capacity give STATUS_TOO_MANY_STREAMS / STATUS_TOO_MANY_LAYERS.
 */
export function validateScratch(): i32 {
  const status = checkScratchCounts();
  if (status < 0) return status;
  // livekit-current also checks packets_out_of_order
  if (isCurrent() && !scratchStreamsValid(load<u32>(scratchPtr() + SCRATCH_STREAM_COUNT))) return 0;
  return isScratchValid() ? 1 : 0;
}
