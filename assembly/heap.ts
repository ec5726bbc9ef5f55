// Variable-size blocks that can be freed: id bytes (track, room, participant), hash tables and
// the output buffer. Segregated free lists by power-of-two size class over memory.ts's bump
// allocator, so a block freed by one track is reused by the next of the same class and memory
// stays bounded by the peak, never by the history.

import { rawAlloc } from "./memory";

// @ts-ignore: decorator
@inline const MIN_CLASS: u32 = 4; // 16 bytes
// @ts-ignore: decorator
@inline const MAX_CLASS: u32 = 30; // 1 GiB, the memory limit

// ┌──────────────────────────┬─────────────────────────────────────────┐
// │ class u32 │ reserved (12)│ payload (2^class - 16 bytes) ...        │
// └──────────────────────────┴─────────────────────────────────────────┘
// 0           4              16 = the address handed out
// @ts-ignore: decorator
@inline const HEADER: usize = 16;

/** free list heads per class: address of the first free block's header, 0 when empty */
const FREE: usize = memory.data(<i32>((MAX_CLASS + 1) << 2), 16);

function classOf(bytes: u64): u32 {
  const total = bytes + HEADER;
  let cls = MIN_CLASS;
  while (cls <= MAX_CLASS && (<u64>1 << cls) < total) cls++;
  return cls;
}

/** Allocates at least `bytes` bytes (16-aligned, contents undefined); 0 when memory is exhausted. */
export function blockAlloc(bytes: u64): usize {
  const cls = classOf(bytes);
  if (cls > MAX_CLASS) return 0;
  const head = FREE + (<usize>cls << 2);
  let block = load<usize>(head);
  if (block != 0) {
    // a free block keeps the next free block's address in its reserved word
    store<usize>(head, load<usize>(block + 4));
  } else {
    block = rawAlloc(<u64>1 << cls);
    if (block == 0) return 0;
  }
  store<u32>(block, cls);
  return block + HEADER;
}

/** Gives a block from blockAlloc back; 0 is ignored. */
export function blockFree(ptr: usize): void {
  if (ptr == 0) return;
  const block = ptr - HEADER;
  const head = FREE + (<usize>load<u32>(block) << 2);
  store<usize>(block + 4, load<usize>(head));
  store<usize>(head, block);
}

/** Usable bytes of a block from blockAlloc. */
export function blockCapacity(ptr: usize): u64 {
  return (<u64>1 << load<u32>(ptr - HEADER)) - HEADER;
}
