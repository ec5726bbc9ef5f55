// The protobuf wire reader: a cursor over one input, varints, tags, skipping unknown fields,
// strings (strict UTF-8), floats and nested-message bounds. It knows no message; decode.ts is the
// AnalyticsStat decoder built on it (as protobuf-es keeps BinaryReader apart from readMessage).
//
// Acceptance mirrors protobuf-es 2.17 (wire/binary-encoding.js, wire/varint.js) byte for byte,
// with one deliberate difference: an unknown-field varint longer than 10 bytes is malformed
// (see skipField). The cursor lives in globals: every read is a global load, and an error is
// recorded once (the first) for the decoder to check after each field.

import {
  STATUS_BAD_GROUP, STATUS_BAD_TAG, STATUS_BAD_UTF8, STATUS_BAD_VARINT, STATUS_TOO_DEEP,
  STATUS_TRUNCATED,
} from "./layout";

// Wire types (protobuf encoding spec).
// @ts-ignore: decorator
@inline export const WT_VARINT: u32 = 0;
// @ts-ignore: decorator
@inline export const WT_BIT64: u32 = 1;
// @ts-ignore: decorator
@inline export const WT_LENGTH_DELIMITED: u32 = 2;
// @ts-ignore: decorator
@inline export const WT_START_GROUP: u32 = 3;
// @ts-ignore: decorator
@inline export const WT_END_GROUP: u32 = 4;
// @ts-ignore: decorator
@inline export const WT_BIT32: u32 = 5;

/** protobuf-es `recursionLimit` default; a message at depth d skips groups with 100 - d. */
// @ts-ignore: decorator
@inline export const RECURSION_LIMIT: i32 = 100;

/** The tag of field `field` with wire type `wireType`. */
// @ts-ignore: decorator
@inline export function tagOf(field: u32, wireType: u32): u32 {
  return (field << 3) | wireType;
}

/** absolute address of the message start */
export let base: usize = 0;
/** absolute address one past the input; no read may reach it */
export let limit: usize = 0;
/** absolute address of the next byte to read; always <= limit */
export let pos: usize = 0;
/** first error (a negative STATUS), 0 while reading goes well */
export let failure: i32 = 0;
export let failureAt: usize = 0;
/** the first unknown-field varint longer than 10 bytes, 0 if none */
export let overlongAt: usize = 0;
/** the last string read, absolute */
export let stringPtr: usize = 0;
export let stringBytes: u32 = 0;

/** Starts reading `[ptr, ptr + bytes)` with no error recorded. */
export function begin(ptr: usize, bytes: u32): void {
  base = ptr;
  pos = ptr;
  limit = ptr + <usize>bytes;
  failure = 0;
  failureAt = 0;
  overlongAt = 0;
}

// @ts-ignore: decorator
@inline function fail(status: i32, at: usize): void {
  failure = status;
  failureAt = at;
}

/**
 * Reads a varint, keeping its low 32 bits (protobuf-es varint32read): the same bytes, the same
 * 10-byte limit and the same errors as readVarint64, and the low 32 bits of its value (bytes 1-4
 * and the low 4 bits of byte 5), so it is one.
 */
// @ts-ignore: decorator
@inline export function readVarint32(): u32 {
  return <u32>readVarint64();
}

/** Reads a varint, keeping its low 64 bits; one-byte fast path (see readVarint64Slow). */
// @ts-ignore: decorator
@inline export function readVarint64(): u64 {
  const p = pos;
  if (p < limit) {
    const b = <u32>load<u8>(p);
    if (b < 0x80) {
      pos = p + 1;
      return <u64>b;
    }
  }
  return readVarint64Fast();
}

/**
 * Reads a varint of up to 4 bytes with no per-byte bounds check when 4 bytes are left, else falls
 * back to readVarint64Slow (the exact protobuf-es rules). Counters are mostly 2-4 bytes.
 */
// @ts-ignore: decorator
@inline function readVarint64Fast(): u64 {
  const p = pos;
  if (limit - p >= 4) {
    let b = <u32>load<u8>(p);
    let v = b & 0x7f;
    b = <u32>load<u8>(p, 1);
    v |= (b & 0x7f) << 7;
    if (b < 0x80) {
      pos = p + 2;
      return <u64>v;
    }
    b = <u32>load<u8>(p, 2);
    v |= (b & 0x7f) << 14;
    if (b < 0x80) {
      pos = p + 3;
      return <u64>v;
    }
    b = <u32>load<u8>(p, 3);
    v |= (b & 0x7f) << 21;
    if (b < 0x80) {
      pos = p + 4;
      return <u64>v;
    }
  }
  return readVarint64Slow();
}

/** Reads a varint, keeping its low 64 bits (protobuf-es varint64read); errors as readVarint32. */
function readVarint64Slow(): u64 {
  const start = pos;
  let p = pos;
  let value: u64 = 0;
  for (let i: u64 = 0; i < 10; i++) {
    if (p >= limit) {
      fail(STATUS_TRUNCATED, start);
      return 0;
    }
    const b = <u64>load<u8>(p++);
    // the 10th byte lands at bit 63: only its lowest bit survives, as in protobuf-es
    value |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      pos = p;
      return value;
    }
  }
  fail(STATUS_BAD_VARINT, start);
  return 0;
}

/**
 * Reads a tag (protobuf-es BinaryReader.tag); 0 on error.
 *
 * A tag longer than 5 bytes, or of 5 bytes with a last byte over 0x0f, overflows uint32:
 * BAD_VARINT. Field number 0 or wire type 6/7: BAD_TAG.
 */
// @ts-ignore: decorator
@inline export function readTag(): u32 {
  // fast path: fields 1-15 have one-byte tags
  const p = pos;
  if (p < limit) {
    const tag = <u32>load<u8>(p);
    if (tag < 0x80 && tag >= 8 && (tag & 7) <= WT_BIT32) {
      pos = p + 1;
      return tag;
    }
  }
  return readTagSlow();
}

function readTagSlow(): u32 {
  const start = pos;
  const tag = readVarint32();
  if (failure != 0) return 0;
  const length = pos - start;
  if (length > 5 || (length == 5 && load<u8>(pos - 1) > 0x0f)) {
    fail(STATUS_BAD_VARINT, start);
    return 0;
  }
  if ((tag >>> 3) == 0 || (tag & 7) > WT_BIT32) {
    fail(STATUS_BAD_TAG, start);
    return 0;
  }
  return tag;
}

/**
 * Skips the value of an unknown field (protobuf-es BinaryReader.skip).
 *
 * `budget` is the remaining group recursion budget; a group opened with none left is TOO_DEEP.
 * A group ends at the end-group tag of the same field number (else BAD_GROUP); input ending
 * inside it is TRUNCATED. An end-group tag with no group open cannot be skipped: BAD_TAG.
 */
export function skipField(wireType: u32, fieldNo: u32, budget: i32, tagStart: usize): void {
  switch (wireType) {
    case WT_VARINT: {
      // protobuf-es skips a varint of any length; this project makes one longer than 10 bytes
      // malformed. It is noted here and reported only if the rest of the message is well-formed,
      // the order in which the ts engine (fromBinary, then its own check) finds the two.
      const start = pos;
      let p = pos;
      for (let i = 0; ; i++) {
        if (p >= limit) {
          fail(STATUS_TRUNCATED, start);
          return;
        }
        if ((load<u8>(p++) & 0x80) == 0) {
          if (i >= 10 && overlongAt == 0) overlongAt = start;
          break;
        }
      }
      pos = p;
      return;
    }
    case WT_BIT64: {
      if (limit - pos < 8) fail(STATUS_TRUNCATED, pos);
      else pos += 8;
      return;
    }
    case WT_BIT32: {
      if (limit - pos < 4) fail(STATUS_TRUNCATED, pos);
      else pos += 4;
      return;
    }
    case WT_LENGTH_DELIMITED: {
      const start = pos;
      const length = readVarint32();
      if (failure != 0) return;
      if (<usize>length > limit - pos) fail(STATUS_TRUNCATED, start);
      else pos += <usize>length;
      return;
    }
    case WT_START_GROUP: {
      if (budget <= 0) {
        fail(STATUS_TOO_DEEP, tagStart);
        return;
      }
      while (true) {
        const innerStart = pos;
        const tag = readTag();
        if (failure != 0) return;
        if ((tag & 7) == WT_END_GROUP) {
          if ((tag >>> 3) != fieldNo) fail(STATUS_BAD_GROUP, innerStart);
          return;
        }
        skipField(tag & 7, tag >>> 3, budget - 1, innerStart);
        if (failure != 0) return;
      }
    }
    default:
      // WT_END_GROUP (6 and 7 never get here: readTag rejects them)
      fail(STATUS_BAD_TAG, tagStart);
  }
}

/**
 * Returns the address of the first byte of `[start, end)` that makes it invalid UTF-8, or `end`.
 *
 * The WHATWG UTF-8 decoder with fatal: true (TextDecoder, used by protobuf-es): no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncated sequence.
 */
export function invalidUtf8At(start: usize, end: usize): usize {
  let p = start;
  while (p < end) {
    const lead = <u32>load<u8>(p);
    if (lead < 0x80) {
      p++;
      continue;
    }
    let need: usize;
    let lower: u32 = 0x80;
    let upper: u32 = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      need = 1;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      need = 2;
      if (lead == 0xe0) lower = 0xa0;
      else if (lead == 0xed) upper = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      need = 3;
      if (lead == 0xf0) lower = 0x90;
      else if (lead == 0xf4) upper = 0x8f;
    } else {
      return p;
    }
    if (end - p <= need) return p;
    for (let k: usize = 1; k <= need; k++) {
      const b = <u32>load<u8>(p + k);
      if (b < lower || b > upper) return p;
      lower = 0x80;
      upper = 0xbf;
    }
    p += need + 1;
  }
  return end;
}

/** Reads a string field into stringPtr/stringBytes (protobuf-es BinaryReader.string, strict). */
export function readString(): void {
  const start = pos;
  const length = readVarint32();
  if (failure != 0) return;
  if (<usize>length > limit - pos) {
    fail(STATUS_TRUNCATED, start);
    return;
  }
  const end = pos + <usize>length;
  const bad = invalidUtf8At(pos, end);
  if (bad != end) {
    fail(STATUS_BAD_UTF8, bad);
    return;
  }
  stringPtr = pos;
  stringBytes = length;
  pos = end;
}

/** Reads a float field: 4 bytes little-endian, whatever the wire type. */
export function readFloat(): f32 {
  if (limit - pos < 4) {
    fail(STATUS_TRUNCATED, pos);
    return 0;
  }
  const value = load<f32>(pos);
  pos += 4;
  return value;
}

/**
 * Reads the length prefix of a nested message and returns the child's end (64-bit).
 *
 * Clamped to one past the input: the child loop then runs into the input end and fails with
 * TRUNCATED exactly where protobuf-es does.
 */
export function readChildEnd(): u64 {
  const length = readVarint32();
  const end = <u64>pos + <u64>length;
  const cap = <u64>limit + 1;
  return end < cap ? end : cap;
}
