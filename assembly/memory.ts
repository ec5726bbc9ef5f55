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
  const size = <u64>memory.size();
  const have = size << 16;
  if (end <= have) return true;
  const pages = (end - have + 0xffff) >> 16;
  if (pages > 0xffff) return false;
  // Grow by at least an eighth of the memory (1 MiB at least): every grow is reported to the JS
  // engine as new external memory, and growing page by page made V8 run a full GC at almost every
  // grow once the heap was large (joins 50x slower past 2^18 workers). Near the maximum, the
  // exact request still succeeds.
  const step = max<u64>(pages, max<u64>(size >> 3, 16));
  if (step > pages && memory.grow(<i32>min<u64>(step, 0xffff)) >= 0) return true;
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
