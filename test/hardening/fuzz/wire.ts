/**
 * Hand-encoded protobuf for the hardening fuzzer: varints (over-long forms included), tags,
 * length-delimited fields, nested groups and many streams, plus a plain split of a message into
 * its top-level fields. By hand because the fuzzer builds what no encoder writes.
 *
 * @module
 */

/** The varint encoding of `value` (any size: over-long forms are built separately). */
export function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A tag: field number and wire type. */
export function tag(fieldNo: number, wireType: number): number[] {
  return varint((BigInt(fieldNo) << 3n) | BigInt(wireType & 7));
}

/** A length-delimited field. */
export function lengthDelimited(fieldNo: number, payload: readonly number[]): number[] {
  return [...tag(fieldNo, 2), ...varint(payload.length), ...payload];
}

/** `n` bytes of varint: `value`'s low bits, padded with continuation bytes (an over-long form). */
export function paddedVarint(value: number, n: number): number[] {
  const out = varint(value);
  while (out.length < n) {
    out[out.length - 1]! |= 0x80;
    out.push(0);
  }
  return out;
}

/** Groups of field `fieldNo` nested `depth` deep around `inner`: `depth` start tags, then as many end tags. */
export function nestedGroups(fieldNo: number, depth: number, inner: readonly number[] = []): number[] {
  const out: number[] = [];
  for (let d = 0; d < depth; d++) out.push(...tag(fieldNo, 3));
  out.push(...inner);
  for (let d = 0; d < depth; d++) out.push(...tag(fieldNo, 4));
  return out;
}

/** Streams with `layers` layers each, `count` of them, as AnalyticsStat field 10 records. */
export function manyStreams(count: number, layers: number): number[] {
  const layer = lengthDelimited(15, [0x08, 0x01, 0x10, 0x05]);
  const stream: number[] = [0x10, 0x07];
  for (let i = 0; i < layers; i++) stream.push(...layer);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(...lengthDelimited(10, stream));
  return out;
}

/**
 * The varint at `b[p]`, of any length: its value (exact up to 2^53) and the index after it, or
 * undefined when it runs off the end.
 */
export function readVarint(b: ArrayLike<number>, p: number): { value: number; end: number } | undefined {
  let value = 0;
  for (let i = 0; p + i < b.length; i++) {
    const x = b[p + i]!;
    value += (x & 0x7f) * 2 ** (7 * i);
    if ((x & 0x80) === 0) return { value, end: p + i + 1 };
  }
  return undefined;
}

/** One top-level field of a message: where its tag, its payload and the field end. */
export interface Field {
  readonly start: number;
  readonly payloadStart: number;
  readonly end: number;
  readonly fieldNo: number;
  readonly wireType: number;
}

/**
 * Splits `b` into top-level fields, or undefined when it does not parse plainly (no groups, no
 * varint over 10 bytes, nothing running off the end).
 */
export function fields(b: readonly number[]): Field[] | undefined {
  const out: Field[] = [];
  let p = 0;
  const next = (): number | undefined => {
    const v = readVarint(b, p);
    if (v === undefined || v.end - p > 10) return undefined;
    p = v.end;
    return v.value;
  };
  while (p < b.length) {
    const start = p;
    const t = next();
    if (t === undefined) return undefined;
    const wireType = t % 8;
    const fieldNo = Math.floor(t / 8);
    let payloadStart = p;
    switch (wireType) {
      case 0:
        if (next() === undefined) return undefined;
        break;
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      case 2: {
        const n = next();
        if (n === undefined) return undefined;
        payloadStart = p;
        p += n;
        break;
      }
      default:
        return undefined;
    }
    if (p > b.length) return undefined;
    out.push({ start, payloadStart, end: p, fieldNo, wireType });
  }
  return out;
}
