/**
 * Proto3 JSON of an encoded `AnalyticsStat`, written straight from its bytes: the text
 * `toJsonString(AnalyticsStatSchema, fromBinary(AnalyticsStatSchema, bytes))` gives (default
 * options: lowerCamelCase names, enum names, zero values left out), without building a message
 * object or a JSON object per stat.
 *
 * It covers what an engine's encoder writes: known fields in field-number order, each singular
 * field once, well-formed UTF-8 strings that need no escaping, time stamps in the JSON range. Anything else
 * makes {@link writeStatJson} answer false, and the caller takes the protobuf-es path for that
 * stat, so the text is the same either way.
 *
 * @module
 */

/** A growable byte buffer the JSON is appended to. */
export class ByteWriter {
  /** the bytes; valid up to {@link length} */
  buf = new Uint8Array(1 << 16);
  /** bytes written */
  length = 0;

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Appends the UTF-16 string `s` as UTF-8. */
  text(s: string): void {
    this.reserve(s.length * 3);
    this.length += encoder.encodeInto(s, this.buf.subarray(this.length)).written;
  }

  /** Takes the bytes written (a copy) and starts empty. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

const encoder = new TextEncoder();
const ascii = (s: string): Uint8Array => encoder.encode(s);

// JSON keys by field number, as `"name":`; undefined for a field the writer does not take
const STAT_KEYS = [undefined, "analyticsKey", "kind", "timeStamp", "node", "roomId", "roomName", "participantId", "trackId", "score", "streams", "mime", "minScore", "medianScore", "id"].map((k) => (k === undefined ? undefined : ascii(`"${k}":`)));
const STREAM_KEYS = [
  undefined, "ssrc", "primaryPackets", "primaryBytes", "retransmitPackets", "retransmitBytes", "paddingPackets", "paddingBytes",
  "packetsLost", "frames", "rtt", "jitter", "nacks", "plis", "firs", "videoLayers", undefined, "startTime", "endTime", "packetsOutOfOrder",
].map((k) => (k === undefined ? undefined : ascii(`"${k}":`)));
const LAYER_KEYS = [undefined, "layer", "packets", "bytes", "frames"].map((k) => (k === undefined ? undefined : ascii(`"${k}":`)));

// the kind of each field: what its wire type must be and how its value is written
const enum K {
  None,
  Str,
  Enum,
  Time,
  F32,
  U32,
  I32,
  U64,
  Streams,
  Layers,
}
const STAT_KINDS = [K.None, K.Str, K.Enum, K.Time, K.Str, K.Str, K.Str, K.Str, K.Str, K.F32, K.Streams, K.Str, K.F32, K.F32, K.Str];
const STREAM_KINDS = [K.None, K.U32, K.U32, K.U64, K.U32, K.U64, K.U32, K.U64, K.U32, K.U32, K.U32, K.U32, K.U32, K.U32, K.U32, K.Layers, K.None, K.Time, K.Time, K.U32];
const LAYER_KINDS = [K.None, K.I32, K.U32, K.U64, K.U32];

const DOWNSTREAM = ascii(`"DOWNSTREAM"`);
const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);

// the reader's position and the last varint read (low and high 32 bits), shared to avoid
// allocating a result per value
let at = 0;
let lo = 0;
let hi = 0;

function varint(b: Uint8Array, end: number): boolean {
  lo = 0;
  hi = 0;
  for (let i = 0; i < 10; i++) {
    if (at >= end) return false;
    const x = b[at++]!;
    if (i < 4) lo |= (x & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (x & 0x0f) << 28;
      hi |= (x & 0x7f) >> 4;
    } else hi |= (x & 0x7f) << (7 * i - 32);
    if ((x & 0x80) === 0) return true;
  }
  return false;
}

// small copies: a loop beats a native call with a view per key
function put(w: ByteWriter, bytes: Uint8Array): void {
  const n = bytes.length;
  w.reserve(n);
  const out = w.buf;
  let at = w.length;
  for (let i = 0; i < n; i++) out[at++] = bytes[i]!;
  w.length = at;
}

// an ASCII string (a number's text)
function putAscii(w: ByteWriter, s: string): void {
  const n = s.length;
  w.reserve(n);
  const out = w.buf;
  let at = w.length;
  for (let i = 0; i < n; i++) out[at++] = s.charCodeAt(i);
  w.length = at;
}

// a non-negative integer below 2^53 in decimal, as String() writes it
function putDigits(w: ByteWriter, n: number): void {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  w.reserve(digits);
  const out = w.buf;
  let at = w.length + digits;
  w.length = at;
  if (n < 0x80000000) {
    let x = n | 0;
    do {
      const q = (x / 10) | 0;
      out[--at] = 48 + x - q * 10;
      x = q;
    } while (x !== 0);
  } else {
    let x = n;
    do {
      const q = Math.floor(x / 10);
      out[--at] = 48 + x - q * 10;
      x = q;
    } while (x !== 0);
  }
}

function putNumber(w: ByteWriter, n: number): void {
  if (Number.isInteger(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER && n < 1e21) putDigits(w, n);
  else putAscii(w, String(n));
}

// one time stamp text cached: every stat of a window carries the window's end
let timeSeconds = Number.NaN;
let timeNanos = 0;
let timeText: Uint8Array = new Uint8Array(0);

const MIN_SECONDS = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z

function putTime(w: ByteWriter, b: Uint8Array, end: number): boolean {
  let seconds = 0;
  let nanos = 0;
  let last = 0;
  while (at < end) {
    const tag = b[at++]!;
    // fields 1 and 2 as varints, once each, in order: what an encoder writes
    if ((tag !== 0x08 && tag !== 0x10) || tag <= last) return false;
    last = tag;
    if (!varint(b, end)) return false;
    if (tag === 0x08) {
      // int64 seconds: two's complement; only the JSON range is taken here
      if (hi >= 0 && hi < 0x200000) seconds = hi * 2 ** 32 + (lo >>> 0);
      else if (hi < 0 && hi >= -0x200000) seconds = hi * 2 ** 32 + (lo >>> 0);
      else return false;
    } else nanos = lo | 0;
  }
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS || nanos < 0 || nanos > 999_999_999) return false;
  if (seconds !== timeSeconds || nanos !== timeNanos) {
    let z = "Z";
    if (nanos > 0) {
      const s = String(nanos + 1_000_000_000).substring(1);
      z = s.endsWith("000000") ? `.${s.substring(0, 3)}Z` : s.endsWith("000") ? `.${s.substring(0, 6)}Z` : `.${s}Z`;
    }
    timeText = ascii(`"${new Date(seconds * 1000).toISOString().replace(".000Z", z)}"`);
    timeSeconds = seconds;
    timeNanos = nanos;
  }
  put(w, timeText);
  return true;
}

function putString(w: ByteWriter, b: Uint8Array, from: number, to: number): boolean {
  // JSON.stringify escapes only '"', '\\', control characters and lone surrogates: well-formed
  // UTF-8 (which has no surrogates) without the others is written as it is
  for (let i = from; i < to; ) {
    const c = b[i++]!;
    if (c < 0x80) {
      if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
      continue;
    }
    const n = utf8Tail(b, i - 1, to);
    if (n < 0) return false;
    i += n;
  }
  w.reserve(to - from + 2);
  const out = w.buf;
  let n = w.length;
  out[n++] = 0x22;
  for (let i = from; i < to; i++) out[n++] = b[i]!;
  out[n++] = 0x22;
  w.length = n;
  return true;
}

// The continuation bytes of the well-formed UTF-8 sequence led by b[i] (Unicode table 3-7), or
// -1 when it is not one.
function utf8Tail(b: Uint8Array, i: number, to: number): number {
  const c = b[i]!;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 1;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 2;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 3;
    if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f;
  } else return -1;
  if (i + n >= to) return -1;
  for (let k = 1; k <= n; k++) {
    const x = b[i + k]!;
    if (x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return -1;
  }
  return n;
}

// Writes the message b[from, to) as a JSON object with the given field table; false when it is
// not what an encoder writes (see the module comment).
function putMessage(w: ByteWriter, b: Uint8Array, from: number, to: number, keys: readonly (Uint8Array | undefined)[], kinds: readonly K[]): boolean {
  w.reserve(1);
  w.buf[w.length++] = 0x7b; // {
  let first = true;
  let last = 0;
  let open = 0; // a repeated field whose array is open
  at = from;
  while (at < to) {
    let tag = b[at++]!;
    if (tag & 0x80) {
      // fields 16 and up: a two-byte tag (stream fields 17-19)
      if (at >= to || b[at]! & 0x80) return false;
      tag = (tag & 0x7f) | (b[at++]! << 7);
    }
    const field = tag >> 3;
    const wire = tag & 7;
    const kind = field < kinds.length ? kinds[field]! : K.None;
    if (kind === K.None) return false;
    const repeated = kind === K.Streams || kind === K.Layers;
    if (field < last || (field === last && !repeated)) return false;
    if (open !== 0 && field !== open) {
      w.reserve(1);
      w.buf[w.length++] = 0x5d; // ]
      open = 0;
    }
    last = field;
    const valueAt = w.length;
    // the key is written first and taken back when the value is a zero that JSON leaves out
    const key = keys[field]!;
    if (!(repeated && open === field)) {
      w.reserve(key.length + 1);
      if (!first) w.buf[w.length++] = 0x2c;
      put(w, key);
    }
    switch (kind) {
      case K.Str:
      case K.Time:
      case K.Streams:
      case K.Layers: {
        if (wire !== 2 || !varint(b, to) || hi !== 0 || lo < 0) return false;
        const end = at + lo;
        if (end > to) return false;
        if (kind === K.Str) {
          if (end === at) {
            w.length = valueAt;
            break;
          }
          if (!putString(w, b, at, end)) return false;
          at = end;
        } else if (kind === K.Time) {
          if (!putTime(w, b, end)) return false;
        } else {
          w.reserve(2);
          if (open === field) w.buf[w.length++] = 0x2c;
          else {
            w.buf[w.length++] = 0x5b; // [
            open = field;
          }
          const inner = kind === K.Streams;
          if (!putMessage(w, b, at, end, inner ? STREAM_KEYS : LAYER_KEYS, inner ? STREAM_KINDS : LAYER_KINDS)) return false;
          at = end;
        }
        break;
      }
      case K.F32: {
        if (wire !== 5 || at + 4 > to) return false;
        for (let i = 0; i < 4; i++) f32Bytes[i] = b[at++]!;
        const v = f32[0]!;
        if (Object.is(v, 0)) w.length = valueAt;
        else if (v !== v) putAscii(w, `"NaN"`);
        else if (v === Infinity) putAscii(w, `"Infinity"`);
        else if (v === -Infinity) putAscii(w, `"-Infinity"`);
        else putNumber(w, v);
        break;
      }
      case K.Enum:
        if (wire !== 0 || !varint(b, to)) return false;
        if (lo === 0 && hi === 0) w.length = valueAt;
        else if (lo === 1 && hi === 0) put(w, DOWNSTREAM);
        else return false;
        break;
      case K.U32:
      case K.I32: {
        if (wire !== 0 || !varint(b, to)) return false;
        const v = kind === K.U32 ? lo >>> 0 : lo | 0;
        if (v === 0) w.length = valueAt;
        else putNumber(w, v);
        break;
      }
      case K.U64: {
        if (wire !== 0 || !varint(b, to)) return false;
        if (lo === 0 && hi === 0) w.length = valueAt;
        else {
          w.reserve(1);
          w.buf[w.length++] = 0x22;
          if (hi >>> 0 < 0x200000) putDigits(w, (hi >>> 0) * 2 ** 32 + (lo >>> 0));
          else putAscii(w, ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString());
          w.reserve(1);
          w.buf[w.length++] = 0x22;
        }
        break;
      }
    }
    // a zero left out took its key and comma back with it
    if (w.length !== valueAt) first = false;
  }
  if (at !== to) return false;
  w.reserve(2);
  if (open !== 0) w.buf[w.length++] = 0x5d;
  w.buf[w.length++] = 0x7d; // }
  return true;
}

/**
 * Appends the proto3 JSON of the `AnalyticsStat` at `b[from, to)` and a newline to `w`, or
 * leaves `w` as it was and returns false when the message is not one the writer takes (see the
 * module comment): the caller then formats it with protobuf-es.
 */
export function writeStatJson(w: ByteWriter, b: Uint8Array, from: number, to: number): boolean {
  const start = w.length;
  if (!putMessage(w, b, from, to, STAT_KEYS, STAT_KINDS)) {
    w.length = start;
    return false;
  }
  w.reserve(1);
  w.buf[w.length++] = 0x0a;
  return true;
}
