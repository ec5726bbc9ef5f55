// Slot table: the running fold of each (worker, direction, track) lives in a 96-byte slot.
//
// Slots never move once allocated (the host keeps their addresses), so they come in blocks of
// SLOTS_PER_BLOCK (from the heap, never freed), found through a fixed block directory. A freed slot goes
// on a free list threaded through its own first word; a bitmap at the end of each block marks the
// slots in use so that a double free or a stale index cannot corrupt the list.

import { META_NEXT, META_PREV, META_SIZE, META_WORKER, SLOT_SIZE } from "./layout";
import { blockAlloc } from "./heap";
import { zero8 } from "./bytes";
import { releaseExt } from "./profile";

// @ts-ignore: decorator
@inline const SLOTS_PER_BLOCK_LOG2: u32 = 10;
// @ts-ignore: decorator
@inline const SLOTS_PER_BLOCK: u32 = 1 << SLOTS_PER_BLOCK_LOG2;
// @ts-ignore: decorator
@inline const BITMAP_BYTES: usize = SLOTS_PER_BLOCK >> 3;

// ╒═══════════════ Slot block (139 392 bytes, 16-aligned) ═══════════════╕
// ┌───────────────────────────────────────────────────────────┐
// │ meta 0 (META_SIZE bytes) │ slot 0 (SLOT_SIZE bytes)       │ 0
// │ ...                                                       │
// │ meta 1023                │ slot 1023                      │ 1023 * RECORD_SIZE
// ├───────────────────────────────────────────────────────────┤
// │ in-use bitmap, bit i of byte j = slot 8j + i              │ BLOCK_BITMAP
// └───────────────────────────────────────────────────────────┘ BLOCK_BYTES
//
// Each meta record is the META record of layout.ts (owner, bucket, track id, list links). It sits
// right before its slot: a batch reads a slot's meta (to match the track id) and then folds into
// the slot, and when a batch's messages come from many participants each of those is a cache
// miss; side by side they are one, or two adjacent lines.

// @ts-ignore: decorator
@inline const RECORD_SIZE: usize = META_SIZE + SLOT_SIZE;
// @ts-ignore: decorator
@inline const BLOCK_BITMAP: usize = <usize>SLOTS_PER_BLOCK * RECORD_SIZE;
// @ts-ignore: decorator
@inline const BLOCK_BYTES: usize = BLOCK_BITMAP + BITMAP_BYTES;

// Enough blocks to fill 1 GiB of memory (maximumMemory in asconfig.json); beyond it allocSlot
// reports exhaustion like a failed memory.grow.
// @ts-ignore: decorator
@inline const MAX_BLOCKS: u32 = 11008;

const DIRECTORY: usize = memory.data(<i32>(MAX_BLOCKS << 2), 16);

let blockCount: u32 = 0;
/** slots ever handed out from the blocks; indices below it exist in memory */
let slotHigh: u32 = 0;
/** head of the free list as index + 1; 0 when empty */
let freeHead: u32 = 0;
let liveCount: u32 = 0;

// @ts-ignore: decorator
@inline function addressOf(slot: u32): usize {
  const block = load<usize>(DIRECTORY + (<usize>(slot >> SLOTS_PER_BLOCK_LOG2) << 2));
  return block + <usize>(slot & (SLOTS_PER_BLOCK - 1)) * RECORD_SIZE + META_SIZE;
}

// @ts-ignore: decorator
@inline function bitmapByte(slot: u32): usize {
  const block = load<usize>(DIRECTORY + (<usize>(slot >> SLOTS_PER_BLOCK_LOG2) << 2));
  return block + BLOCK_BITMAP + <usize>((slot & (SLOTS_PER_BLOCK - 1)) >> 3);
}

/** Address of a slot's meta record (ownership); call only for an index below slotHigh. */
export function metaAddress(slot: u32): usize {
  const block = load<usize>(DIRECTORY + (<usize>(slot >> SLOTS_PER_BLOCK_LOG2) << 2));
  return block + <usize>(slot & (SLOTS_PER_BLOCK - 1)) * RECORD_SIZE;
}

/** Reports whether `slot` is allocated (in use). */
export function isLiveSlot(slot: i32): bool {
  if (slot < 0 || <u32>slot >= slotHigh) return false;
  return ((<u32>load<u8>(bitmapByte(<u32>slot)) >> (<u32>slot & 7)) & 1) != 0;
}

/** Address of a live slot's record; call only after isLiveSlot(slot). */
export function liveSlotAddress(slot: i32): usize {
  return addressOf(<u32>slot);
}

/**
 * Takes a zeroed slot and returns its index; -1 when memory is exhausted (never traps).
 *
 * Freed slots are reused first (most recently freed first).
 */
export function allocSlot(): i32 {
  let slot: u32;
  if (freeHead != 0) {
    slot = freeHead - 1;
    freeHead = load<u32>(addressOf(slot));
  } else {
    if (slotHigh == blockCount << SLOTS_PER_BLOCK_LOG2) {
      if (blockCount == MAX_BLOCKS) return -1;
      const block = blockAlloc(<u64>BLOCK_BYTES);
      if (block == 0) return -1;
      // every slot starts free; slot and meta records are zeroed as they are handed out
      memory.fill(block + BLOCK_BITMAP, 0, BITMAP_BYTES);
      store<usize>(DIRECTORY + (<usize>blockCount << 2), block);
      blockCount++;
    }
    slot = slotHigh++;
  }
  zero8(addressOf(slot), SLOT_SIZE);
  const meta = metaAddress(slot);
  zero8(meta, META_SIZE);
  store<i32>(meta + META_WORKER, -1);
  store<i32>(meta + META_NEXT, -1);
  store<i32>(meta + META_PREV, -1);
  const bits = bitmapByte(slot);
  store<u8>(bits, <u8>(<u32>load<u8>(bits) | (1 << (slot & 7))));
  liveCount++;
  return <i32>slot;
}

/** Returns a slot to the free list; ignores an index that is not in use. */
export function freeSlot(slot: i32): void {
  if (!isLiveSlot(slot)) return;
  // livekit-current: the slot's score and mime buffers go back to the heap with it
  releaseExt(slot);
  const index = <u32>slot;
  const bits = bitmapByte(index);
  store<u8>(bits, <u8>(<u32>load<u8>(bits) & ~(<u32>1 << (index & 7))));
  store<u32>(addressOf(index), freeHead);
  freeHead = index + 1;
  liveCount--;
}

/** Address of slot `slot`'s record (it never moves); 0 when the slot is not in use. */
export function slotPtr(slot: i32): usize {
  return isLiveSlot(slot) ? addressOf(<u32>slot) : 0;
}

/** Zeroes slot `slot` (the start of a new window); ignores an index that is not in use. */
export function resetSlot(slot: i32): void {
  if (isLiveSlot(slot)) zero8(addressOf(<u32>slot), SLOT_SIZE);
}

/** Number of slots currently allocated (in use). */
export function slotCount(): i32 {
  return <i32>liveCount;
}
