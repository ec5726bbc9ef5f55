// Bump allocation straight from memory.grow, for the heap's arena (heap.ts) and nothing else.
//
// The runtime's own allocator (stub) traps when memory cannot grow; the engine must report that
// to the host instead, so the heap grows through rawAlloc()/rawExtend(), which return 0/false.

// @ts-ignore: decorator
@inline const ALIGN_MASK: usize = 15;

let heapTop: usize = (__heap_base + ALIGN_MASK) & ~ALIGN_MASK;

/** Address one past the last allocated byte; the next allocation starts here (16-aligned). */
export function allocTop(): usize {
  return heapTop;
}

/**
 * Makes `[heapTop, end)` addressable, growing memory when needed.
 *
 * `end` is a 64-bit byte address so that a request near 4 GiB cannot wrap; false when memory
 * cannot grow that far (nothing changes then).
 */
export function ensureMemory(end: u64): bool {
  const have = <u64>memory.size() << 16;
  if (end <= have) return true;
  const pages = (end - have + 0xffff) >> 16;
  if (pages > 0xffff) return false;
  return memory.grow(<i32>pages) >= 0;
}

/** Allocates `bytes` (rounded up to 16) zero-initialised bytes; 0 when memory is exhausted. */
export function rawAlloc(bytes: u64): usize {
  const start = heapTop;
  const end = (<u64>start + bytes + ALIGN_MASK) & ~(<u64>ALIGN_MASK);
  if (!ensureMemory(end)) return 0;
  heapTop = <usize>end;
  return start;
}

/**
 * Extends the allocation `[ptr, heapTop)` in place to `bytes`; false when it is not the last
 * allocation or memory is exhausted.
 */
export function rawExtend(ptr: usize, bytes: u64): bool {
  const end = (<u64>ptr + bytes + ALIGN_MASK) & ~(<u64>ALIGN_MASK);
  if (end <= <u64>heapTop) return true;
  if (!ensureMemory(end)) return false;
  heapTop = <usize>end;
  return true;
}
