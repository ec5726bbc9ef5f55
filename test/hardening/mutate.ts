/**
 * The hardening fuzzer's shared parts: a seeded mutator of encoded `AnalyticsStat` messages, the
 * oracle (protobuf-es `fromBinary` plus the project's two deliberate rejections) and a harness
 * that runs one input through `StatsWorker.onTrackStatBytes` and `TelemetryService.ingestBatch`
 * on both engines and compares everything against the ts engine fed the decoded object.
 *
 * Used by test/hardening/fuzz.test.ts (a fixed budget in `npm test`) and scripts/fuzz.ts (a
 * timed run that saves failing inputs under test/fixtures/fuzz/).
 *
 * @module
 */
import type { Profile } from "../../src/engine/profile.ts";
import { create, fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  LIMITS,
  StatsWorker,
  StreamType,
  TelemetryService,
  isDecodeError,
  isLimitError,
  loadEngine,
  type AnalyticsStat,
  type Engine,
  type TelemetryCounters,
} from "../../src/index.ts";
import { Random } from "../../src/sim/random.ts";

// ---------------------------------------------------------------------------------------------
// Wire helpers

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

/** The field numbers of each message the mutator knows, to aim at known and unknown fields. */
const STAT_FIELDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const UNKNOWN_FIELDS = [15, 16, 20, 31, 100, 1000, 2 ** 29 - 1];

// ---------------------------------------------------------------------------------------------
// The seed corpus: valid stats, routed to the fuzz harness's participants

/** Room and participants the harness registers; most seeds route to `PARTICIPANT`. */
export const ROOM = "RM_fuzz";
export const PARTICIPANT = "PA_fuzz";
/** the participant the clean stats of batches go to */
export const CLEAN_PARTICIPANT = "PA_clean";

const U32_EDGES = [0, 1, 127, 128, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
const U64_EDGES = [0n, 1n, (1n << 32n) - 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

/** A valid random stat; `edgy` makes counters edge values (invalid ones included, R7). */
export function randomStat(r: Random, edgy = r.chance(0.2)): AnalyticsStat {
  const u32 = () => (edgy && r.chance(0.3) ? r.pick(U32_EDGES) : r.int(0, 5000));
  const u64 = () => (edgy && r.chance(0.3) ? r.pick(U64_EDGES) : BigInt(r.int(0, 5_000_000)));
  const streams = [];
  for (let s = r.int(0, 3); s > 0; s--) {
    const videoLayers = [];
    for (let l = r.int(0, 3); l > 0; l--) {
      videoLayers.push({ layer: r.chance(0.1) ? r.pick([-1, -2, 2 ** 31 - 1]) : r.int(0, 3), packets: u32(), bytes: u64(), frames: u32() });
    }
    streams.push({
      ssrc: r.u32(), primaryPackets: u32(), primaryBytes: u64(), retransmitPackets: u32(), retransmitBytes: u64(),
      paddingPackets: u32(), paddingBytes: u64(), packetsLost: u32(), frames: u32(), rtt: r.u32(), jitter: u32(),
      nacks: u32(), plis: u32(), firs: u32(), videoLayers,
      ...(r.chance(0.2) ? { startTime: timestampFromMs(r.int(0, 2 ** 41)), endTime: timestampFromMs(r.int(0, 2 ** 41)), packetsOutOfOrder: u32() } : {}),
    });
  }
  const participantId = r.chance(0.8) ? PARTICIPANT : r.pick([CLEAN_PARTICIPANT, "PA_nobody", ""]);
  return create(AnalyticsStatSchema, {
    analyticsKey: r.chance(0.2) ? "key" : "",
    kind: r.pick([StreamType.UPSTREAM, StreamType.DOWNSTREAM, StreamType.DOWNSTREAM, 2 as StreamType]),
    ...(r.chance(0.3) ? { timeStamp: timestampFromMs(r.int(0, 2 ** 41)) } : {}),
    node: r.chance(0.2) ? "node-é" : "",
    roomId: r.chance(0.9) ? ROOM : "RM_other",
    roomName: r.chance(0.3) ? "röom 🎥" : "",
    participantId,
    trackId: r.pick(["TR_a", "TR_b", "TR_ü", ""]),
    score: r.chance(0.1) ? r.pick([NaN, Infinity, -0, 3.4e38]) : Math.fround(r.float() * 5),
    streams,
    mime: r.chance(0.3) ? "video/VP8" : "",
    ...(r.chance(0.2) ? { minScore: 1.5, medianScore: 3.25, id: "AS_x" } : {}),
  });
}

/** `count` encoded seed stats. */
export function seedCorpus(r: Random, count = 64): Uint8Array[] {
  return Array.from({ length: count }, () => toBinary(AnalyticsStatSchema, randomStat(r)));
}

// ---------------------------------------------------------------------------------------------
// The mutator

interface Field {
  start: number;
  payloadStart: number;
  end: number;
  fieldNo: number;
  wireType: number;
}

/** Splits `b` into top-level fields, or undefined when it does not parse plainly (no groups). */
function fields(b: readonly number[]): Field[] | undefined {
  const out: Field[] = [];
  let p = 0;
  const readVarint = (): number | undefined => {
    let v = 0;
    for (let i = 0; i < 10; i++) {
      if (p >= b.length) return undefined;
      const x = b[p++]!;
      v += (x & 0x7f) * 2 ** (7 * i);
      if ((x & 0x80) === 0) return v;
    }
    return undefined;
  };
  while (p < b.length) {
    const start = p;
    const t = readVarint();
    if (t === undefined) return undefined;
    const wireType = t % 8;
    const fieldNo = Math.floor(t / 8);
    let payloadStart = p;
    switch (wireType) {
      case 0:
        if (readVarint() === undefined) return undefined;
        break;
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      case 2: {
        const n = readVarint();
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

const INVALID_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x8e]];
const VALID_UTF8 = [[0xef, 0xbb, 0xbf], [0xf0, 0x9f, 0x8e, 0xa5], [0xc3, 0xa9], [0xed, 0x9f, 0xbf]];

/** Mutates encoded stats. Every choice comes from the seeded PRNG. */
export class Mutator {
  constructor(
    readonly r: Random,
    readonly corpus: readonly Uint8Array[],
  ) {}

  private int(n: number): number {
    return Math.floor(this.r.float() * n);
  }

  private bytes(n: number): number[] {
    return Array.from({ length: n }, () => this.int(256));
  }

  private fieldNo(): number {
    return this.r.chance(0.5) ? this.r.pick(STAT_FIELDS) : this.r.pick(UNKNOWN_FIELDS);
  }

  /** A random field of any wire type, 0-7; groups nested, sometimes broken. */
  unknownField(depth = 0): number[] {
    const no = this.fieldNo();
    const wt = this.int(8);
    const out = tag(no, wt);
    switch (wt) {
      case 0:
        out.push(...(this.r.chance(0.3) ? paddedVarint(this.int(128), 1 + this.int(12)) : varint(BigInt(this.r.u32()) * BigInt(this.r.u32()))));
        break;
      case 1:
        out.push(...this.bytes(8));
        break;
      case 2: {
        const n = this.int(8);
        out.push(...varint(n), ...this.bytes(n));
        break;
      }
      case 5:
        out.push(...this.bytes(4));
        break;
      case 3: {
        for (let k = this.int(4); k > 0; k--) {
          if (depth < 6) out.push(...this.unknownField(depth + 1));
        }
        const roll = this.r.float();
        if (roll < 0.8) out.push(...tag(no, 4));
        else if (roll < 0.9) out.push(...tag(no + 1, 4)); // mismatched end group
        // else unterminated
        break;
      }
      default:
        // 4 (an end group with nothing open), 6 and 7: nothing follows
        break;
    }
    return out;
  }

  /** Groups nested `depth` deep, around a payload. */
  nestedGroups(depth: number, inner: readonly number[] = []): number[] {
    const no = this.r.pick([16, 99, 2 ** 29 - 1]);
    const out: number[] = [];
    for (let d = 0; d < depth; d++) out.push(...tag(no, 3));
    out.push(...inner);
    for (let d = 0; d < depth; d++) out.push(...tag(no, 4));
    return out;
  }

  /** One mutation of `src`; `level` > 0 when mutating a nested message's payload. */
  mutateOnce(src: readonly number[], level = 0): number[] {
    const b = src.slice();
    const at = this.int(b.length + 1);
    const r = this.r;
    switch (this.int(14)) {
      case 0: // truncation
        return b.slice(0, at);
      case 1: // byte flips
        for (let k = 1 + this.int(3); k > 0 && b.length > 0; k--) {
          const i = this.int(b.length);
          const v = this.int(4);
          b[i] = v === 0 ? b[i]! ^ (1 << this.int(8)) : v === 1 ? this.int(256) : r.pick([0x00, 0x7f, 0x80, 0xff]);
        }
        return b;
      case 2: { // runaway varint: a known or unknown varint field of 9-14 bytes, or none ending
        const field = r.chance(0.5) ? r.pick(level === 0 ? [2, 12] : [2, 3, 9, 10]) : r.pick(UNKNOWN_FIELDS);
        const n = 9 + this.int(6);
        const v = tag(field, 0);
        for (let i = 0; i < n - 1; i++) v.push(0x80 | this.int(128));
        if (r.chance(0.8)) v.push(this.int(128));
        else return [...b.slice(0, at), ...v]; // runs to the end of the input
        b.splice(at, 0, ...v);
        return b;
      }
      case 3: { // a huge or off-by-one length
        const f = fields(b);
        const ld = f?.filter((x) => x.wireType === 2) ?? [];
        if (ld.length > 0 && r.chance(0.6)) {
          const x = r.pick(ld);
          const len = x.end - x.payloadStart;
          const huge = r.pick([len + 1, len + 2, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 28, 2 ** 35, len - 1]);
          const prefixStart = x.start + tag(x.fieldNo, 2).length;
          return [...b.slice(0, prefixStart), ...varint(Math.max(0, huge)), ...b.slice(x.payloadStart)];
        }
        const field = r.chance(0.5) ? r.pick([1, 3, 8, 10, 11]) : r.pick(UNKNOWN_FIELDS);
        b.splice(at, 0, ...tag(field, 2), ...varint(r.pick([2 ** 32 - 1, 2 ** 31, 1 << 20, 100])), ...this.bytes(this.int(4)));
        return b;
      }
      case 4: // unknown fields of every wire type
      case 5:
        for (let k = 1 + this.int(2); k > 0; k--) b.splice(this.int(b.length + 1), 0, ...this.unknownField());
        return fields(src) !== undefined && r.chance(0.5) ? [...src, ...this.unknownField()] : b;
      case 6: // random bytes
        return this.bytes(this.int(r.chance(0.5) ? 16 : 96));
      case 7: { // splices of valid stats: concatenation (merge), or a slice of another
        const other = Array.from(r.pick(this.corpus));
        if (r.chance(0.5)) return r.chance(0.5) ? [...b, ...other] : [...other, ...b];
        const from = this.int(other.length + 1);
        b.splice(at, 0, ...other.slice(from, from + 1 + this.int(24)));
        return b;
      }
      case 8: { // structure-aware: mutate a nested message's payload and fix its length
        const f = fields(b)?.filter((x) => x.wireType === 2 && (level === 0 ? x.fieldNo === 10 || x.fieldNo === 3 : x.fieldNo === 15 || x.fieldNo >= 17));
        if (f === undefined || f.length === 0) return this.mutateOnce(b, level);
        const x = r.pick(f);
        const inner = this.mutateOnce(b.slice(x.payloadStart, x.end), level + 1);
        return [...b.slice(0, x.start), ...lengthDelimited(x.fieldNo, inner), ...b.slice(x.end)];
      }
      case 9: { // a known field with another wire type
        const f = fields(b);
        if (f === undefined || f.length === 0) return this.mutateOnce(b, level);
        const x = r.pick(f);
        const t = tag(x.fieldNo, this.int(8));
        return [...b.slice(0, x.start), ...t, ...b.slice(x.start + tag(x.fieldNo, x.wireType).length)];
      }
      case 10: { // strings: invalid and valid UTF-8 edge sequences
        const seq = r.chance(0.6) ? r.pick(INVALID_UTF8) : r.pick(VALID_UTF8);
        const text = [0x41, ...seq, ...(r.chance(0.5) ? [0x42] : [])];
        b.splice(fields(b) ? b.length : at, 0, ...lengthDelimited(level === 0 ? r.pick([1, 4, 5, 6, 7, 8, 11, 14]) : 16, text));
        return b;
      }
      case 11: { // deep groups, around the recursion limit of 100
        const depth = r.pick([1, 2, 50, 97, 98, 99, 100, 101, 130]);
        b.splice(fields(b) ? b.length : at, 0, ...this.nestedGroups(depth, r.chance(0.3) ? paddedVarint(1, 11) : []));
        return b;
      }
      case 12: { // many streams or layers, near the limits
        const f = fields(b)?.filter((x) => x.wireType === 2 && x.fieldNo === (level === 0 ? 10 : 15));
        if (f === undefined || f.length === 0) {
          if (level !== 0) return this.mutateOnce(b, level);
          return [...b, ...manyStreams(this.r.pick([63, 64, 65, 66]), this.r.pick([0, 1, 32, 33]))];
        }
        const x = r.pick(f);
        const copy = b.slice(x.start, x.end);
        const n = r.pick(level === 0 ? [62, 63, 64, 65, 80] : [30, 31, 32, 33, 40]);
        for (let i = 0; i < n; i++) b.push(...copy);
        return b;
      }
      default: { // a field from another stat duplicated (singular: last wins; repeated: appends)
        const f = fields(b);
        if (f === undefined || f.length === 0) return b.concat(b);
        const x = r.pick(f);
        b.push(...b.slice(x.start, x.end));
        return b;
      }
    }
  }

  /** A new input: 1-3 mutations of a corpus entry. */
  next(): Uint8Array {
    let b = Array.from(this.r.pick(this.corpus));
    for (let k = 1 + this.int(3); k > 0; k--) b = this.mutateOnce(b);
    return Uint8Array.from(b);
  }
}

/** Streams with `layers` layers each, `count` of them, as AnalyticsStat field 10 records. */
function manyStreams(count: number, layers: number): number[] {
  const layer = lengthDelimited(15, [0x08, 0x01, 0x10, 0x05]);
  const stream: number[] = [0x10, 0x07];
  for (let i = 0; i < layers; i++) stream.push(...layer);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(...lengthDelimited(10, stream));
  return out;
}

/**
 * Deterministic edge inputs run before the random ones: limit boundaries, varint lengths, group
 * depths, wire types 6 and 7, end-group tags, the 1 MiB bound.
 */
export function edgeInputs(): { name: string; bytes: Uint8Array }[] {
  const base = [...lengthDelimited(5, [...Buffer.from(ROOM)]), ...lengthDelimited(7, [...Buffer.from(PARTICIPANT)]), ...lengthDelimited(8, [0x54])];
  const out: { name: string; bytes: Uint8Array }[] = [];
  const add = (name: string, bytes: number[]) => out.push({ name, bytes: Uint8Array.from(bytes) });
  for (const n of [63, 64, 65]) add(`${n} streams`, [...base, ...manyStreams(n, 1)]);
  for (const n of [31, 32, 33]) add(`${n} layers`, [...base, ...manyStreams(2, n)]);
  add("65 streams, the first with 33 layers", [...base, ...manyStreams(1, 33), ...manyStreams(64, 0)]);
  add("33 layers in stream 65", [...base, ...manyStreams(64, 0), ...manyStreams(1, 33)]);
  for (const n of [10, 11, 12]) {
    add(`unknown varint of ${n} bytes`, [...base, ...tag(20, 0), ...paddedVarint(1, n)]);
    add(`known varint of ${n} bytes`, [...base, ...lengthDelimited(10, [...tag(2, 0), ...paddedVarint(1, n)])]);
    add(`unknown varint of ${n} bytes in a group`, [...base, ...tag(20, 3), ...tag(21, 3), ...tag(1, 0), ...paddedVarint(1, n), ...tag(21, 4), ...tag(20, 4)]);
    add(`unknown varint of ${n} bytes in a layer`, [...base, ...lengthDelimited(10, lengthDelimited(15, [...tag(9, 0), ...paddedVarint(1, n)]))]);
    add(`unknown varint of ${n} bytes in a timestamp`, [...base, ...lengthDelimited(3, [...tag(9, 0), ...paddedVarint(1, n)])]);
  }
  const groups = (depth: number) => {
    const g: number[] = [];
    for (let d = 0; d < depth; d++) g.push(...tag(16, 3));
    for (let d = 0; d < depth; d++) g.push(...tag(16, 4));
    return g;
  };
  for (const depth of [97, 98, 99, 100, 101]) {
    add(`groups ${depth} deep in the stat`, [...base, ...groups(depth)]);
    add(`groups ${depth} deep in a stream`, [...base, ...lengthDelimited(10, groups(depth))]);
    add(`groups ${depth} deep in a layer`, [...base, ...lengthDelimited(10, lengthDelimited(15, groups(depth)))]);
  }
  add("wire type 6", [...base, ...tag(20, 6)]);
  add("wire type 7", [...base, ...tag(20, 7), 0]);
  add("end group with nothing open", [...base, ...tag(20, 4)]);
  add("end group of another field", [...base, ...tag(20, 3), ...tag(21, 4)]);
  add("unterminated group", [...base, ...tag(20, 3), ...tag(1, 0), 1]);
  add("field number 0", [...base, 0x00, 0x01]);
  add("tag of 5 bytes over uint32", [...base, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00]);
  add("tag of 6 bytes", [...base, 0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]);
  add("known field 10 as a varint", [...base, ...tag(10, 0), 0x02, 0x10, 0x05]);
  add("known field 9 as a varint", [...base, ...tag(9, 0), 1, 2, 3, 4]);
  add("stream overrunning its parent", [...base, ...lengthDelimited(10, [0x10]).slice(0, -1), 0x10, 0x85, 0x01]);
  // the 1 MiB bound: an unknown bytes field pads the message to exactly the limit, and one over
  for (const extra of [0, 1]) {
    const header = [...base, ...tag(20, 2)];
    const fill = LIMITS.maxMessageBytes + extra - header.length - 3; // 3-byte length prefix
    const bytes = new Uint8Array(LIMITS.maxMessageBytes + extra);
    bytes.set([...header, ...varint(fill)]);
    out.push({ name: `message of 1 MiB${extra ? " + 1" : ""}`, bytes });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The oracle

/** What the project must do with an input. */
export type Expectation =
  | { readonly accept: true; readonly stat: AnalyticsStat }
  | { readonly accept: false; readonly why: "protobuf-es" | "over-long varint" | "limit"; readonly error: "DecodeError" | "LimitError"; readonly codes: readonly string[] };

/** True when an unknown varint anywhere in `message`'s unknown fields is longer than 10 bytes. */
function hasOverlongUnknownVarint(message: Message): boolean {
  for (const field of message.$unknown ?? []) {
    if (field.wireType === 0 && field.data.length > 10) return true;
    if (field.wireType === 3 && groupHasOverlongVarint(field.data)) return true;
  }
  return false;
}

// a group's raw bytes (up to and including its end tag) as protobuf-es keeps them; well-formed,
// since protobuf-es accepted them, so a plain walk suffices
function groupHasOverlongVarint(data: Uint8Array): boolean {
  let p = 0;
  const skipVarint = (): number => {
    const start = p;
    while (data[p++]! & 0x80);
    return p - start;
  };
  const readVarint = (): number => {
    let v = 0;
    let shift = 0;
    let b: number;
    do {
      b = data[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  };
  while (p < data.length) {
    const t = readVarint();
    switch (t & 7) {
      case 0:
        if (skipVarint() > 10) return true;
        break;
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      case 2: {
        // not `p += readVarint()`: that reads p before readVarint moves it
        const n = readVarint();
        p += n;
        break;
      }
      default: // 3 and 4: nesting needs no bookkeeping to find varints
        break;
    }
  }
  return false;
}

/** What protobuf-es `fromBinary` and the documented deliberate rules say about `bytes`. */
export function expectation(bytes: Uint8Array): Expectation {
  if (bytes.length > LIMITS.maxMessageBytes) return { accept: false, why: "limit", error: "LimitError", codes: ["message_too_large"] };
  let stat: AnalyticsStat;
  try {
    stat = fromBinary(AnalyticsStatSchema, bytes);
  } catch {
    return { accept: false, why: "protobuf-es", error: "DecodeError", codes: [] };
  }
  const messages: Message[] = [stat];
  if (stat.timeStamp) messages.push(stat.timeStamp);
  for (const s of stat.streams) {
    messages.push(s, ...s.videoLayers);
    if (s.startTime) messages.push(s.startTime);
    if (s.endTime) messages.push(s.endTime);
  }
  if (messages.some(hasOverlongUnknownVarint)) return { accept: false, why: "over-long varint", error: "DecodeError", codes: ["bad_varint"] };
  const codes: string[] = [];
  if (stat.streams.length > LIMITS.maxStreamsPerStat) codes.push("too_many_streams");
  if (stat.streams.some((s) => s.videoLayers.length > LIMITS.maxLayersPerStream)) codes.push("too_many_layers");
  if (codes.length > 0) return { accept: false, why: "limit", error: "LimitError", codes };
  return { accept: true, stat };
}

// ---------------------------------------------------------------------------------------------
// The harness

/** How one input is fed; every field is drawn from the PRNG, or fixed when replaying a fixture. */
export interface FeedConfig {
  /** the track the input goes to in the worker path: a fresh one, the clean track, or a reused one */
  readonly track: "fresh" | "clean" | "reused";
  readonly direction: StreamType;
  /** batch framing damage after the input's message: none, a truncated batch, a broken prefix */
  readonly framing: "intact" | "truncated" | "bad-prefix";
}

/** Every config a fixture is replayed with. */
export const FIXTURE_CONFIGS: readonly FeedConfig[] = (["fresh", "clean", "reused"] as const).flatMap((track) =>
  [StreamType.UPSTREAM, StreamType.DOWNSTREAM].map((direction) => ({ track, direction, framing: "intact" as const })),
);

/** A random config. */
export function randomConfig(r: Random): FeedConfig {
  return {
    track: r.pick(["fresh", "clean", "reused"] as const),
    direction: r.pick([StreamType.UPSTREAM, StreamType.DOWNSTREAM, 5 as StreamType]),
    framing: r.chance(0.9) ? "intact" : r.pick(["truncated", "bad-prefix"] as const),
  };
}

/** The outcome of one call: accepted, or the typed error's class, code, batch index and offset. */
type Outcome = { ok: true } | { ok: false; name: string; code: string; index: number; offset: number; message: string };

const FIXED_MS = Date.UTC(2026, 10, 25, 12, 0, 0, 123);
const now = () => new Date(FIXED_MS);

function typedOutcome(err: unknown): Outcome {
  if (!(err instanceof Error)) throw new FuzzFailure(`a non-Error was thrown: ${String(err)}`);
  if (!isDecodeError(err) && !isLimitError(err)) {
    throw new FuzzFailure(`untyped error ${err.name}: ${err.message}${err.stack ? `\n${err.stack}` : ""}`);
  }
  const e = err as Error & { code: string; index?: number; offset?: number };
  return { ok: false, name: e.name, code: e.code, index: e.index ?? -1, offset: e.offset ?? -1, message: e.message };
}

function attempt(fn: () => void): Outcome {
  try {
    fn();
    return { ok: true };
  } catch (err) {
    if (err instanceof FuzzFailure) throw err;
    return typedOutcome(err);
  }
}

/** A broken expectation; its message says what differed. */
export class FuzzFailure extends Error {
  override readonly name = "FuzzFailure";
}

const bigintSafe = (_: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : typeof v === "number" && !Number.isFinite(v) ? String(v) : v);
const show = (x: unknown) => JSON.stringify(x, bigintSafe);

function sortStats(stats: AnalyticsStat[]): AnalyticsStat[] {
  return [...stats].sort((a, b) =>
    a.participantId.localeCompare(b.participantId) || a.kind - b.kind || a.trackId.localeCompare(b.trackId),
  );
}

function sameStats(actual: AnalyticsStat[], expected: AnalyticsStat[]): boolean {
  if (actual.length !== expected.length) return false;
  const a = sortStats(actual);
  const e = sortStats(expected);
  for (let i = 0; i < a.length; i++) {
    // toBinary compares every field; scores are compared as float32 bits except NaN payloads
    const x = { ...a[i]! };
    const y = { ...e[i]! };
    if (Number.isNaN(x.score) && Number.isNaN(y.score)) x.score = y.score = 0;
    if (Object.is(x.score, -0) !== Object.is(y.score, -0)) return false;
    const bx = toBinary(AnalyticsStatSchema, x);
    const by = toBinary(AnalyticsStatSchema, y);
    if (bx.length !== by.length || !bx.every((v, k) => v === by[k])) return false;
  }
  return true;
}

interface Lane {
  readonly kind: "ts" | "wasm";
  readonly worker: StatsWorker;
  readonly workerOut: AnalyticsStat[];
  readonly service: TelemetryService;
  readonly serviceOut: AnalyticsStat[];
}

/** Clean stats fed around every input; their results must never change. */
interface Clean {
  readonly obj: AnalyticsStat;
  readonly bytes: Uint8Array;
  readonly delimited: Uint8Array;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Per-outcome tallies of a run. */
export type Tally = Record<string, number>;

/**
 * Runs inputs through both engines and the oracle. One instance keeps its workers and services
 * (and one wasm instance) for its whole life, as a host would.
 */
export class FuzzHarness {
  readonly tally: Tally = {};
  private readonly lanes: Lane[];
  private readonly oracleWorker: StatsWorker;
  private readonly oracleWorkerOut: AnalyticsStat[] = [];
  private readonly oracleService: TelemetryService;
  private readonly oracleServiceOut: AnalyticsStat[] = [];
  private readonly clean: Clean[];
  private fresh = 0;
  /** inputs checked so far */
  count = 0;

  private constructor(ts: Engine, wasm: Engine, oracleEngine: Engine, readonly strict: boolean) {
    const r = new Random(0xc1ea4);
    this.clean = Array.from({ length: 8 }, (_, i) => {
      const obj = randomStat(r, i % 4 === 3);
      obj.roomId = ROOM;
      obj.participantId = CLEAN_PARTICIPANT;
      obj.trackId = "clean";
      obj.kind = i % 2 === 0 ? StreamType.UPSTREAM : StreamType.DOWNSTREAM;
      return { obj, bytes: toBinary(AnalyticsStatSchema, obj), delimited: sizeDelimitedEncode(AnalyticsStatSchema, obj) };
    });
    const join = (service: TelemetryService) => {
      for (const p of [PARTICIPANT, CLEAN_PARTICIPANT]) service.participantJoined({ sid: ROOM, name: "fuzz" }, { sid: p, identity: p });
    };
    this.lanes = [ts, wasm].map((engine) => {
      const workerOut: AnalyticsStat[] = [];
      const serviceOut: AnalyticsStat[] = [];
      const worker = new StatsWorker({
        engine, reporter: { report: (s) => void workerOut.push(...s) },
        roomId: ROOM, roomName: "fuzz", participantId: "PA_worker", participantIdentity: "w", now,
      });
      // the wasm service reports encoded batches (its bytes-out path), the ts one objects
      const service = new TelemetryService({
        engine, now,
        reporter: engine.kind === "wasm"
          ? { report: () => { throw new FuzzFailure("report() called where reportBytes() exists"); }, reportBytes: (b) => void serviceOut.push(...fromBinary(AnalyticsStatsSchema, b).stats) }
          : { report: (s) => void serviceOut.push(...s) },
      });
      join(service);
      return { kind: engine.kind, worker, workerOut, service, serviceOut };
    });
    this.oracleWorker = new StatsWorker({
      engine: oracleEngine, reporter: { report: (s) => void this.oracleWorkerOut.push(...s) },
      roomId: ROOM, roomName: "fuzz", participantId: "PA_worker", participantIdentity: "w", now,
    });
    this.oracleService = new TelemetryService({ engine: oracleEngine, now, reporter: { report: (s) => void this.oracleServiceOut.push(...s) } });
    join(this.oracleService);
  }

  /**
   * A harness with fresh engines of both kinds (and a separate ts engine for the oracle).
   *
   * `strict` false tolerates (and tallies) the KNOWN_ISSUES, so a run can look past them for
   * other failures; strict is the contract.
   */
  static async create(strict = true, profile: Profile = "livekit-v1.2"): Promise<FuzzHarness> {
    const load = (kind: "ts" | "wasm") => loadEngine(kind, { profile });
    return new FuzzHarness(await load("ts"), await load("wasm"), await load("ts"), strict);
  }

  private bump(key: string): void {
    this.tally[key] = (this.tally[key] ?? 0) + 1;
  }

  /**
   * Checks one input under `config`; throws a FuzzFailure describing the first difference.
   * `pick` chooses the clean stats (an index into 8).
   */
  check(bytes: Uint8Array, config: FeedConfig, pick: (n: number) => number = (n) => this.count % n): void {
    this.count++;
    const expect = expectation(bytes);
    this.bump(expect.accept ? "accepted" : `rejected: ${expect.why}`);
    const cleanA = this.clean[pick(8)]!;
    const cleanB = this.clean[pick(8)]!;
    const cleanC = this.clean[pick(8)]!;
    const trackId = config.track === "clean" ? "clean" : config.track === "reused" ? "X" : `X${this.fresh++}`;
    const where = () => `(input ${this.count}, config ${show(config)}, expected ${expect.accept ? "accept" : `${expect.why} ${expect.error} ${expect.codes.join("|")}`})`;

    // --- StatsWorker.onTrackStatBytes -----------------------------------------------------------
    const workerOutcomes = this.lanes.map((lane) => {
      lane.workerOut.length = 0;
      const before = { ...lane.worker.counters };
      const o = (fn: () => void, what: string) => {
        const out = attempt(fn);
        if (!out.ok) throw new FuzzFailure(`[${lane.kind}] clean ${what} threw ${out.name} ${out.code}: ${out.message} ${where()}`);
      };
      o(() => lane.worker.onTrackStatBytes("clean", StreamType.UPSTREAM, cleanA.bytes), "bytes before");
      const outcome = attempt(() => lane.worker.onTrackStatBytes(trackId, config.direction, bytes));
      o(() => lane.worker.onTrackStat("cleanObj", StreamType.DOWNSTREAM, cleanB.obj), "object after");
      o(() => lane.worker.onTrackStatBytes("clean", StreamType.UPSTREAM, cleanC.bytes), "bytes after");
      o(() => lane.worker.update(), "update()");
      const c = lane.worker.counters;
      return { lane, outcome, malformed: c.malformed - before.malformed, statsIn: c.statsIn - before.statsIn };
    });
    this.oracleWorkerOut.length = 0;
    this.oracleWorker.onTrackStat("clean", StreamType.UPSTREAM, cleanA.obj);
    if (expect.accept) this.oracleWorker.onTrackStat(trackId, config.direction, expect.stat);
    this.oracleWorker.onTrackStat("cleanObj", StreamType.DOWNSTREAM, cleanB.obj);
    this.oracleWorker.onTrackStat("clean", StreamType.UPSTREAM, cleanC.obj);
    this.oracleWorker.update();
    for (const { lane, outcome, malformed, statsIn } of workerOutcomes) {
      this.judge(lane.kind, "onTrackStatBytes", outcome, expect, where);
      if (malformed !== (outcome.ok ? 0 : 1) || statsIn !== (outcome.ok ? 4 : 3)) {
        throw new FuzzFailure(`[${lane.kind}] worker counters moved by malformed ${malformed}, statsIn ${statsIn} ${where()}`);
      }
      if (!sameStats(lane.workerOut, this.oracleWorkerOut)) {
        throw new FuzzFailure(`[${lane.kind}] worker reported\n  ${show(sortStats(lane.workerOut))}\nexpected\n  ${show(sortStats(this.oracleWorkerOut))} ${where()}`);
      }
    }
    this.sameTypedOutcome(workerOutcomes[0]!.outcome, workerOutcomes[1]!.outcome, "onTrackStatBytes", where, false);

    // --- TelemetryService.ingestBatch -----------------------------------------------------------
    const message = concat([Uint8Array.from(varint(bytes.length)), bytes]);
    let tail = cleanC.delimited;
    if (config.framing === "truncated") tail = tail.subarray(0, Math.max(1, tail.length >> 1));
    else if (config.framing === "bad-prefix") tail = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01, ...tail);
    const batch = concat([cleanA.delimited, message, tail]);
    const serviceOutcomes = this.lanes.map((lane) => {
      lane.serviceOut.length = 0;
      const before = { ...lane.service.counters };
      const outcome = attempt(() => lane.service.ingestBatch(batch));
      const flushed = attempt(() => lane.service.flush());
      if (!flushed.ok) throw new FuzzFailure(`[${lane.kind}] flush() threw ${flushed.name}: ${flushed.message} ${where()}`);
      return { lane, outcome, delta: delta(lane.service.counters, before) };
    });
    this.oracleServiceOut.length = 0;
    const oracleBefore = { ...this.oracleService.counters };
    const route = (s: AnalyticsStat) => this.oracleService.trackStats(s.roomId, s.participantId, s.trackId, s.kind, s);
    route(cleanA.obj);
    if (expect.accept) route(expect.stat);
    if (config.framing === "intact") route(cleanC.obj);
    this.oracleService.flush();
    const oracleDelta = delta(this.oracleService.counters, oracleBefore);
    const expectedMalformed = expect.accept ? 0 : 1;
    for (const { lane, outcome, delta: d } of serviceOutcomes) {
      if (config.framing !== "intact") {
        // the batch ends at the broken prefix (index 2) with a DecodeError; the input's own
        // error, if any, comes first (index 1)
        if (outcome.ok || outcome.name !== "DecodeError" && expect.accept) {
          throw new FuzzFailure(`[${lane.kind}] ingestBatch with ${config.framing} framing gave ${show(outcome)} ${where()}`);
        }
        if (expect.accept && outcome.index !== 2) throw new FuzzFailure(`[${lane.kind}] framing error at index ${(outcome as { index: number }).index}, expected 2 ${where()}`);
      } else {
        this.judge(lane.kind, "ingestBatch", outcome, expect, where);
      }
      if (!outcome.ok && !expect.accept && outcome.name === "DecodeError" && outcome.index !== 1) {
        throw new FuzzFailure(`[${lane.kind}] ingestBatch DecodeError names message ${outcome.index}, expected 1 ${where()}`);
      }
      for (const k of ["statsIn", "invalid", "dropped"] as const) {
        if (d[k] !== oracleDelta[k]) throw new FuzzFailure(`[${lane.kind}] service ${k} moved by ${d[k]}, the oracle's by ${oracleDelta[k]} ${where()}`);
      }
      if (d.malformed !== expectedMalformed) throw new FuzzFailure(`[${lane.kind}] service malformed moved by ${d.malformed}, expected ${expectedMalformed} ${where()}`);
      if (!sameStats(lane.serviceOut, this.oracleServiceOut)) {
        throw new FuzzFailure(`[${lane.kind}] service reported\n  ${show(sortStats(lane.serviceOut))}\nexpected\n  ${show(sortStats(this.oracleServiceOut))} ${where()}`);
      }
    }
    this.sameTypedOutcome(serviceOutcomes[0]!.outcome, serviceOutcomes[1]!.outcome, "ingestBatch", where, true);
  }

  private judge(kind: string, path: string, outcome: Outcome, expect: Expectation, where: () => string): void {
    if (expect.accept) {
      if (!outcome.ok) throw new FuzzFailure(`[${kind}] ${path} rejected what protobuf-es accepts: ${outcome.name} ${outcome.code}: ${outcome.message} ${where()}`);
      return;
    }
    if (outcome.ok) throw new FuzzFailure(`[${kind}] ${path} accepted an input that must be rejected ${where()}`);
    if (outcome.name !== expect.error || (expect.codes.length > 0 && !expect.codes.includes(outcome.code))) {
      throw new FuzzFailure(`[${kind}] ${path} threw ${outcome.name} ${outcome.code} (${outcome.message}) ${where()}`);
    }
    this.bump(`${path} ${outcome.name} ${outcome.code}`);
  }

  private sameTypedOutcome(ts: Outcome, wasm: Outcome, path: string, where: () => string, offsets: boolean): void {
    if (ts.ok !== wasm.ok) throw new FuzzFailure(`${path}: ts ${show(ts)} but wasm ${show(wasm)} ${where()}`);
    if (ts.ok || wasm.ok) return;
    if (!this.strict && ts.name === wasm.name && ts.index === wasm.index && ts.code !== wasm.code) {
      const known = KNOWN_ISSUES.find((k) => k.matches(ts, wasm));
      if (known !== undefined) {
        this.bump(`known issue: ${known.name}`);
        return;
      }
    }
    if (ts.name !== wasm.name || ts.code !== wasm.code || ts.index !== wasm.index || (offsets && ts.offset !== wasm.offset)) {
      throw new FuzzFailure(`${path}: engines disagree: ts ${ts.name} ${ts.code} index ${ts.index} offset ${ts.offset} (${ts.message}), wasm ${wasm.name} ${wasm.code} index ${wasm.index} offset ${wasm.offset} (${wasm.message}) ${where()}`);
    }
  }
}

type Failed = Extract<Outcome, { ok: false }>;

/**
 * Engine disagreements found by this fuzzer and reported, which a non-strict harness tolerates
 * (and tallies) so that a run can look for other failures. Remove an entry once it is fixed.
 */
export const KNOWN_ISSUES: readonly { name: string; matches: (ts: Failed, wasm: Failed) => boolean }[] = [
  // none open: the two found first (limit-code and error-code precedence, test/fixtures/fuzz/README.md)
  // were fixed in 2734022
];

function delta(after: TelemetryCounters, before: TelemetryCounters): TelemetryCounters {
  const out = { ...after };
  for (const k of Object.keys(out) as (keyof TelemetryCounters)[]) out[k] -= before[k];
  return out;
}

/** The first 16 hex digits of the SHA-256 of `bytes`: a fixture's file name. */
export async function fixtureName(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("") + ".bin";
}

/** The directory of regression fixtures. */
export const FIXTURE_DIR = new URL("../fixtures/fuzz/", import.meta.url);

/** `{ name, bytes }` of every `*.bin` fixture, sorted by name. */
export async function loadFixtures(): Promise<{ name: string; bytes: Uint8Array }[]> {
  const { readdir, readFile } = await import("node:fs/promises");
  let names: string[];
  try {
    names = (await readdir(FIXTURE_DIR)).filter((n) => n.endsWith(".bin")).sort();
  } catch {
    return [];
  }
  return Promise.all(names.map(async (name) => ({ name, bytes: new Uint8Array(await readFile(new URL(name, FIXTURE_DIR))) })));
}
