// The engine's one general heap: id bytes, hash tables, slot blocks, the worker array and the
// input and output buffers all come from here, and every freed block goes back to one pool.
//
// Boundary tags with immediate coalescing: a freed block merges with a free neighbour on either
// side, so memory freed by any size (a 600 KB id) serves any other (many short ids). Free blocks
// sit on segregated lists by size class (floor(log2(size))), found through a bitmap of non-empty
// classes; a block larger than asked for is split. The heap is one arena at the top of memory
// that grows in place through memory.ts (nothing else allocates from memory.ts).

import { allocTop, rawAlloc, rawExtend } from "./memory";

/**
 * The header in front of every block (16 bytes, so payloads stay 16-aligned).
 *
 *  0 ┌──────────────────────────────┬──────────────┬──────────────┬──────────┐
 *    │ size u32 | PREV_FREE | FREE  │ nextFree u32 │ prevFree u32 │ (unused) │
 * 16 └──────────────────────────────┴──────────────┴──────────────┴──────────┘
 *
 * size counts the header and is a multiple of 16, so its low bits carry the flags; the free-list
 * links are meaningful only while the block is free, and a free block also keeps its size in its
 * last 4 bytes (the footer) for the block after it to find its start. The arena ends in a
 * sentinel: a header of size 0 that is never free.
 */
@unmanaged class Block {
  sizeFlags: u32;
  nextFree: u32;
  prevFree: u32;
  unused: u32;
}

// @ts-ignore: decorator
@inline const HEADER: usize = 16;
// @ts-ignore: decorator
@inline const MIN_BLOCK: u32 = 32;
// @ts-ignore: decorator
@inline const FREE: u32 = 1;
// @ts-ignore: decorator
@inline const PREV_FREE: u32 = 2;
// @ts-ignore: decorator
@inline const SIZE_MASK: u32 = ~15;
/** classes 5 (32 bytes) to 30 (1 GiB, the memory limit) */
// @ts-ignore: decorator
@inline const CLASSES: u32 = 31;
/** the least the arena grows by, so that small allocations do not grow memory one by one */
// @ts-ignore: decorator
@inline const MIN_GROWTH: u64 = 64 << 10;

/** free list heads by class, block addresses, 0 when empty */
const HEADS: usize = memory.data(<i32>(CLASSES << 2), 16);
/** bit c set: class c's list is not empty */
let nonEmpty: u32 = 0;
/** the arena: its start and its sentinel's address, 0 before the first allocation */
let arenaStart: usize = 0;
let sentinel: usize = 0;
/** bytes in free blocks, headers included */
let freeBytes: u64 = 0;
/** most bytes the arena may span (setHeapLimit); memory's own limit when 0 */
let heapLimit: u64 = 0;

/**
 * Bounds the heap to `bytes` (0: only memory's 1 GiB limit): an allocation that would grow the
 * arena past it fails like exhausted memory. A bound below what the heap spans already stops
 * its growth there.
 */
export function setHeapLimit(bytes: u32): void {
  heapLimit = <u64>bytes;
}

// @ts-ignore: decorator
@inline function blockAt(address: usize): Block {
  return changetype<Block>(address);
}

// @ts-ignore: decorator
@inline function sizeOf(b: Block): u32 {
  return b.sizeFlags & SIZE_MASK;
}

// @ts-ignore: decorator
@inline function classOf(size: u32): u32 {
  return 31 - clz<u32>(size);
}

function link(b: Block): void {
  const cls = classOf(sizeOf(b));
  const head = HEADS + (<usize>cls << 2);
  const first = load<u32>(head);
  b.nextFree = first;
  b.prevFree = 0;
  if (first != 0) blockAt(first).prevFree = <u32>changetype<usize>(b);
  store<u32>(head, <u32>changetype<usize>(b));
  nonEmpty |= 1 << cls;
}

function unlink(b: Block): void {
  const cls = classOf(sizeOf(b));
  const next = b.nextFree;
  const prev = b.prevFree;
  if (prev != 0) blockAt(prev).nextFree = next;
  else {
    store<u32>(HEADS + (<usize>cls << 2), next);
    if (next == 0) nonEmpty &= ~(1 << cls);
  }
  if (next != 0) blockAt(next).prevFree = prev;
}

/** Marks `[address, address + size)` a free block (its successor learns it), on its list. */
function makeFree(address: usize, size: u32, flags: u32): void {
  const b = blockAt(address);
  b.sizeFlags = size | FREE | (flags & PREV_FREE);
  store<u32>(address + size - 4, size);
  const next = blockAt(address + size);
  next.sizeFlags |= PREV_FREE;
  link(b);
  freeBytes += size;
}

/** Grows the arena by at least `bytes`; the new space is one free block (merged). False: no memory. */
function grow(bytes: u64): bool {
  let add = bytes > MIN_GROWTH ? bytes : MIN_GROWTH;
  add = (add + 15) & ~(<u64>15);
  if (heapLimit != 0) {
    const spans: u64 = arenaStart == 0 ? 0 : <u64>(sentinel - arenaStart) + HEADER;
    // the least growth that serves the request, when the usual step would pass the bound
    if (spans + add > heapLimit) add = (bytes + 15) & ~(<u64>15);
    if (spans + add > heapLimit) return false;
  }
  if (arenaStart == 0 || sentinel + HEADER != allocTop()) {
    // the first arena (memory.ts hands out nothing else, so this happens once)
    const start = rawAlloc(add + HEADER);
    if (start == 0) return false;
    arenaStart = start;
    sentinel = start + <usize>add;
    blockAt(sentinel).sizeFlags = 0;
    makeFree(start, <u32>add, 0);
    return true;
  }
  if (<u64>sentinel + add + HEADER > 0xffff_ffff) return false;
  if (!rawExtend(arenaStart, <u64>(sentinel - arenaStart) + add + HEADER)) return false;
  // the old sentinel becomes the new space's header, merged with a free block before it
  const old = sentinel;
  const flags = blockAt(old).sizeFlags;
  sentinel = old + <usize>add;
  blockAt(sentinel).sizeFlags = 0;
  if ((flags & PREV_FREE) != 0) {
    const prevSize = load<u32>(old - 4);
    const prev = blockAt(old - prevSize);
    unlink(prev);
    freeBytes -= prevSize;
    makeFree(old - prevSize, prevSize + <u32>add, prev.sizeFlags);
  } else {
    makeFree(old, <u32>add, flags);
  }
  return true;
}

/** A free block of at least `size` bytes, unlinked; 0 when none. */
function take(size: u32): usize {
  let cls = classOf(size);
  // within the size's own class, the first block that fits (a short scan)
  let b = load<u32>(HEADS + (<usize>cls << 2));
  for (let n = 0; b != 0 && n < 8; n++, b = blockAt(b).nextFree) {
    if (sizeOf(blockAt(b)) >= size) {
      unlink(blockAt(b));
      return b;
    }
  }
  // any block of a higher class is large enough
  const higher = cls + 1 < 32 ? nonEmpty & ~((<u32>2 << cls) - 1) : 0;
  if (higher == 0) return 0;
  cls = ctz<u32>(higher);
  b = load<u32>(HEADS + (<usize>cls << 2));
  unlink(blockAt(b));
  return b;
}

/** Allocates at least `bytes` bytes (16-aligned, contents undefined); 0 when memory is exhausted. */
export function blockAlloc(bytes: u64): usize {
  if (bytes > (1 << 30)) return 0;
  let size = <u32>((bytes + HEADER + 15) & ~(<u64>15));
  if (size < MIN_BLOCK) size = MIN_BLOCK;
  let at = take(size);
  if (at == 0) {
    if (!grow(size)) return 0;
    at = take(size);
    if (at == 0) return 0;
  }
  const b = blockAt(at);
  const have = sizeOf(b);
  freeBytes -= have;
  const prevFlag = b.sizeFlags & PREV_FREE;
  if (have - size >= MIN_BLOCK) {
    b.sizeFlags = size | prevFlag;
    makeFree(at + size, have - size, 0);
  } else {
    b.sizeFlags = have | prevFlag;
    blockAt(at + have).sizeFlags &= ~PREV_FREE;
  }
  return at + HEADER;
}

/** Gives a block from blockAlloc back, merged with free neighbours; 0 is ignored. */
export function blockFree(ptr: usize): void {
  if (ptr == 0) return;
  let at = ptr - HEADER;
  const b = blockAt(at);
  let size = sizeOf(b);
  let flags = b.sizeFlags;
  const next = blockAt(at + size);
  if ((next.sizeFlags & FREE) != 0) {
    const nextSize = sizeOf(next);
    unlink(next);
    freeBytes -= nextSize;
    size += nextSize;
  }
  if ((flags & PREV_FREE) != 0) {
    const prevSize = load<u32>(at - 4);
    const prev = blockAt(at - prevSize);
    unlink(prev);
    freeBytes -= prevSize;
    at -= prevSize;
    size += prevSize;
    flags = prev.sizeFlags;
  }
  makeFree(at, size, flags);
}

/** Usable bytes of a block from blockAlloc. */
export function blockCapacity(ptr: usize): u64 {
  return <u64>(sizeOf(blockAt(ptr - HEADER)) - <u32>HEADER);
}

/** Bytes in free blocks (headers included): memory the heap holds for any size to reuse. */
export function heapFreeBytes(): f64 {
  return <f64>freeBytes;
}
