/**
 * The core of the wasm engine: one instance and its buffers, shared by every track table and
 * router of one engine. It moves numbers in and out of the module (stat objects into the scratch
 * record, slots out as `AnalyticsStat`s) and turns the module's statuses into errors; it knows
 * nothing of workers or tables.
 *
 * @module
 */
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { DecodeError, LimitError, WasmError, type DecodeErrorCode } from "../../errors.ts";
import type { AnalyticsStat, AnalyticsStream } from "../../gen/livekit/livekit_analytics_pb.ts";
import { limitError, LIMITS, type EngineBounds, type OutOfMemoryWhat } from "../../limits.ts";
import { fillIdChars } from "../../reporters/stat-id.ts";
import { encodeWtf8 } from "../ids.ts";
import { makeLayer, makeStat, makeStream } from "../output.ts";
import type { Profile } from "../profile.ts";
import { StatReader, type AnalyticsStatInput, type StatSnapshot } from "../read-stat.ts";
import {
  EXT_U32,
  EXT_U64,
  IDS,
  INFO,
  PSCRATCH,
  PSCRATCH_U32,
  PSCRATCH_U64,
  PSTATUS,
  SCRATCH,
  SCRATCH_U32,
  SCRATCH_U64,
  SLOT_U32,
  SLOT_U64,
  STATUS,
  type WasmExports,
} from "./abi.ts";
import { Views } from "./views.ts";

const DECODE_CODES: Record<number, DecodeErrorCode> = {
  [STATUS.TRUNCATED]: "truncated",
  [STATUS.BAD_VARINT]: "bad_varint",
  [STATUS.BAD_TAG]: "bad_tag",
  [STATUS.BAD_GROUP]: "bad_group",
  [STATUS.BAD_UTF8]: "bad_utf8",
  [STATUS.TOO_DEEP]: "too_deep",
};

/**
 * Input and output buffers up to this size (the module's KEEP_BUFFER_BYTES) are kept between
 * calls; a larger one, grown for one big batch or drain, goes back to the heap afterwards.
 */
const KEEP_BUFFER_BYTES = 64 * 1024;
/** the most output views kept (about 100 bytes of heap each) */
const MAX_OUTPUT_VIEWS = 2048;

// word indices of the records the hot paths read and write
// (generated object literals: V8 keeps them in fast mode, so each index is a constant load)
const S = SLOT_U32;
const S8 = SLOT_U64;
const X = SCRATCH_U32;
const X8 = SCRATCH_U64;
const E = EXT_U32;
const E8 = EXT_U64;
const P = PSCRATCH_U32;
const P8 = PSCRATCH_U64;
/** Go's unixToInternal: EXT keeps seconds since 0001-01-01 */
const UNIX_TO_INTERNAL = 62_135_596_800n;

/** The instance and what every track table of one engine shares. */
export class WasmCore {
  /** the instance's exports; after `dispose()`, exports that all throw */
  wasm: WasmExports;
  views: Views;
  private readonly scratch: number;
  private readonly info: number;
  // ids written by protobuf-es were validated as UTF-8; ignoreBOM keeps a leading U+FEFF as
  // protobuf-es does
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  // views of the output buffer by length, so that a steady window allocates none
  private outputViews = new Map<number, Uint8Array>();
  private outputViewsAt = -1;
  private outputViewsBuffer: ArrayBuffer | undefined = undefined;
  private inputAt = 0;
  private inputBytes = -1;
  // a buffer grew past KEEP_BUFFER_BYTES and no lease was out at the time
  private trimDue = false;
  private leases = 0;
  private readonly reader = new StatReader();
  /** whether the instance follows livekit-current (set once, before any fold) */
  readonly current: boolean;
  private readonly pscratch: number;
  // the mime last written for pack(): a window's stats almost always repeat it
  private packedMime = "";
  private packedMimePtr = 0;
  private packedMimeBytes = 0;
  private readonly encoder = new TextEncoder();
  // the mime last read by result(), by its bytes
  private resultMime = "";
  private resultMimeBytes = new Uint8Array(0);

  constructor(
    wasm: WasmExports,
    readonly bounds: Readonly<EngineBounds>,
    profile: Profile = "livekit-v1.2",
  ) {
    this.wasm = wasm;
    this.views = new Views(wasm.memory);
    this.scratch = wasm.scratchPtr();
    this.info = wasm.infoPtr();
    this.current = profile === "livekit-current";
    wasm.setProfile(this.current ? 1 : 0);
    this.pscratch = wasm.profileScratchPtr();
  }

  /**
   * Address of the input buffer, grown to at least `bytes`. The engine only moves the buffer when
   * asked to grow it, so its address is cached here.
   *
   * @throws LimitError out_of_memory, naming `what` could not be done
   */
  input(bytes: number, what: OutOfMemoryWhat): number {
    if (bytes <= this.inputBytes) return this.inputAt;
    const ptr = this.wasm.inputPtr(bytes);
    if (ptr === 0) throw limitError.outOfMemory(what);
    this.inputAt = ptr;
    this.inputBytes = bytes;
    if (bytes > KEEP_BUFFER_BYTES) this.trimDue = true;
    return ptr;
  }

  /** Fills the module's stamped-id pool with new ids (stat-id.ts, the source of every id). */
  refillIds(): void {
    fillIdChars(this.views.refresh().u8.subarray(this.wasm.idPoolPtr(), this.wasm.idPoolPtr() + IDS.SIZE));
    this.wasm.idPoolFilled();
  }

  /** A drain wrote `bytes` of output: past the kept size, the buffer is given back when idle. */
  outputGrew(bytes: number): void {
    if (bytes > KEEP_BUFFER_BYTES) this.trimDue = true;
  }

  /** A lease of the output buffer was handed out (+1) or released (-1). */
  lent(delta: 1 | -1): void {
    this.leases += delta;
  }

  /**
   * Gives buffers that one big input or drain grew back to the engine's heap, once nothing reads
   * them: called after every public operation that may have grown one.
   */
  trimIfDue(): void {
    if (!this.trimDue || this.leases !== 0) return;
    this.trimDue = false;
    this.wasm.trimBuffers();
    // the module moves its buffers on the next use: forget their addresses and views
    this.inputBytes = -1;
    this.outputViews = new Map();
    this.outputViewsAt = -1;
  }

  /** Copies `bytes` into the input buffer and returns its address. */
  copyIn(bytes: Uint8Array, what: OutOfMemoryWhat): number {
    const ptr = this.input(bytes.length, what);
    this.views.refresh().u8.set(bytes, ptr);
    return ptr;
  }

  /**
   * Writes the key bytes of id `text` ({@link encodeWtf8}) at the start of the input buffer;
   * returns their length, negated when `text` has an unpaired surrogate.
   */
  writeKey(text: string): number {
    // ids are short and almost always ASCII: a charCode loop allocates nothing
    let ascii = true;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    const key = ascii ? undefined : encodeWtf8(text);
    const length = key === undefined ? text.length : key.bytes.length;
    const ptr = this.input(length, "take an id");
    const u8 = this.views.refresh().u8;
    if (key === undefined) {
      for (let i = 0; i < length; i++) u8[ptr + i] = text.charCodeAt(i);
    } else {
      u8.set(key.bytes, ptr);
    }
    return key === undefined || key.wellFormed ? length : -length;
  }

  /** The UTF-8 text at `[ptr, ptr + bytes)` of engine memory. */
  readUtf8(ptr: number, bytes: number): string {
    return bytes === 0 ? "" : this.decoder.decode(this.views.refresh().u8.subarray(ptr, ptr + bytes));
  }

  /**
   * A view of `[outputPtr, outputPtr + bytes)`. Views are cached by length while the output
   * buffer stays put, so a steady window hands its reporter bytes without allocating; a view is
   * valid only while the output buffer is lent to its reader.
   */
  outputView(bytes: number): Uint8Array {
    const at = this.wasm.outputPtr();
    const buffer = this.wasm.memory.buffer;
    if (at !== this.outputViewsAt || buffer !== this.outputViewsBuffer) {
      this.outputViews = new Map();
      this.outputViewsAt = at;
      this.outputViewsBuffer = buffer;
    }
    let view = this.outputViews.get(bytes);
    if (view === undefined) {
      view = new Uint8Array(buffer, at, bytes);
      // a window's batches come in a few hundred sizes; the bound keeps a run of odd sizes from
      // holding a view for every length the buffer can take
      if (this.outputViews.size >= MAX_OUTPUT_VIEWS) this.outputViews.clear();
      this.outputViews.set(bytes, view);
    }
    return view;
  }

  /**
   * Reads one stat object (once, checked: {@link StatReader}) into the scratch record.
   *
   * @throws ArgumentError for a field of the wrong type or out of range, LimitError over `LIMITS`
   */
  pack(input: AnalyticsStatInput): void {
    const stat = this.reader.read(input, this.current);
    const { u32, i32, f32, u64 } = this.views.refresh();
    const base = this.scratch;
    let layerCount = 0;
    for (let i = 0; i < stat.streamCount; i++) {
      const s = stat.streams[i]!;
      const p = base + SCRATCH.HEADER_SIZE + i * SCRATCH.STREAM_SIZE;
      const w = p >>> 2;
      u32[w + X.STREAM_PRIMARY_PACKETS] = s.primaryPackets;
      u32[w + X.STREAM_RETRANSMIT_PACKETS] = s.retransmitPackets;
      u32[w + X.STREAM_PADDING_PACKETS] = s.paddingPackets;
      u32[w + X.STREAM_PACKETS_LOST] = s.packetsLost;
      u32[w + X.STREAM_FRAMES] = s.frames;
      u32[w + X.STREAM_NACKS] = s.nacks;
      u32[w + X.STREAM_PLIS] = s.plis;
      u32[w + X.STREAM_FIRS] = s.firs;
      u32[w + X.STREAM_RTT] = s.rtt;
      u32[w + X.STREAM_JITTER] = s.jitter;
      const d = p >>> 3;
      u64[d + X8.STREAM_PRIMARY_BYTES] = s.primaryBytes;
      u64[d + X8.STREAM_RETRANSMIT_BYTES] = s.retransmitBytes;
      u64[d + X8.STREAM_PADDING_BYTES] = s.paddingBytes;
      for (let j = 0; j < s.layerCount; j++) {
        const l = s.layers[j]!;
        const q = base + SCRATCH.LAYERS + layerCount * SCRATCH.LAYER_SIZE;
        const v = q >>> 2;
        i32[v + X.LAYER_LAYER] = l.layer;
        u32[v + X.LAYER_PACKETS] = l.packets;
        u32[v + X.LAYER_FRAMES] = l.frames;
        u64[(q >>> 3) + X8.LAYER_BYTES] = l.bytes;
        layerCount++;
      }
    }
    const h = base >>> 2;
    f32[h + X.SCORE] = stat.score;
    u32[h + X.STREAM_COUNT] = stat.streamCount;
    u32[h + X.LAYER_COUNT] = layerCount;
    if (this.current) this.packProfile(stat);
  }

  /**
   * livekit-current: writes the stat's mime (UTF-8, an unpaired surrogate as U+FFFD, as protobuf-es
   * encodes it) and each stream's times and packets_out_of_order into the PSCRATCH record.
   */
  private packProfile(stat: StatSnapshot): void {
    const mime = stat.mime;
    if (mime !== this.packedMime) {
      let ptr = 0;
      let bytes = 0;
      if (mime.length !== 0) {
        ptr = this.wasm.mimeScratchPtr(mime.length * 3);
        if (ptr === 0) throw limitError.outOfMemory("take the message");
        bytes = this.encoder.encodeInto(mime, this.views.refresh().u8.subarray(ptr, ptr + mime.length * 3)).written;
      }
      this.packedMime = mime;
      this.packedMimePtr = ptr;
      this.packedMimeBytes = bytes;
    }
    const { u32, i32, u64 } = this.views.refresh();
    const base = this.pscratch;
    u32[(base >>> 2) + P.MIME_PTR] = this.packedMimePtr;
    u32[(base >>> 2) + P.MIME_BYTES] = this.packedMimeBytes;
    for (let i = 0; i < stat.streamCount; i++) {
      const s = stat.streams[i]!;
      const p = base + PSCRATCH.STREAMS + i * PSCRATCH.STREAM_SIZE;
      const w = p >>> 2;
      const d = p >>> 3;
      // a missing Timestamp reads as 0 s 0 ns, the Unix epoch (Go AsTime() of nil)
      u64[d + P8.STREAM_START_SECONDS] = s.hasStartTime ? s.startSeconds : 0n;
      i32[w + P.STREAM_START_NANOS] = s.hasStartTime ? s.startNanos : 0;
      u64[d + P8.STREAM_END_SECONDS] = s.hasEndTime ? s.endSeconds : 0n;
      i32[w + P.STREAM_END_NANOS] = s.hasEndTime ? s.endNanos : 0;
      u32[w + P.STREAM_PACKETS_OUT_OF_ORDER] = s.packetsOutOfOrder;
    }
  }

  /** A new zeroed slot (not owned by any worker). */
  allocSlot(): number {
    const slot = this.wasm.allocSlot();
    if (slot < 0) throw limitError.outOfMemory("add a track");
    return slot;
  }

  /**
   * Folds the packed stat into `slot`: 1 valid, 0 invalid; throws a LimitError when the slot
   * cannot take it (livekit-current: the score bound, or memory for its mime).
   */
  foldScratch(slot: number): number {
    const status = this.wasm.foldScratch(slot);
    if (status >= 0) return status;
    throw this.statusError(status);
  }

  /** Folds `bytes` into `slot`: 1 valid, 0 invalid; throws for malformed or over-limit input. */
  decodeFold(bytes: Uint8Array, slot: number): number {
    if (bytes.length > LIMITS.maxMessageBytes) throw limitError.messageTooLarge();
    const ptr = this.copyIn(bytes, "take the message");
    const status = this.wasm.decodeFold(ptr, bytes.length, slot);
    if (status >= 0) return status;
    throw this.statusError(status);
  }

  /**
   * The error of a negative status; a DecodeError carries the offset within the message that the
   * module left in the info record.
   */
  statusError(status: number): Error {
    const code = DECODE_CODES[status];
    if (code !== undefined) return new DecodeError(code, this.views.refresh().u32[(this.info + INFO.ERROR_OFFSET) >>> 2]!);
    switch (status) {
      case STATUS.TOO_MANY_STREAMS:
        return limitError.tooManyStreams();
      case STATUS.TOO_MANY_LAYERS:
        return limitError.tooManyLayers();
      case STATUS.MESSAGE_TOO_LARGE:
        return limitError.messageTooLarge();
      case STATUS.OUT_OF_MEMORY:
        return limitError.outOfMemory("add a track");
      case PSTATUS.TOO_MANY_SCORES:
        return new LimitError(
          "too_many_scores",
          LIMITS.maxScoresPerWindow,
          `track window already holds ${LIMITS.maxScoresPerWindow} positive scores, the limit`,
        );
      default:
        return new WasmError("trap", `engine returned unknown status ${status}`);
    }
  }

  /** The error of a negative `trackSlot` result: a bound that refused the new track, or memory. */
  trackSlotError(status: number): Error {
    const b = this.bounds;
    switch (status) {
      case STATUS.WORKER_TRACKS:
        return limitError.tooManyTracks(b.maxTracksPerWorker);
      case STATUS.ROUTER_TRACKS:
        return limitError.tooManyServiceTracks(b.maxTracksPerService);
      case STATUS.WORKER_ID_BYTES:
        return limitError.tooManyIdBytes(b.maxIdBytesPerWorker);
      default:
        return limitError.outOfMemory("add a track");
    }
  }

  /** The coalesced stat of `slot` (R6-R12); the slot is left as it is. */
  result(slot: number): AnalyticsStat {
    const { u32, i32, f32, u64 } = this.views.refresh();
    const a = this.wasm.slotPtr(slot);
    const w = a >>> 2;
    const d = a >>> 3;
    const layers =
      u32[w + S.LAYER_PRESENT] !== 0
        ? [makeLayer(i32[w + S.LAYER]!, u32[w + S.LAYER_PACKETS]!, u64[d + S8.LAYER_BYTES]!, u32[w + S.LAYER_FRAMES]!)]
        : [];
    const stream = makeStream(
      u32[w + S.PRIMARY_PACKETS]!,
      u64[d + S8.PRIMARY_BYTES]!,
      u32[w + S.RETRANSMIT_PACKETS]!,
      u64[d + S8.RETRANSMIT_BYTES]!,
      u32[w + S.PADDING_PACKETS]!,
      u64[d + S8.PADDING_BYTES]!,
      u32[w + S.PACKETS_LOST]!,
      u32[w + S.FRAMES]!,
      u32[w + S.RTT]!,
      u32[w + S.JITTER]!,
      u32[w + S.NACKS]!,
      u32[w + S.PLIS]!,
      u32[w + S.FIRS]!,
      layers,
    );
    if (this.current) return this.currentResult(slot, f32[w + S.SCORE]!, stream);
    // Go parity (R10): float32 division by the count of ALL stats; both operands are float32 and
    // a float64 division rounded once to float32 is the correctly rounded float32 quotient
    return makeStat(Math.fround(f32[w + S.SCORE]! / Math.fround(u32[w + S.COUNT]!)), stream);
  }

  /** The livekit-current result of `slot`, whose score sum is `scoreSum`, around `stream`. */
  private currentResult(slot: number, scoreSum: number, stream: AnalyticsStream): AnalyticsStat {
    const e = this.wasm.slotExtPtr(slot);
    const { u8, u32, f32, u64 } = this.views.refresh();
    const w = e >>> 2;
    const d = e >>> 3;
    stream.packetsOutOfOrder = u32[w + E.PACKETS_OUT_OF_ORDER]!;
    stream.startTime = goTimestamp(u32, u64, d, E8.START_SEC, u32[w + E.START_NSEC]!);
    stream.endTime = goTimestamp(u32, u64, d, E8.END_SEC, u32[w + E.END_NSEC]!);
    const scores = u32[w + E.SCORE_COUNT]!;
    const stat = makeStat(scores === 0 ? 0 : Math.fround(scoreSum / Math.fround(scores)), stream);
    stat.minScore = f32[w + E.MIN_SCORE]!;
    stat.medianScore = f32[w + E.MEDIAN_SCORE]!;
    const mimePtr = u32[w + E.MIME_PTR]!;
    const mimeBytes = u32[w + E.MIME_BYTES]!;
    if (!sameBytes(u8, mimePtr, mimeBytes, this.resultMimeBytes)) {
      this.resultMimeBytes = u8.slice(mimePtr, mimePtr + mimeBytes);
      this.resultMime = this.readUtf8(mimePtr, mimeBytes);
    }
    stat.mime = this.resultMime;
    return stat;
  }

  /**
   * Lets go of the instance: every later call throws a WasmError "disposed", and nothing here
   * keeps the instance or its memory reachable.
   */
  dispose(): void {
    this.wasm = disposedExports();
    this.views = new Views(new WebAssembly.Memory({ initial: 0 }));
    this.outputViews = new Map();
    this.outputViewsBuffer = undefined;
    this.inputBytes = -1;
  }

  /** How many stats `slot` has folded in this window (invalid ones included). */
  slotCount(slot: number): number {
    return this.views.refresh().u32[(this.wasm.slotPtr(slot) >>> 2) + S.COUNT]!;
  }
}

// Unix seconds of the two times a window without stream times reports: no BigInt made for them
const EPOCH_LO = Number(UNIX_TO_INTERNAL & 0xffff_ffffn);
const EPOCH_HI = Number(UNIX_TO_INTERNAL >> 32n);
const ZERO_TIME_SECONDS = -UNIX_TO_INTERNAL;

/**
 * A Timestamp from the Go time.Time at 8-byte word `d + at` (seconds since 0001-01-01, int64)
 * and `nanos`.
 */
function goTimestamp(u32: Uint32Array, u64: BigUint64Array, d: number, at: number, nanos: number): Timestamp {
  const lo = u32[(d + at) * 2]!;
  const hi = u32[(d + at) * 2 + 1]!;
  // Go parity: timestamppb.New(t) writes t.Unix(), int64 arithmetic that wraps
  const seconds =
    lo === EPOCH_LO && hi === EPOCH_HI ? 0n
    : lo === 0 && hi === 0 ? ZERO_TIME_SECONDS
    : BigInt.asIntN(64, u64[d + at]! - UNIX_TO_INTERNAL);
  return { $typeName: "google.protobuf.Timestamp", seconds, nanos };
}

/** Whether `[ptr, ptr + bytes)` of `u8` holds the bytes of `known`. */
function sameBytes(u8: Uint8Array, ptr: number, bytes: number, known: Uint8Array): boolean {
  if (known.length !== bytes) return false;
  for (let i = 0; i < bytes; i++) if (u8[ptr + i] !== known[i]) return false;
  return true;
}

// stands in for the exports of a disposed instance: whatever is called, it fails the same way
function disposedExports(): WasmExports {
  const fail = (): never => {
    throw new WasmError("disposed", "engine is disposed");
  };
  return new Proxy({} as WasmExports, { get: () => fail });
}

/**
 * A WebAssembly trap would be a bug in assembly/ (every input error is a status code); should one
 * happen anyway it leaves as a WasmError naming it, never as a bare RuntimeError.
 */
function trapError(err: unknown): unknown {
  return err instanceof WebAssembly.RuntimeError ? new WasmError("trap", `engine trapped: ${err.message}`, { cause: err }) : err;
}

/**
 * Wraps each named method of `proto`, once, so that a trap inside it leaves as a WasmError: the
 * public entries of the wasm engine are the only places traps are caught. Methods take at most
 * three arguments; the fixed arity keeps the wrapper from allocating an arguments array per call.
 */
export function catchTraps<T extends object>(proto: T, methods: readonly (keyof T & string)[]): void {
  for (const name of methods) {
    const method = proto[name] as unknown as (this: unknown, a?: unknown, b?: unknown, c?: unknown) => unknown;
    const guarded = function (this: unknown, a?: unknown, b?: unknown, c?: unknown): unknown {
      try {
        return method.call(this, a, b, c);
      } catch (err) {
        throw trapError(err);
      }
    };
    Object.defineProperty(proto, name, { value: guarded, writable: true, configurable: true });
  }
}
