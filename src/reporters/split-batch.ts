/**
 * Cutting one encoded `AnalyticsStats` into smaller ones at stat boundaries, without decoding.
 *
 * @module
 */

/**
 * Splits one encoded `AnalyticsStats` message into consecutive pieces of at most `maxBytes`
 * bytes, cut between top-level fields (between stats), each piece itself a valid
 * `AnalyticsStats`. A single field larger than `maxBytes` is a piece by itself. The pieces are
 * views of `bytes`, not copies. Bytes that do not walk as protobuf fields (or hold a group) are
 * returned whole, as one piece: splitting is an optimisation, never a reason to lose a batch.
 *
 * @param bytes one encoded `AnalyticsStats`
 * @param maxBytes the largest piece wanted, in bytes (at least 1)
 */
export function splitBatch(bytes: Uint8Array, maxBytes: number): Uint8Array[] {
  if (bytes.length <= maxBytes) return [bytes];
  const pieces: Uint8Array[] = [];
  let start = 0;
  let pos = 0;
  while (pos < bytes.length) {
    const end = fieldEnd(bytes, pos);
    if (end < 0) return [bytes];
    // Cut before this field when it would make the current piece too large.
    if (end - start > maxBytes && pos > start) {
      pieces.push(bytes.subarray(start, pos));
      start = pos;
    }
    pos = end;
  }
  pieces.push(bytes.subarray(start, pos));
  return pieces;
}

// The offset just past the field starting at `pos`, or -1 when it does not walk (truncated, a
// bad wire type, a group).
function fieldEnd(bytes: Uint8Array, pos: number): number {
  const tag = varint(bytes, pos);
  if (tag === undefined) return -1;
  const [key, afterTag] = tag;
  switch (key % 8) {
    case 0: {
      const v = varint(bytes, afterTag);
      return v === undefined ? -1 : v[1];
    }
    case 1:
      return afterTag + 8 <= bytes.length ? afterTag + 8 : -1;
    case 2: {
      const len = varint(bytes, afterTag);
      if (len === undefined) return -1;
      const end = len[1] + len[0];
      return end <= bytes.length ? end : -1;
    }
    case 5:
      return afterTag + 4 <= bytes.length ? afterTag + 4 : -1;
    default:
      return -1;
  }
}

// A varint's value (exact below 2^53, which covers every length and tag that fits in memory)
// and the offset after it.
function varint(bytes: Uint8Array, pos: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= bytes.length) return undefined;
    const b = bytes[pos + i]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, pos + i + 1];
  }
  return undefined;
}
