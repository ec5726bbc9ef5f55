// Fixed regions the host writes into: the input buffer, the scratch record and the info record.

import { SCRATCH_SIZE, INFO_SIZE } from "./layout";
import { allocTop, rawAlloc, rawExtend } from "./memory";

// @ts-ignore: decorator
@inline const MIN_INPUT_BYTES: u64 = 4096;

const SCRATCH: usize = memory.data(<i32>SCRATCH_SIZE, 16);
const INFO: usize = memory.data(<i32>INFO_SIZE, 16);

let inputBase: usize = 0;
let inputCapacity: u64 = 0;

/** Address of the object-path scratch record (SCRATCH in src/engine/wasm/abi.ts); fixed for the instance. */
export function scratchPtr(): usize {
  return SCRATCH;
}

/** Address of the decode info record (INFO in src/engine/wasm/abi.ts); fixed for the instance. */
export function infoPtr(): usize {
  return INFO;
}

/**
 * Grows the input buffer to at least `bytes` and returns its address; 0 when memory is exhausted.
 *
 * The buffer keeps its contents when it moves. It grows in place while it is the last allocation,
 * otherwise it moves to a new region of twice the size (the old one is abandoned: buffers grow
 * rarely and never shrink).
 */
export function inputPtr(bytes: u32): usize {
  const want = align16(<u64>bytes);
  if (inputBase != 0 && want <= inputCapacity) return inputBase;
  let capacity = inputCapacity << 1;
  if (capacity < want) capacity = want;
  if (capacity < MIN_INPUT_BYTES) capacity = MIN_INPUT_BYTES;
  // capacities stay 16-aligned, so a buffer that is the last allocation ends exactly at the top
  if (inputBase != 0 && <u64>inputBase + inputCapacity == <u64>allocTop()) {
    if (rawExtend(inputBase, capacity)) {
      inputCapacity = capacity;
      return inputBase;
    }
    if (rawExtend(inputBase, want)) {
      inputCapacity = want;
      return inputBase;
    }
    return 0;
  }
  let ptr = rawAlloc(capacity);
  if (ptr == 0) {
    capacity = want < MIN_INPUT_BYTES ? MIN_INPUT_BYTES : want;
    ptr = rawAlloc(capacity);
    if (ptr == 0) return 0;
  }
  if (inputBase != 0) memory.copy(ptr, inputBase, <usize>inputCapacity);
  inputBase = ptr;
  inputCapacity = capacity;
  return ptr;
}

// @ts-ignore: decorator
@inline function align16(bytes: u64): u64 {
  return (bytes + 15) & ~(<u64>15);
}
