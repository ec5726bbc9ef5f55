// Small zeroing, copying and comparing without bulk-memory instructions.
//
// V8 runs memory.fill and memory.copy out of line (a call into the runtime per instruction),
// which costs more than the few stores a 24-96 byte record needs. These helpers are for the hot
// path; bulk operations on large or variable regions keep using memory.fill/memory.copy.

/** Zeroes `bytes` bytes at `ptr`; both 8-aligned, `bytes` a small constant. */
// @ts-ignore: decorator
@inline export function zero8(ptr: usize, bytes: usize): void {
  for (let i: usize = 0; i < bytes; i += 8) store<u64>(ptr + i, 0);
}

/** Copies `bytes` (small, any alignment) from `src` to `dst`, which must not overlap. */
export function copySmall(dst: usize, src: usize, bytes: usize): void {
  let i: usize = 0;
  for (; i + 8 <= bytes; i += 8) store<u64>(dst + i, load<u64>(src + i));
  for (; i < bytes; i++) store<u8>(dst + i, load<u8>(src + i));
}

/**
 * Whether `bytes` bytes at `a` and `b` are equal. Ids sit at any alignment, where memory.compare
 * goes byte by byte.
 */
export function bytesEqual(a: usize, b: usize, bytes: u32): bool {
  // 8 bytes a load (wasm loads need no alignment), the last load overlapping the one before; no
  // load leaves [0, bytes) of either side
  const n = <usize>bytes;
  if (n >= 8) {
    const last = n - 8;
    for (let i: usize = 0; i < last; i += 8) {
      if (load<u64>(a + i) != load<u64>(b + i)) return false;
    }
    return load<u64>(a + last) == load<u64>(b + last);
  }
  if (n >= 4) return load<u32>(a) == load<u32>(b) && load<u32>(a + n - 4) == load<u32>(b + n - 4);
  for (let i: usize = 0; i < n; i++) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
  }
  return true;
}
