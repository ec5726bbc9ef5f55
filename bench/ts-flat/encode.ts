/**
 * ts-flat bytes-out: encodes coalesced slots straight into one `AnalyticsStats` message, with no
 * output objects and no allocation beyond the (reused, growing) output buffer, as protobuf-es
 * `toBinary` would encode the objects the object path builds (fields in number order, proto3
 * zero values omitted, `-0` score kept).
 *
 * @module
 */
import type { StreamType } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import type { TrackIdentity } from "../../src/engine/engine.ts";
import { W } from "./slots.ts";

const f32Bits = new Uint32Array(1);
const f32Value = new Float32Array(f32Bits.buffer);

function varintSize32(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5;
}

function varintSize64(lo: number, hi: number): number {
  if (hi === 0) return varintSize32(lo);
  // bits above 32: each 7 more bits one more byte; 35 bits fit in 5 bytes
  const bits = 32 - Math.clz32(hi);
  return Math.ceil((32 + bits) / 7);
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3; // BMP, or a lone surrogate (U+FFFD, as TextEncoder writes it)
  }
  return n;
}

/** A growing output buffer with protobuf wire writers. */
export class BatchWriter {
  buf = new Uint8Array(1 << 16);
  pos = 0;

  /** Makes room for `bytes` more bytes. */
  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint32(v: number): void {
    const b = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  varint64(lo: number, hi: number): void {
    if (hi === 0) {
      this.varint32(lo);
      return;
    }
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < 4; i++) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    // byte 5 takes the top 4 bits of lo and the low 3 bits of hi
    let v = lo | ((hi & 0x7) << 4);
    hi >>>= 3;
    if (hi === 0) {
      b[p++] = v;
      this.pos = p;
      return;
    }
    b[p++] = v | 0x80;
    v = hi;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  string(s: string): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        b[p++] = c;
        continue;
      }
      if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 0x3f);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && (next & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          b[p++] = 0xf0 | (c >> 18);
          b[p++] = 0x80 | ((c >> 12) & 0x3f);
          b[p++] = 0x80 | ((c >> 6) & 0x3f);
          b[p++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    }
    this.pos = p;
  }

  stringField(no: number, s: string): void {
    if (s.length === 0) return;
    this.buf[this.pos++] = (no << 3) | 2;
    this.varint32(utf8Length(s));
    this.string(s);
  }
}

// per-batch constants, computed once per drain
let tsSecondsLo = 0;
let tsSecondsHi = 0;
let tsNanos = 0;
let tsSize = 0;
let patchSize = 0;

/**
 * Prepares the patch part shared by every stat of a batch (R3): the time stamp as
 * protobuf-es `timestampFromMs(timeMs)` makes it, and the worker's ids.
 */
export function beginBatch(timeMs: number, patch: TrackIdentity): void {
  const seconds = Math.floor(timeMs / 1000);
  // int64 two's complement words without a bigint (exact: |seconds| < 2^53)
  tsSecondsLo = seconds >>> 0;
  tsSecondsHi = Math.floor(seconds / 4294967296) >>> 0;
  tsNanos = ((timeMs % 1000) * 1_000_000) | 0;
  tsSize =
    (tsSecondsLo !== 0 || tsSecondsHi !== 0 ? 1 + varintSize64(tsSecondsLo, tsSecondsHi) : 0) +
    (tsNanos !== 0 ? 1 + (tsNanos < 0 ? 10 : varintSize32(tsNanos)) : 0);
  patchSize = 1 + varintSize32(tsSize) + tsSize + strSize(patch.roomId) + strSize(patch.roomName) + strSize(patch.participantId);
}

function strSize(s: string): number {
  if (s.length === 0) return 0;
  const n = utf8Length(s);
  return 1 + varintSize32(n) + n;
}

function u32Field(v: number): number {
  return v === 0 ? 0 : 1 + varintSize32(v);
}

function u64Field(w: Uint32Array, at: number): number {
  const lo = w[at]!;
  const hi = w[at + 1]!;
  return lo === 0 && hi === 0 ? 0 : 1 + varintSize64(lo, hi);
}

function layerSize(w: Uint32Array, d: number): number {
  const layer = w[d + W.LAYER]! | 0;
  return (
    (layer === 0 ? 0 : 1 + (layer < 0 ? 10 : varintSize32(layer))) +
    u32Field(w[d + W.LAYER_PACKETS]!) +
    u64Field(w, d + W.LAYER_BYTES) +
    u32Field(w[d + W.LAYER_FRAMES]!)
  );
}

function streamSize(w: Uint32Array, d: number, layerBytes: number): number {
  let n = 0;
  for (let k = W.PRIMARY_PACKETS; k <= W.JITTER; k++) n += u32Field(w[d + k]!);
  n += u64Field(w, d + W.PRIMARY_BYTES) + u64Field(w, d + W.RETRANSMIT_BYTES) + u64Field(w, d + W.PADDING_BYTES);
  if (w[d + W.LAYER_PRESENT] !== 0) n += 1 + varintSize32(layerBytes) + layerBytes;
  return n;
}

function writeU32(out: BatchWriter, no: number, v: number): void {
  if (v === 0) return;
  out.buf[out.pos++] = no << 3;
  out.varint32(v);
}

function writeU64(out: BatchWriter, no: number, w: Uint32Array, at: number): void {
  const lo = w[at]!;
  const hi = w[at + 1]!;
  if (lo === 0 && hi === 0) return;
  out.buf[out.pos++] = no << 3;
  out.varint64(lo, hi);
}

/**
 * Appends the coalesced stat of slot word base `d` (R6-R12), patched (R3), as field 1 of the
 * `AnalyticsStats` being written.
 */
export function writeStat(out: BatchWriter, w: Uint32Array, f: Float32Array, d: number, patch: TrackIdentity, trackId: string, kind: StreamType): void {
  const hasLayer = w[d + W.LAYER_PRESENT] !== 0;
  const lSize = hasLayer ? layerSize(w, d) : 0;
  const sSize = streamSize(w, d, lSize);
  // Go parity (R10): float32 division by the count of ALL stats
  f32Value[0] = Math.fround(f[d + W.SCORE]! / Math.fround(w[d + W.COUNT]!));
  const score = f32Bits[0]!;
  const size =
    (kind === 0 ? 0 : 1 + varintSize32(kind)) +
    patchSize +
    strSize(trackId) +
    (score === 0 ? 0 : 5) +
    1 + varintSize32(sSize) + sSize;
  out.ensure(size + 16 + trackId.length * 3);
  const b = out.buf;
  b[out.pos++] = (1 << 3) | 2;
  out.varint32(size);
  if (kind !== 0) {
    b[out.pos++] = 2 << 3;
    out.varint32(kind);
  }
  b[out.pos++] = (3 << 3) | 2;
  out.varint32(tsSize);
  if (tsSecondsLo !== 0 || tsSecondsHi !== 0) {
    b[out.pos++] = 1 << 3;
    out.varint64(tsSecondsLo, tsSecondsHi);
  }
  if (tsNanos !== 0) {
    b[out.pos++] = 2 << 3;
    if (tsNanos < 0) out.varint64(tsNanos >>> 0, 0xffff_ffff);
    else out.varint32(tsNanos);
  }
  out.stringField(5, patch.roomId);
  out.stringField(6, patch.roomName);
  out.stringField(7, patch.participantId);
  out.stringField(8, trackId);
  if (score !== 0) {
    let p = out.pos;
    b[p++] = (9 << 3) | 5;
    b[p++] = score & 0xff;
    b[p++] = (score >>> 8) & 0xff;
    b[p++] = (score >>> 16) & 0xff;
    b[p++] = score >>> 24;
    out.pos = p;
  }
  b[out.pos++] = (10 << 3) | 2;
  out.varint32(sSize);
  writeU32(out, 2, w[d + W.PRIMARY_PACKETS]!);
  writeU64(out, 3, w, d + W.PRIMARY_BYTES);
  writeU32(out, 4, w[d + W.RETRANSMIT_PACKETS]!);
  writeU64(out, 5, w, d + W.RETRANSMIT_BYTES);
  writeU32(out, 6, w[d + W.PADDING_PACKETS]!);
  writeU64(out, 7, w, d + W.PADDING_BYTES);
  writeU32(out, 8, w[d + W.PACKETS_LOST]!);
  writeU32(out, 9, w[d + W.FRAMES]!);
  writeU32(out, 10, w[d + W.RTT]!);
  writeU32(out, 11, w[d + W.JITTER]!);
  writeU32(out, 12, w[d + W.NACKS]!);
  writeU32(out, 13, w[d + W.PLIS]!);
  writeU32(out, 14, w[d + W.FIRS]!);
  if (hasLayer) {
    b[out.pos++] = (15 << 3) | 2;
    out.varint32(lSize);
    const layer = w[d + W.LAYER]! | 0;
    if (layer !== 0) {
      b[out.pos++] = 1 << 3;
      if (layer < 0) out.varint64(layer >>> 0, 0xffff_ffff);
      else out.varint32(layer);
    }
    writeU32(out, 2, w[d + W.LAYER_PACKETS]!);
    writeU64(out, 3, w, d + W.LAYER_BYTES);
    writeU32(out, 4, w[d + W.LAYER_FRAMES]!);
  }
}
