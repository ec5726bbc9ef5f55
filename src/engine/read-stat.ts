/**
 * Reading a stat object, once.
 *
 * Users hold stats in several shapes: protobuf-es v2 messages, their init shapes (plain objects
 * whose omitted fields take their defaults, as `create()` takes them), and `@livekit/protocol`
 * message instances (protobuf-es v1 classes). Both engines read every one of them through
 * {@link StatReader}: each field exactly once, checked for its type and range, into one reused
 * snapshot. No getter or Proxy can then show the limit check one array and the copy another, and
 * both engines refuse the same inputs with the same `ArgumentError`.
 *
 * @module
 */
import { ArgumentError } from "../errors.ts";
import { limitError, LIMITS } from "../limits.ts";

/** A `google.protobuf.Timestamp` in any of the accepted shapes. */
export interface TimestampInput {
  readonly seconds?: bigint;
  readonly nanos?: number;
}

/** An `AnalyticsVideoLayer` in any of the accepted shapes; omitted fields are 0. */
export interface AnalyticsVideoLayerInput {
  readonly layer?: number;
  readonly packets?: number;
  readonly bytes?: bigint;
  readonly frames?: number;
}

/** An `AnalyticsStream` in any of the accepted shapes; omitted fields are 0 or empty. */
export interface AnalyticsStreamInput {
  readonly ssrc?: number;
  readonly primaryPackets?: number;
  readonly primaryBytes?: bigint;
  readonly retransmitPackets?: number;
  readonly retransmitBytes?: bigint;
  readonly paddingPackets?: number;
  readonly paddingBytes?: bigint;
  readonly packetsLost?: number;
  readonly frames?: number;
  readonly rtt?: number;
  readonly jitter?: number;
  readonly nacks?: number;
  readonly plis?: number;
  readonly firs?: number;
  readonly videoLayers?: readonly AnalyticsVideoLayerInput[];
  readonly startTime?: TimestampInput | undefined;
  readonly endTime?: TimestampInput | undefined;
  readonly packetsOutOfOrder?: number;
}

/**
 * An `AnalyticsStat` as `onTrackStat`, `trackStats`, `coalesce` and `isValid` take it: a
 * protobuf-es message (`AnalyticsStat`), its init shape (a plain object; omitted fields take
 * their defaults), or a `@livekit/protocol` `AnalyticsStat` instance. 64-bit counters are
 * `bigint`s, 32-bit ones integer `number`s; anything else is an `ArgumentError` naming the field.
 */
export interface AnalyticsStatInput {
  readonly analyticsKey?: string;
  readonly kind?: number;
  readonly timeStamp?: TimestampInput | undefined;
  readonly node?: string;
  readonly roomId?: string;
  readonly roomName?: string;
  readonly participantId?: string;
  readonly trackId?: string;
  readonly score?: number;
  readonly streams?: readonly AnalyticsStreamInput[];
  readonly mime?: string;
  readonly minScore?: number;
  readonly medianScore?: number;
  readonly id?: string;
}

/** One video layer of a {@link StatSnapshot}. */
export class LayerSnapshot {
  layer = 0;
  packets = 0;
  bytes = 0n;
  frames = 0;
}

/** One stream of a {@link StatSnapshot}; `layers[0, layerCount)` are its video layers. */
export class StreamSnapshot {
  primaryPackets = 0;
  primaryBytes = 0n;
  retransmitPackets = 0;
  retransmitBytes = 0n;
  paddingPackets = 0;
  paddingBytes = 0n;
  packetsLost = 0;
  frames = 0;
  rtt = 0;
  jitter = 0;
  nacks = 0;
  plis = 0;
  firs = 0;
  packetsOutOfOrder = 0;
  /** whether `startTime` was set, and its value */
  hasStartTime = false;
  startSeconds = 0n;
  startNanos = 0;
  /** whether `endTime` was set, and its value */
  hasEndTime = false;
  endSeconds = 0n;
  endNanos = 0;
  layerCount = 0;
  readonly layers: LayerSnapshot[] = [];
}

/**
 * The values of one stat that coalescing reads, checked; `streams[0, streamCount)` are its
 * streams. A snapshot is reused by the next `read()`: read what you need before then.
 */
export class StatSnapshot {
  score = 0;
  mime = "";
  streamCount = 0;
  readonly streams: StreamSnapshot[] = [];
}

const TWO_32 = 2 ** 32;
const TWO_64 = 1n << 64n;

/** Reads stat objects into one reused {@link StatSnapshot}; allocates only to grow it. */
export class StatReader {
  private readonly snapshot = new StatSnapshot();

  /**
   * Reads `input` whole, or throws and leaves nothing half-read to act on. With `full`, also the
   * fields only the livekit-current profile reads (`mime`, `packetsOutOfOrder`, stream times);
   * without it they are neither read nor checked, and their snapshot fields are stale.
   *
   * @throws ArgumentError naming the field of a wrong type or out of range
   * @throws LimitError when the stat has more streams or layers than `LIMITS`
   */
  read(input: AnalyticsStatInput, full: boolean): StatSnapshot {
    if (input === null || typeof input !== "object") throw new ArgumentError(`invalid stat: expected an AnalyticsStat, got ${describe(input)}`);
    const snap = this.snapshot;
    const score = input.score;
    // any number, NaN and the infinities included: they propagate as float32 arithmetic does
    snap.score = typeof score === "number" ? score : float(score, "score");
    if (full) snap.mime = text(input.mime, "mime");
    const streams = list(input.streams, "streams", -1);
    const streamCount = streams === undefined ? 0 : streams.length;
    if (streamCount > LIMITS.maxStreamsPerStat) throw limitError.tooManyStreams();
    while (snap.streams.length < streamCount) snap.streams.push(new StreamSnapshot());
    for (let i = 0; i < streamCount; i++) readStream(streams![i], i, snap.streams[i]!, full);
    snap.streamCount = streamCount;
    return snap;
  }
}

// Each field is checked inline where it is well-formed (the common case: a call per field would
// not be inlined into readStream); the functions below handle the rest, undefined included.
// `v >>> 0 === v` holds exactly for the integers in [0, 2^32), `(v | 0) === v` for the int32s.
function readStream(input: AnalyticsStreamInput | undefined, i: number, out: StreamSnapshot, full: boolean): void {
  if (input === null || typeof input !== "object") fail(path("", i, -1), "expected an AnalyticsStream", input);
  let v: unknown;
  v = input.primaryPackets;
  out.primaryPackets = typeof v === "number" && v >>> 0 === v ? v : u32(v, "primaryPackets", i);
  v = input.primaryBytes;
  out.primaryBytes = typeof v === "bigint" && v >= 0n && v < TWO_64 ? v : u64(v, "primaryBytes", i);
  v = input.retransmitPackets;
  out.retransmitPackets = typeof v === "number" && v >>> 0 === v ? v : u32(v, "retransmitPackets", i);
  v = input.retransmitBytes;
  out.retransmitBytes = typeof v === "bigint" && v >= 0n && v < TWO_64 ? v : u64(v, "retransmitBytes", i);
  v = input.paddingPackets;
  out.paddingPackets = typeof v === "number" && v >>> 0 === v ? v : u32(v, "paddingPackets", i);
  v = input.paddingBytes;
  out.paddingBytes = typeof v === "bigint" && v >= 0n && v < TWO_64 ? v : u64(v, "paddingBytes", i);
  v = input.packetsLost;
  out.packetsLost = typeof v === "number" && v >>> 0 === v ? v : u32(v, "packetsLost", i);
  v = input.frames;
  out.frames = typeof v === "number" && v >>> 0 === v ? v : u32(v, "frames", i);
  v = input.rtt;
  out.rtt = typeof v === "number" && v >>> 0 === v ? v : u32(v, "rtt", i);
  v = input.jitter;
  out.jitter = typeof v === "number" && v >>> 0 === v ? v : u32(v, "jitter", i);
  v = input.nacks;
  out.nacks = typeof v === "number" && v >>> 0 === v ? v : u32(v, "nacks", i);
  v = input.plis;
  out.plis = typeof v === "number" && v >>> 0 === v ? v : u32(v, "plis", i);
  v = input.firs;
  out.firs = typeof v === "number" && v >>> 0 === v ? v : u32(v, "firs", i);
  // the fields only livekit-current reads are read (and checked) only for it
  if (full) readLaterFields(input, i, out);
  const layers = list(input.videoLayers, "videoLayers", i);
  const layerCount = layers === undefined ? 0 : layers.length;
  if (layerCount > LIMITS.maxLayersPerStream) throw limitError.tooManyLayers();
  while (out.layers.length < layerCount) out.layers.push(new LayerSnapshot());
  for (let j = 0; j < layerCount; j++) {
    const layer = layers![j];
    if (layer === null || typeof layer !== "object") fail(path("", i, j), "expected an AnalyticsVideoLayer", layer);
    const l = out.layers[j]!;
    v = layer.layer;
    l.layer = typeof v === "number" && (v | 0) === v ? v : i32(v, "layer", i, j);
    v = layer.packets;
    l.packets = typeof v === "number" && v >>> 0 === v ? v : u32(v, "packets", i, j);
    v = layer.bytes;
    l.bytes = typeof v === "bigint" && v >= 0n && v < TWO_64 ? v : u64(v, "bytes", i, j);
    v = layer.frames;
    l.frames = typeof v === "number" && v >>> 0 === v ? v : u32(v, "frames", i, j);
  }
  out.layerCount = layerCount;
}

function readLaterFields(input: AnalyticsStreamInput, i: number, out: StreamSnapshot): void {
  out.packetsOutOfOrder = u32(input.packetsOutOfOrder, "packetsOutOfOrder", i);
  const start = timestamp(input.startTime, "startTime", i);
  out.hasStartTime = start !== undefined;
  if (start !== undefined) {
    out.startSeconds = seconds(start.seconds, "startTime.seconds", i);
    out.startNanos = nanos(start.nanos, "startTime.nanos", i);
  }
  const end = timestamp(input.endTime, "endTime", i);
  out.hasEndTime = end !== undefined;
  if (end !== undefined) {
    out.endSeconds = seconds(end.seconds, "endTime.seconds", i);
    out.endNanos = nanos(end.nanos, "endTime.nanos", i);
  }
}

// The checks. Each reads its value once (the caller passes it in) and builds the field's path
// only on failure, so a well-formed stat costs no strings.

function u32(v: unknown, field: string, stream: number, layer = -1): number {
  if (v === undefined) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < TWO_32) return v;
  return fail(path(field, stream, layer), "expected an integer in [0, 2^32)", v);
}

function i32(v: unknown, field: string, stream: number, layer: number): number {
  if (v === undefined) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= -0x8000_0000 && v <= 0x7fff_ffff) return v;
  return fail(path(field, stream, layer), "expected an integer in [-2^31, 2^31)", v);
}

function u64(v: unknown, field: string, stream: number, layer = -1): bigint {
  if (v === undefined) return 0n;
  if (typeof v === "bigint" && v >= 0n && v < TWO_64) return v;
  return fail(path(field, stream, layer), "expected a bigint in [0, 2^64)", v);
}

// a Timestamp's fields as the wire carries them (int64 seconds, int32 nanos): a decoded stat may
// hold any such value, so no narrower range is imposed here
function seconds(v: unknown, field: string, stream: number): bigint {
  if (v === undefined) return 0n;
  if (typeof v === "bigint" && v >= -(1n << 63n) && v < 1n << 63n) return v;
  return fail(path(field, stream, -1), "expected a bigint in [-2^63, 2^63)", v);
}

function nanos(v: unknown, field: string, stream: number): number {
  if (v === undefined) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= -0x8000_0000 && v <= 0x7fff_ffff) return v;
  return fail(path(field, stream, -1), "expected an integer in [-2^31, 2^31)", v);
}

function float(v: unknown, field: string): number {
  if (v === undefined) return 0;
  // any number, NaN and the infinities included: they propagate as float32 arithmetic does
  if (typeof v === "number") return v;
  return fail(field, "expected a number", v);
}

function text(v: unknown, field: string): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  return fail(field, "expected a string", v);
}

function timestamp(v: TimestampInput | undefined, field: string, stream: number): TimestampInput | undefined {
  if (v === undefined) return undefined;
  if (v !== null && typeof v === "object") return v;
  return fail(path(field, stream, -1), "expected a Timestamp", v);
}

function list<T>(v: readonly T[] | undefined, field: string, stream: number): readonly T[] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v;
  return fail(stream < 0 ? field : path(field, stream, -1), "expected an array", v);
}

function path(field: string, stream: number, layer: number): string {
  const at = `streams[${stream}]` + (layer >= 0 ? `.videoLayers[${layer}]` : "");
  return field === "" ? at : `${at}.${field}`;
}

function fail(field: string, expected: string, got: unknown): never {
  throw new ArgumentError(`invalid stat: ${field}: ${expected}, got ${describe(got)}`, "invalid_argument", field);
}

function describe(v: unknown): string {
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}...` : v)}`;
  if (typeof v === "bigint") return `bigint ${v}`;
  if (typeof v === "number") return `number ${v}`;
  return v === null ? "null" : typeof v;
}
