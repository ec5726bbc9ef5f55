// Fixed regions the host writes into: the input buffer, the scratch record and the info record.

import { SCRATCH_SIZE, INFO_SIZE } from "./layout";
import { blockAlloc, blockCapacity, blockFree } from "./heap";

// @ts-ignore: decorator
@inline const MIN_INPUT_BYTES: u64 = 4096;
/** an input buffer larger than this goes back to the heap on trimBuffers() */
// @ts-ignore: decorator
@inline export const KEEP_BUFFER_BYTES: u64 = 64 << 10;

const SCRATCH: usize = memory.data(<i32>SCRATCH_SIZE, 16);
const INFO: usize = memory.data(<i32>INFO_SIZE, 16);

let inputBase: usize = 0;

/** Address of the object-path scratch record (SCRATCH in layout.ts); fixed for the instance. */
export function scratchPtr(): usize {
  return SCRATCH;
}

/** Address of the decode info record (INFO in layout.ts); fixed for the instance. */
export function infoPtr(): usize {
  return INFO;
}

/**
 * Grows the input buffer to at least `bytes` and returns its address; 0 when memory is exhausted.
 *
 * The buffer keeps its contents when it moves, and it moves only to grow (to twice its size, or
 * to `bytes` when that is more) or after trimBuffers(): the host may keep its address until then.
 */
export function inputPtr(bytes: u32): usize {
  const want = <u64>bytes;
  const capacity: u64 = inputBase == 0 ? 0 : blockCapacity(inputBase);
  if (inputBase != 0 && want <= capacity) return inputBase;
  let size = capacity << 1;
  if (size < want) size = want;
  if (size < MIN_INPUT_BYTES) size = MIN_INPUT_BYTES;
  let ptr = blockAlloc(size);
  if (ptr == 0 && size > want) ptr = blockAlloc(want < MIN_INPUT_BYTES ? MIN_INPUT_BYTES : want);
  if (ptr == 0) return 0;
  if (inputBase != 0) {
    memory.copy(ptr, inputBase, <usize>capacity);
    blockFree(inputBase);
  }
  inputBase = ptr;
  return ptr;
}

/**
 * Gives an input buffer that grew past KEEP_BUFFER_BYTES (64 KiB) back to the heap; the next
 * inputPtr() allocates a new one, at a new address, so the host must forget the old one.
 */
export function trimInput(): void {
  if (inputBase != 0 && blockCapacity(inputBase) > KEEP_BUFFER_BYTES) {
    blockFree(inputBase);
    inputBase = 0;
  }
}
