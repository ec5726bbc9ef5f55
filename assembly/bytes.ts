// Small fixed-size zeroing and copying without bulk-memory instructions.
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
