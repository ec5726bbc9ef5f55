/**
 * ts-flat decoder: one encoded `AnalyticsStat` straight from the Uint8Array into the DELTA slot,
 * with no allocation on the success path (own varint loop, u64 as lo/hi u32 pairs, float32 bits
 * through a shared scratch word).
 *
 * A line-by-line port of assembly/wire.ts and decode.ts, acceptance rules included, so that
 * ts-flat, wasm and protobuf-es (the ts engine) accept and reject the same bytes:
 * - a known field is read by its declared type whatever its wire type;
 * - a nested message is bounded by its length prefix, reads are checked only against the end of
 *   the whole input (a child that overruns its parent is accepted, the parent stops);
 * - unknown fields are skipped, groups with a recursion budget of 100 - depth;
 * - strings must be valid UTF-8 (WHATWG, fatal);
 * - a varint longer than 10 bytes is rejected, also inside an unknown field (see "Bad input" in docs/rules.md).
 *
 * @module
 */
import { DecodeError, LimitError, type DecodeErrorCode } from "../../src/errors.ts";
import { LIMITS } from "../../src/limits.ts";
import { DELTA_SLOT, addU64, foldLayer, type SlotPool, W } from "./slots.ts";

const WT_VARINT = 0;
const WT_BIT64 = 1;
const WT_LENGTH_DELIMITED = 2;
const WT_START_GROUP = 3;
const WT_BIT32 = 5;

const RECURSION_LIMIT = 100;
const DEPTH_STAT = 1;
const DEPTH_STREAM = 2;
const DEPTH_LAYER = 3;

// status codes, as in assembly/layout.ts
const TRUNCATED = -1;
const BAD_VARINT = -2;
const BAD_TAG = -3;
const BAD_GROUP = -4;
const BAD_UTF8 = -5;
const TOO_DEEP = -6;
const TOO_MANY_STREAMS = -10;
const TOO_MANY_LAYERS = -11;

const CODES: Record<number, DecodeErrorCode> = {
  [TRUNCATED]: "truncated",
  [BAD_VARINT]: "bad_varint",
  [BAD_TAG]: "bad_tag",
  [BAD_GROUP]: "bad_group",
  [BAD_UTF8]: "bad_utf8",
  [TOO_DEEP]: "too_deep",
};

// Stream scratch, in words: the same order as the slot's counters, so stream word k folds into
// slot word k + 2 (primaryPackets .. firs, rtt, jitter, then the three u64 pairs).
const S_PRIMARY_PACKETS = 0;
const S_RETRANSMIT_PACKETS = 1;
const S_PADDING_PACKETS = 2;
const S_PACKETS_LOST = 3;
const S_FRAMES = 4;
const S_NACKS = 5;
const S_PLIS = 6;
const S_FIRS = 7;
const S_RTT = 8;
const S_JITTER = 9;
const S_PRIMARY_BYTES = 10;
const S_RETRANSMIT_BYTES = 12;
const S_PADDING_BYTES = 14;
const S_SIZE = 16;
const STREAM_TO_SLOT = W.PRIMARY_PACKETS - S_PRIMARY_PACKETS;

// float32 bits <-> value without a DataView per message
const f32Bits = new Uint32Array(1);
const f32Value = new Float32Array(f32Bits.buffer);

/** Decodes one `AnalyticsStat` and folds it into a slot of a {@link SlotPool}. */
export class FlatDecoder {
  private bytes: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private limit = 0;
  private failure = 0;
  private failureAt = 0;
  private bound = 0;
  private invalid = false;
  private streamCount = 0;
  private layerCount = 0;
  /** hi word of the last readVarint64() */
  private hi = 0;
  private readonly stream = new Uint32Array(S_SIZE);
  private layer = 0;
  private layerPackets = 0;
  private layerFrames = 0;
  private layerBytesLo = 0;
  private layerBytesHi = 0;
  private delta = 0;
  private w: Uint32Array;

  constructor(private readonly pool: SlotPool) {
    this.w = pool.u32;
  }

  /**
   * Decodes `bytes` into the DELTA slot and validates it: true valid, false invalid (R7).
   * Throws DecodeError for malformed bytes (they win over bounds) and LimitError for a stat over
   * LIMITS. The DELTA slot holds the stat's own fold (count 1) after a successful call.
   */
  decode(bytes: Uint8Array): boolean {
    if (bytes.length > LIMITS.maxMessageBytes) {
      throw new LimitError("message_too_large", LIMITS.maxMessageBytes, `message of ${bytes.length} bytes is larger than the limit of ${LIMITS.maxMessageBytes}`);
    }
    this.w = this.pool.u32;
    this.delta = DELTA_SLOT * W.SIZE;
    this.pool.reset(DELTA_SLOT);
    this.bytes = bytes;
    this.pos = 0;
    this.limit = bytes.length;
    this.failure = 0;
    this.bound = 0;
    this.invalid = false;
    this.streamCount = 0;
    this.layerCount = 0;
    this.parseStat();
    if (this.failure !== 0) throw new DecodeError(CODES[this.failure]!, this.failureAt);
    if (this.bound === TOO_MANY_STREAMS) {
      throw new LimitError("too_many_streams", LIMITS.maxStreamsPerStat, `stat has more streams than the limit of ${LIMITS.maxStreamsPerStat}`);
    }
    if (this.bound === TOO_MANY_LAYERS) {
      throw new LimitError("too_many_layers", LIMITS.maxLayersPerStream, `a stream has more video layers than the limit of ${LIMITS.maxLayersPerStream}`);
    }
    this.w[this.delta + W.COUNT] = 1;
    return !this.invalid;
  }

  private fail(status: number, at: number): void {
    this.failure = status;
    this.failureAt = at;
  }

  /** A varint's low 32 bits (protobuf-es varint32read); up to 10 bytes. */
  private readVarint32(): number {
    const bytes = this.bytes;
    const start = this.pos;
    const limit = this.limit;
    let p = start;
    let value = 0;
    for (let i = 0; i < 10; i++) {
      if (p >= limit) {
        this.fail(TRUNCATED, start);
        return 0;
      }
      const b = bytes[p++]!;
      if (i < 4) value |= (b & 0x7f) << (7 * i);
      else if (i === 4) value |= (b & 0x0f) << 28;
      if ((b & 0x80) === 0) {
        this.pos = p;
        return value >>> 0;
      }
    }
    this.fail(BAD_VARINT, start);
    return 0;
  }

  /** A varint's low 64 bits: returns the lo word, leaves the hi word in `this.hi`. */
  private readVarint64(): number {
    const bytes = this.bytes;
    const start = this.pos;
    const limit = this.limit;
    let p = start;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (p >= limit) {
        this.fail(TRUNCATED, start);
        this.hi = 0;
        return 0;
      }
      const b = bytes[p++]! & 0xff;
      const v = b & 0x7f;
      if (i < 4) lo |= v << (7 * i);
      else if (i === 4) {
        lo |= (v & 0x0f) << 28;
        hi |= v >>> 4;
      } else hi |= v << (7 * i - 32); // the 10th byte lands at bit 63: only its lowest bit survives
      if ((b & 0x80) === 0) {
        this.pos = p;
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    this.fail(BAD_VARINT, start);
    this.hi = 0;
    return 0;
  }

  /** A tag (protobuf-es BinaryReader.tag); 0 on error. */
  private readTag(): number {
    const start = this.pos;
    const tag = this.readVarint32();
    if (this.failure !== 0) return 0;
    const length = this.pos - start;
    if (length > 5 || (length === 5 && this.bytes[this.pos - 1]! > 0x0f)) {
      this.fail(BAD_VARINT, start);
      return 0;
    }
    if (tag >>> 3 === 0 || (tag & 7) > 5) {
      this.fail(BAD_TAG, start);
      return 0;
    }
    return tag;
  }

  /** Skips the value of an unknown field (protobuf-es BinaryReader.skip). */
  private skipField(wireType: number, fieldNo: number, budget: number, tagStart: number): void {
    switch (wireType) {
      case WT_VARINT: {
        const start = this.pos;
        let p = start;
        for (let i = 0; ; i++) {
          if (i === 10) {
            this.fail(BAD_VARINT, start);
            return;
          }
          if (p >= this.limit) {
            this.fail(TRUNCATED, start);
            return;
          }
          if ((this.bytes[p++]! & 0x80) === 0) break;
        }
        this.pos = p;
        return;
      }
      case WT_BIT64:
        if (this.limit - this.pos < 8) this.fail(TRUNCATED, this.pos);
        else this.pos += 8;
        return;
      case WT_BIT32:
        if (this.limit - this.pos < 4) this.fail(TRUNCATED, this.pos);
        else this.pos += 4;
        return;
      case WT_LENGTH_DELIMITED: {
        const start = this.pos;
        const length = this.readVarint32();
        if (this.failure !== 0) return;
        if (length > this.limit - this.pos) this.fail(TRUNCATED, start);
        else this.pos += length;
        return;
      }
      case WT_START_GROUP: {
        if (budget <= 0) {
          this.fail(TOO_DEEP, tagStart);
          return;
        }
        for (;;) {
          const innerStart = this.pos;
          const tag = this.readTag();
          if (this.failure !== 0) return;
          if ((tag & 7) === 4) {
            if (tag >>> 3 !== fieldNo) this.fail(BAD_GROUP, innerStart);
            return;
          }
          this.skipField(tag & 7, tag >>> 3, budget - 1, innerStart);
          if (this.failure !== 0) return;
        }
      }
      default:
        // wire type 4 (6 and 7 never get here: readTag rejects them)
        this.fail(BAD_TAG, tagStart);
    }
  }

  /** Offset of the first byte of [start, end) that makes it invalid UTF-8 (WHATWG, fatal), or end. */
  private invalidUtf8At(start: number, end: number): number {
    const bytes = this.bytes;
    let p = start;
    while (p < end) {
      const lead = bytes[p]!;
      if (lead < 0x80) {
        p++;
        continue;
      }
      let need: number;
      let lower = 0x80;
      let upper = 0xbf;
      if (lead >= 0xc2 && lead <= 0xdf) {
        need = 1;
      } else if (lead >= 0xe0 && lead <= 0xef) {
        need = 2;
        if (lead === 0xe0) lower = 0xa0;
        else if (lead === 0xed) upper = 0x9f;
      } else if (lead >= 0xf0 && lead <= 0xf4) {
        need = 3;
        if (lead === 0xf0) lower = 0x90;
        else if (lead === 0xf4) upper = 0x8f;
      } else {
        return p;
      }
      if (end - p <= need) return p;
      for (let k = 1; k <= need; k++) {
        const b = bytes[p + k]!;
        if (b < lower || b > upper) return p;
        lower = 0x80;
        upper = 0xbf;
      }
      p += need + 1;
    }
    return end;
  }

  /** Checks a string field (protobuf-es BinaryReader.string, strict) and steps over it. */
  private readString(): void {
    const start = this.pos;
    const length = this.readVarint32();
    if (this.failure !== 0) return;
    if (length > this.limit - this.pos) {
      this.fail(TRUNCATED, start);
      return;
    }
    const end = this.pos + length;
    const bad = this.invalidUtf8At(this.pos, end);
    if (bad !== end) {
      this.fail(BAD_UTF8, bad);
      return;
    }
    this.pos = end;
  }

  /** A float field: 4 bytes little-endian, whatever the wire type. */
  private readFloat(): number {
    const p = this.pos;
    if (this.limit - p < 4) {
      this.fail(TRUNCATED, p);
      return 0;
    }
    const b = this.bytes;
    f32Bits[0] = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
    this.pos = p + 4;
    return f32Value[0]!;
  }

  /** The end of a nested message, clamped to one past the input (assembly/wire.ts readChildEnd). */
  private readChildEnd(): number {
    const length = this.readVarint32();
    const end = this.pos + length;
    const cap = this.limit + 1;
    return end < cap ? end : cap;
  }

  private parseTimestamp(end: number, depth: number): void {
    while (this.pos < end) {
      const tagStart = this.pos;
      const tag = this.readTag();
      if (this.failure !== 0) return;
      const fieldNo = tag >>> 3;
      if (fieldNo === 1) this.readVarint64();
      else if (fieldNo === 2) this.readVarint32();
      else this.skipField(tag & 7, fieldNo, RECURSION_LIMIT - depth, tagStart);
      if (this.failure !== 0) return;
    }
  }

  private parseLayer(end: number): void {
    while (this.pos < end) {
      const tagStart = this.pos;
      const tag = this.readTag();
      if (this.failure !== 0) return;
      const fieldNo = tag >>> 3;
      switch (fieldNo) {
        case 1: this.layer = this.readVarint32() | 0; break;
        case 2: this.layerPackets = this.readVarint32(); break;
        case 3: this.layerBytesLo = this.readVarint64(); this.layerBytesHi = this.hi; break;
        case 4: this.layerFrames = this.readVarint32(); break;
        default: this.skipField(tag & 7, fieldNo, RECURSION_LIMIT - DEPTH_LAYER, tagStart);
      }
      if (this.failure !== 0) return;
    }
  }

  private parseStream(end: number): void {
    const s = this.stream;
    while (this.pos < end) {
      const tagStart = this.pos;
      const tag = this.readTag();
      if (this.failure !== 0) return;
      const fieldNo = tag >>> 3;
      switch (fieldNo) {
        case 1: this.readVarint32(); break; // ssrc: not folded (R6)
        case 2: s[S_PRIMARY_PACKETS] = this.readVarint32(); break;
        case 3: s[S_PRIMARY_BYTES] = this.readVarint64(); s[S_PRIMARY_BYTES + 1] = this.hi; break;
        case 4: s[S_RETRANSMIT_PACKETS] = this.readVarint32(); break;
        case 5: s[S_RETRANSMIT_BYTES] = this.readVarint64(); s[S_RETRANSMIT_BYTES + 1] = this.hi; break;
        case 6: s[S_PADDING_PACKETS] = this.readVarint32(); break;
        case 7: s[S_PADDING_BYTES] = this.readVarint64(); s[S_PADDING_BYTES + 1] = this.hi; break;
        case 8: s[S_PACKETS_LOST] = this.readVarint32(); break;
        case 9: s[S_FRAMES] = this.readVarint32(); break;
        case 10: s[S_RTT] = this.readVarint32(); break;
        case 11: s[S_JITTER] = this.readVarint32(); break;
        case 12: s[S_NACKS] = this.readVarint32(); break;
        case 13: s[S_PLIS] = this.readVarint32(); break;
        case 14: s[S_FIRS] = this.readVarint32(); break;
        case 15: {
          if (++this.layerCount > LIMITS.maxLayersPerStream && this.bound === 0) this.bound = TOO_MANY_LAYERS;
          const childEnd = this.readChildEnd();
          if (this.failure !== 0) return;
          this.layer = this.layerPackets = this.layerFrames = this.layerBytesLo = this.layerBytesHi = 0;
          this.parseLayer(childEnd);
          if (this.failure !== 0) return;
          if (((this.layerPackets | this.layerFrames | this.layerBytesHi) >>> 31) !== 0) this.invalid = true;
          else foldLayer(this.w, this.delta, this.layer, this.layerPackets, this.layerFrames, this.layerBytesLo, this.layerBytesHi);
          break;
        }
        case 17:
        case 18: {
          const childEnd = this.readChildEnd();
          if (this.failure !== 0) return;
          this.parseTimestamp(childEnd, DEPTH_STREAM + 1);
          break;
        }
        case 19: this.readVarint32(); break; // packets_out_of_order: not folded (R12)
        default: this.skipField(tag & 7, fieldNo, RECURSION_LIMIT - DEPTH_STREAM, tagStart);
      }
      if (this.failure !== 0) return;
    }
  }

  private parseStat(): void {
    const end = this.limit;
    const w = this.w;
    const d = this.delta;
    const s = this.stream;
    while (this.pos < end) {
      const tagStart = this.pos;
      const tag = this.readTag();
      if (this.failure !== 0) return;
      const fieldNo = tag >>> 3;
      switch (fieldNo) {
        case 1: // analytics_key
        case 4: // node
        case 5: // room_id
        case 6: // room_name
        case 7: // participant_id
        case 8: // track_id
        case 11: // mime
        case 14: // id
          this.readString();
          break;
        case 2: this.readVarint32(); break; // kind: routing only (ingestBatch)
        case 3: {
          const childEnd = this.readChildEnd();
          if (this.failure !== 0) return;
          this.parseTimestamp(childEnd, DEPTH_STAT + 1);
          break;
        }
        case 9: this.pool.f32[d + W.SCORE] = this.readFloat(); break;
        case 12: // min_score
        case 13: // median_score
          this.readFloat();
          break;
        case 10: {
          if (++this.streamCount > LIMITS.maxStreamsPerStat && this.bound === 0) this.bound = TOO_MANY_STREAMS;
          const childEnd = this.readChildEnd();
          if (this.failure !== 0) return;
          s.fill(0);
          this.layerCount = 0;
          this.parseStream(childEnd);
          if (this.failure !== 0) return;
          // Go parity (R7): the top bit of any u32 counter or of any u64 counter's hi word
          const bits =
            s[S_PRIMARY_PACKETS]! | s[S_RETRANSMIT_PACKETS]! | s[S_PADDING_PACKETS]! | s[S_PACKETS_LOST]! |
            s[S_FRAMES]! | s[S_NACKS]! | s[S_PLIS]! | s[S_FIRS]! |
            s[S_PRIMARY_BYTES + 1]! | s[S_RETRANSMIT_BYTES + 1]! | s[S_PADDING_BYTES + 1]!;
          if (bits >>> 31 !== 0) this.invalid = true;
          else foldStream(w, d, s);
          break;
        }
        default: this.skipField(tag & 7, fieldNo, RECURSION_LIMIT - DEPTH_STAT, tagStart);
      }
      if (this.failure !== 0) return;
    }
  }
}

/** Folds one stream scratch record into slot word base `d` (R8; assembly/fold.ts foldStream). */
function foldStream(w: Uint32Array, d: number, s: Uint32Array): void {
  const o = d + STREAM_TO_SLOT;
  for (let k = S_PRIMARY_PACKETS; k <= S_FIRS; k++) w[o + k] = w[o + k]! + s[k]!;
  if (s[S_RTT]! > w[o + S_RTT]!) w[o + S_RTT] = s[S_RTT]!;
  if (s[S_JITTER]! > w[o + S_JITTER]!) w[o + S_JITTER] = s[S_JITTER]!;
  addU64(w, o + S_PRIMARY_BYTES, s[S_PRIMARY_BYTES]!, s[S_PRIMARY_BYTES + 1]!);
  addU64(w, o + S_RETRANSMIT_BYTES, s[S_RETRANSMIT_BYTES]!, s[S_RETRANSMIT_BYTES + 1]!);
  addU64(w, o + S_PADDING_BYTES, s[S_PADDING_BYTES]!, s[S_PADDING_BYTES + 1]!);
}
