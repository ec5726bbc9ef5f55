/**
 * The WebAssembly engine: validation and coalescing (and, for bytes, protobuf decoding) run in
 * `assembly/`, over one fixed-size slot per (worker, direction, track) in linear memory. The
 * host only moves numbers in and out.
 *
 * Coalescing is an associative fold (wrapping sums, maxima, a float32 score sum in arrival
 * order, a count, and a max-layer accumulator), so a slot is O(1) however many stats arrive,
 * and a stat is read once, on arrival (R1 allows it).
 *
 * @module
 */
import { DecodeError, LimitError, WasmError, invalidStat, isDecodeError, type DecodeErrorCode } from "../../errors.ts";
import { StreamType, type AnalyticsStat } from "../../gen/livekit/livekit_analytics_pb.ts";
import { checkLimits, LIMITS } from "../../limits.ts";
import { silentLogger, type Logger } from "../../logger.ts";
import type { BatchResult, BatchRouter, Bucket, EngineImpl, EngineOptions, TrackIdentity, TrackTable } from "../engine.ts";
import { encodeBatch } from "../encode-batch.ts";
import { makeLayer, makePatch, makeStat, makeStream, patchStat, type Patch } from "../output.ts";
import { BATCH, DRAIN_ENTRY, INFO, META, SCRATCH, SLOT, STATUS, type WasmExports } from "./abi.ts";
import { instantiateEngine } from "./instance.ts";

const DECODE_CODES: Record<number, DecodeErrorCode> = {
  [STATUS.TRUNCATED]: "truncated",
  [STATUS.BAD_VARINT]: "bad_varint",
  [STATUS.BAD_TAG]: "bad_tag",
  [STATUS.BAD_GROUP]: "bad_group",
  [STATUS.BAD_UTF8]: "bad_utf8",
  [STATUS.TOO_DEEP]: "too_deep",
};

/**
 * Typed-array views over the instance's memory.
 *
 * `memory.grow` detaches every view of the old buffer without an error (reads give undefined,
 * writes vanish), so every access goes through `refresh()`, which rebuilds the views once the
 * old ones are detached.
 */
class Views {
  private buffer: ArrayBuffer | undefined = undefined;
  u8!: Uint8Array;
  u32!: Uint32Array;
  i32!: Int32Array;
  f32!: Float32Array;
  u64!: BigUint64Array;

  constructor(private readonly memory: WebAssembly.Memory) {
    this.u8 = new Uint8Array(0);
    this.refresh();
  }

  refresh(): this {
    // a grown memory detaches the old buffer, and a detached view has length 0: checking that is
    // much cheaper than the memory.buffer getter on every call
    if (this.u8.length !== 0) return this;
    const buffer = this.memory.buffer;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.u8 = new Uint8Array(buffer);
      this.u32 = new Uint32Array(buffer);
      this.i32 = new Int32Array(buffer);
      this.f32 = new Float32Array(buffer);
      this.u64 = new BigUint64Array(buffer);
    }
    return this;
  }
}

/** The instance and what every track table of one engine shares. */
class WasmCore {
  readonly views: Views;
  readonly scratch: number;
  readonly info: number;
  /** the track id of each slot a track table knows, by slot index */
  readonly slotTrack: (string | undefined)[] = [];
  /** the track table of each worker, by worker index */
  readonly tables: (WasmTrackTable | undefined)[] = [];
  // ids written by protobuf-es were validated as UTF-8; ignoreBOM keeps a leading U+FEFF as
  // protobuf-es does
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  private outputViews = new Map<number, Uint8Array>();
  private outputViewsAt = -1;
  private outputViewsBuffer: ArrayBuffer | undefined = undefined;

  constructor(readonly wasm: WasmExports) {
    this.views = new Views(wasm.memory);
    this.scratch = wasm.scratchPtr();
    this.info = wasm.infoPtr();
  }

  private inputAt = 0;
  private inputBytes = -1;

  /**
   * Address of the input buffer, grown to at least `bytes`; 0 when memory is exhausted. The
   * engine only moves the buffer when asked to grow it, so its address is cached here.
   */
  input(bytes: number): number {
    if (bytes <= this.inputBytes) return this.inputAt;
    const ptr = this.wasm.inputPtr(bytes);
    if (ptr !== 0) {
      this.inputAt = ptr;
      this.inputBytes = bytes;
    }
    return ptr;
  }

  /**
   * Writes the key bytes of id `text` ({@link encodeWtf8}) at the input buffer, after `offset`
   * bytes; returns their length, negated when `text` has an unpaired surrogate.
   */
  writeKey(text: string, offset: number): number {
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
    const ptr = this.input(offset + length);
    if (ptr === 0) throw new LimitError("out_of_memory", 0, "engine memory exhausted: cannot take an id");
    const u8 = this.views.refresh().u8;
    if (key === undefined) {
      for (let i = 0; i < length; i++) u8[ptr + offset + i] = text.charCodeAt(i);
    } else {
      u8.set(key.bytes, ptr + offset);
    }
    return key === undefined || key.wellFormed ? length : -length;
  }

  readUtf8(ptr: number, bytes: number): string {
    return bytes === 0 ? "" : this.decoder.decode(this.views.refresh().u8.subarray(ptr, ptr + bytes));
  }

  /**
   * A view of `[outputPtr, outputPtr + bytes)`. Views are cached by length while the output
   * buffer stays put, so a steady window hands its reporter bytes without allocating; a view is
   * only valid until the next drain (the reporter contract says so).
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
      this.outputViews.set(bytes, view);
    }
    return view;
  }

  /**
   * Writes one stat object into the scratch record. Typed-array stores convert exactly as the TS
   * engine does: ToUint32 like `>>> 0`, ToInt32 like `| 0`, ToBigUint64 like
   * `BigInt.asUintN(64, ...)`, and `Math.fround` for the score.
   */
  pack(stat: AnalyticsStat): void {
    checkLimits(stat);
    try {
      this.packFields(stat);
    } catch (err) {
      // a typed-array store throws a TypeError for a field of the wrong JS type, like the ts
      // engine's conversions: both report it as the same ArgumentError
      throw invalidStat(err);
    }
  }

  private packFields(stat: AnalyticsStat): void {
    const { u32, i32, f32, u64 } = this.views.refresh();
    const base = this.scratch;
    const streams = stat.streams;
    let layerCount = 0;
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      const p = base + SCRATCH.HEADER_SIZE + i * SCRATCH.STREAM_SIZE;
      const w = p >>> 2;
      u32[w] = s.primaryPackets;
      u32[w + 1] = s.retransmitPackets;
      u32[w + 2] = s.paddingPackets;
      u32[w + 3] = s.packetsLost;
      u32[w + 4] = s.frames;
      u32[w + 5] = s.nacks;
      u32[w + 6] = s.plis;
      u32[w + 7] = s.firs;
      u32[w + 8] = s.rtt;
      u32[w + 9] = s.jitter;
      const d = (p + SCRATCH.STREAM_PRIMARY_BYTES) >>> 3;
      u64[d] = s.primaryBytes;
      u64[d + 1] = s.retransmitBytes;
      u64[d + 2] = s.paddingBytes;
      const layers = s.videoLayers;
      for (let j = 0; j < layers.length; j++) {
        const l = layers[j]!;
        const q = base + SCRATCH.LAYERS + layerCount * SCRATCH.LAYER_SIZE;
        i32[q >>> 2] = l.layer;
        u32[(q >>> 2) + 1] = l.packets;
        u32[(q >>> 2) + 2] = l.frames;
        u64[(q + SCRATCH.LAYER_BYTES) >>> 3] = l.bytes;
        layerCount++;
      }
    }
    f32[(base + SCRATCH.SCORE) >>> 2] = stat.score;
    u32[(base + SCRATCH.STREAM_COUNT) >>> 2] = streams.length;
    u32[(base + SCRATCH.LAYER_COUNT) >>> 2] = layerCount;
  }

  allocSlot(): number {
    const slot = this.wasm.allocSlot();
    if (slot < 0) throw new LimitError("out_of_memory", 0, "engine memory exhausted: cannot add another track slot");
    return slot;
  }

  /** Folds `bytes` into `slot`: 1 valid, 0 invalid; throws for malformed or over-limit input. */
  decodeFold(bytes: Uint8Array, slot: number): number {
    if (bytes.length > LIMITS.maxMessageBytes) {
      throw new LimitError("message_too_large", LIMITS.maxMessageBytes, `message of ${bytes.length} bytes is larger than the limit of ${LIMITS.maxMessageBytes}`);
    }
    const ptr = this.input(bytes.length);
    if (ptr === 0) throw new LimitError("out_of_memory", 0, "engine memory exhausted: cannot take the message");
    this.views.refresh().u8.set(bytes, ptr);
    const status = this.wasm.decodeFold(ptr, bytes.length, slot);
    if (status >= 0) return status;
    throw this.statusError(status);
  }

  statusError(status: number): Error {
    const code = DECODE_CODES[status];
    if (code !== undefined) return new DecodeError(code, this.views.refresh().u32[(this.info + INFO.ERROR_OFFSET) >>> 2]!);
    if (status === STATUS.TOO_MANY_STREAMS) {
      return new LimitError("too_many_streams", LIMITS.maxStreamsPerStat, `stat has more streams than the limit of ${LIMITS.maxStreamsPerStat}`);
    }
    if (status === STATUS.TOO_MANY_LAYERS) {
      return new LimitError("too_many_layers", LIMITS.maxLayersPerStream, `a stream has more video layers than the limit of ${LIMITS.maxLayersPerStream}`);
    }
    if (status === STATUS.MESSAGE_TOO_LARGE) {
      return new LimitError("message_too_large", LIMITS.maxMessageBytes, `message is larger than the limit of ${LIMITS.maxMessageBytes} bytes`);
    }
    if (status === STATUS.OUT_OF_MEMORY) {
      return new LimitError("out_of_memory", 0, "engine memory exhausted: cannot add another track slot");
    }
    return new WasmError("trap", `engine returned unknown status ${status}`);
  }

  /** The coalesced stat of `slot` (R6-R12); the slot is left as it is. */
  result(slot: number): AnalyticsStat {
    const { u32, i32, f32, u64 } = this.views.refresh();
    const a = this.wasm.slotPtr(slot);
    const w = a >>> 2;
    const d = (a + SLOT.PRIMARY_BYTES) >>> 3;
    const layers =
      u32[(a + SLOT.LAYER_PRESENT) >>> 2] !== 0
        ? [makeLayer(i32[(a + SLOT.LAYER) >>> 2]!, u32[(a + SLOT.LAYER_PACKETS) >>> 2]!, u64[(a + SLOT.LAYER_BYTES) >>> 3]!, u32[(a + SLOT.LAYER_FRAMES) >>> 2]!)]
        : [];
    const stream = makeStream(
      u32[w + 2]!, // primaryPackets
      u64[d]!,
      u32[w + 3]!, // retransmitPackets
      u64[d + 1]!,
      u32[w + 4]!, // paddingPackets
      u64[d + 2]!,
      u32[w + 5]!, // packetsLost
      u32[w + 6]!, // frames
      u32[w + 10]!, // rtt
      u32[w + 11]!, // jitter
      u32[w + 7]!, // nacks
      u32[w + 8]!, // plis
      u32[w + 9]!, // firs
      layers,
    );
    // Go parity (R10): float32 division by the count of ALL stats; both operands are float32 and
    // a float64 division rounded once to float32 is the correctly rounded float32 quotient
    return makeStat(Math.fround(f32[w + 1]! / Math.fround(u32[w]!)), stream);
  }
}

/**
 * The key bytes of an id: UTF-8, except that an unpaired surrogate is written as its own 3-byte
 * sequence (WTF-8). Keys are then as distinct as JS strings are, the ts engine's map keys, and
 * a well-formed id (the only kind a decoded batch can carry) has its plain UTF-8 bytes.
 */
export function encodeWtf8(text: string): { bytes: Uint8Array; wellFormed: boolean } {
  const out: number[] = [];
  let wellFormed = true;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) wellFormed = false;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return { bytes: Uint8Array.from(out), wellFormed };
}

/**
 * A WebAssembly trap would be a bug in assembly/ (every input error is a status code); should one
 * happen anyway it leaves as a WasmError naming it, never as a bare RuntimeError.
 */
function trapError(err: unknown): unknown {
  return err instanceof WebAssembly.RuntimeError ? new WasmError("trap", `engine trapped: ${err.message}`, { cause: err }) : err;
}

/** Pre-encoded AnalyticsStat fields 5-7 (room_id, room_name, participant_id): R3's patch. */
function encodePatchFields(encoder: TextEncoder, identity: TrackIdentity): Uint8Array {
  const parts: number[] = [];
  const field = (tag: number, text: string) => {
    if (text === "") return; // proto3: an empty string is not written
    const bytes = encoder.encode(text);
    parts.push(tag);
    let n = bytes.length;
    while (n > 0x7f) {
      parts.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    parts.push(n);
    for (const b of bytes) parts.push(b);
  };
  field(0x2a, identity.roomId);
  field(0x32, identity.roomName);
  field(0x3a, identity.participantId);
  return Uint8Array.from(parts);
}

class WasmTrackTable implements TrackTable {
  private readonly buckets: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  private jsPending = false;
  drainedCount = 0;
  private freed = false;
  /** a track id with an unpaired surrogate was seen: bytes out go through protobuf-es */
  private illFormed = false;
  readonly worker: number;

  constructor(
    private readonly core: WasmCore,
    readonly identity: TrackIdentity,
    private readonly router: WasmRouter | undefined,
  ) {
    const room = encodeWtf8(identity.roomId).bytes;
    const pid = encodeWtf8(identity.participantId).bytes;
    // the patch is what protobuf-es would write: unpaired surrogates become U+FFFD there
    const patch = encodePatchFields(new TextEncoder(), identity);
    const ptr = core.input(room.length + pid.length + patch.length);
    if (ptr === 0) throw new LimitError("out_of_memory", 0, "engine memory exhausted: cannot add a worker");
    const u8 = core.views.refresh().u8;
    u8.set(room, ptr);
    u8.set(pid, ptr + room.length);
    u8.set(patch, ptr + room.length + pid.length);
    this.worker = core.wasm.workerCreate(ptr, room.length, pid.length, patch.length, router?.id ?? -1);
    if (this.worker < 0) throw new LimitError("out_of_memory", 0, "engine memory exhausted: cannot add a worker");
    core.tables[this.worker] = this;
  }

  get pending(): boolean {
    return this.jsPending || (!this.freed && this.core.wasm.workerPending(this.worker) > 0);
  }

  private slotFor(trackId: string, bucket: Bucket): number {
    const tracks = this.buckets[bucket];
    let slot = tracks.get(trackId);
    if (slot === undefined) {
      const core = this.core;
      let bytes = core.writeKey(trackId, 0);
      if (bytes < 0) {
        // its key bytes are not what protobuf-es would write for it: see drainBytes
        this.illFormed = true;
        bytes = -bytes;
      }
      slot = core.wasm.trackSlot(this.worker, bucket, core.input(0), bytes);
      if (slot < 0) throw new LimitError("out_of_memory", 0, "engine memory exhausted: cannot add another track slot");
      tracks.set(trackId, slot);
      core.slotTrack[slot] = trackId;
    }
    return slot;
  }

  add(trackId: string, bucket: Bucket, stat: AnalyticsStat): boolean {
    this.checkOpen();
    try {
      // pack first: a stat that throws while being read leaves no slot behind
      this.core.pack(stat);
      const valid = this.core.wasm.foldScratch(this.slotFor(trackId, bucket));
      this.jsPending = true;
      return valid === 1;
    } catch (err) {
      throw trapError(err);
    }
  }

  addBytes(trackId: string, bucket: Bucket, bytes: Uint8Array): boolean {
    this.checkOpen();
    const known = this.buckets[bucket].get(trackId);
    const fresh = known === undefined;
    const slot = fresh ? this.slotFor(trackId, bucket) : known;
    let valid: number;
    try {
      valid = this.core.decodeFold(bytes, slot);
    } catch (err) {
      // a track whose first stat was malformed leaves no slot behind
      if (fresh && this.core.views.refresh().u32[this.core.wasm.slotPtr(slot) >>> 2] === 0) this.forget(slot, true);
      throw trapError(err);
    }
    this.jsPending = true;
    return valid === 1;
  }

  drain(timeMs: number, out: AnalyticsStat[]): void {
    try {
      this.drainInto(timeMs, out);
    } catch (err) {
      throw trapError(err);
    }
  }

  private drainInto(timeMs: number, out: AnalyticsStat[]): void {
    const core = this.core;
    const wasm = core.wasm;
    this.jsPending = false;
    const n = wasm.drainList(this.worker);
    this.forgetFreed();
    if (n < 0) throw new LimitError("out_of_memory", 0, "engine memory exhausted while draining");
    this.drainedCount = n;
    if (n === 0) return;
    const patch: Patch = makePatch(timeMs, this.identity);
    const base = wasm.outputPtr();
    for (let i = 0; i < n; i++) {
      const { u32, i32 } = core.views.refresh();
      const entry = (base + i * DRAIN_ENTRY.SIZE) >>> 2;
      const slot = i32[entry]!;
      const bucket = u32[entry + 1] as Bucket;
      const trackId = core.slotTrack[slot] ?? this.learn(slot, bucket, u32[entry + 2]!, u32[entry + 3]!);
      const stat = core.result(slot);
      wasm.resetSlot(slot);
      patchStat(stat, patch, trackId, bucket === 1 ? StreamType.DOWNSTREAM : StreamType.UPSTREAM);
      out.push(stat);
    }
  }

  drainBytes(timeMs: number): Uint8Array | undefined {
    if (this.illFormed) {
      // the engine would write the WTF-8 key where protobuf-es writes U+FFFD
      const out: AnalyticsStat[] = [];
      this.drain(timeMs, out);
      return out.length === 0 ? undefined : encodeBatch(out);
    }
    this.jsPending = false;
    // exactly protobuf-es timestampFromMs: floored seconds, non-negative nanos
    const seconds = Math.floor(timeMs / 1000);
    let bytes: number;
    try {
      bytes = this.core.wasm.drainEncode(this.worker, seconds, (timeMs - seconds * 1000) * 1_000_000);
    } catch (err) {
      throw trapError(err);
    }
    this.forgetFreed();
    if (bytes < 0) throw new LimitError("out_of_memory", 0, "engine memory exhausted while encoding");
    this.drainedCount = this.core.wasm.drainCount();
    return bytes === 0 ? undefined : this.core.outputView(bytes);
  }

  beginRead(): boolean {
    // an ill-formed table's bytes came from protobuf-es: a fresh array, nothing to protect
    return this.illFormed || this.core.wasm.lendOutput() === 0;
  }

  endRead(): void {
    if (!this.illFormed) this.core.wasm.returnOutput();
  }

  /** The track id of a slot a batch created, decoded once and cached like a host-made one. */
  private learn(slot: number, bucket: Bucket, ptr: number, bytes: number): string {
    const trackId = this.core.readUtf8(ptr, bytes);
    this.core.slotTrack[slot] = trackId;
    this.buckets[bucket].set(trackId, slot);
    return trackId;
  }

  private forgetFreed(): void {
    const wasm = this.core.wasm;
    const count = wasm.freedSlots();
    if (count === 0) return;
    const base = wasm.freedPtr() >>> 2;
    for (let i = 0; i < count; i++) this.forget(this.core.views.refresh().i32[base + i]!, false);
  }

  /** Drops the host's knowledge of `slot` (and, with `release`, the slot itself). */
  private forget(slot: number, release: boolean): void {
    const trackId = this.core.slotTrack[slot];
    if (trackId !== undefined) {
      for (const tracks of this.buckets) if (tracks.get(trackId) === slot) tracks.delete(trackId);
      this.core.slotTrack[slot] = undefined;
    }
    if (release) this.core.wasm.workerSlotRelease(this.worker, slot);
  }

  private forgetAll(): void {
    for (const tracks of this.buckets) {
      for (const slot of tracks.values()) this.core.slotTrack[slot] = undefined;
      tracks.clear();
    }
    this.jsPending = false;
  }

  close(): void {
    if (this.freed) return;
    this.forgetAll();
    // a routed worker stays known to its router so that late batch stats count as dropped (R5)
    if (this.router !== undefined) {
      this.core.wasm.workerClose(this.worker);
    } else {
      this.dispose();
    }
  }

  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    this.forgetAll();
    this.core.wasm.workerFree(this.worker);
    this.core.tables[this.worker] = undefined;
  }

  private checkOpen(): void {
    if (this.freed) throw new WasmError("trap", "track table used after dispose");
  }
}

/** Routes batches of one TelemetryService inside the engine. */
class WasmRouter implements BatchRouter {
  readonly id: number;

  constructor(private readonly core: WasmCore) {
    this.id = core.wasm.routerCreate();
  }

  ingest(bytes: Uint8Array, dropAll: boolean): BatchResult {
    const core = this.core;
    const wasm = core.wasm;
    const ptr = core.input(bytes.length);
    if (ptr === 0) throw new LimitError("out_of_memory", 0, `engine memory exhausted: cannot take a batch of ${bytes.length} bytes`);
    core.views.refresh().u8.set(bytes, ptr);
    let status: number;
    try {
      status = wasm.ingestBatch(ptr, bytes.length, this.id, dropAll ? 1 : 0);
    } catch (err) {
      throw trapError(err);
    }
    const { u32, i32 } = core.views.refresh();
    const r = wasm.batchResultPtr() >>> 2;
    const result: BatchResult = {
      statsIn: u32[r + BATCH.STATS_IN / 4]!,
      invalid: u32[r + BATCH.INVALID / 4]!,
      dropped: u32[r + BATCH.DROPPED / 4]!,
      malformed: u32[r + BATCH.MALFORMED / 4]!,
      error: undefined,
      invalidTracks: [],
    };
    const listed = u32[r + BATCH.LISTED / 4]!;
    for (let i = 0; i < listed; i++) {
      const meta = wasm.slotMetaPtr(i32[r + BATCH.INVALID_SLOTS / 4 + i]!) >>> 2;
      if (meta === 0) continue;
      const table = core.tables[core.views.refresh().i32[meta + META.WORKER / 4]!];
      const m = core.views.u32;
      result.invalidTracks.push({
        participantId: table?.identity.participantId ?? "",
        trackId: core.readUtf8(m[meta + META.TRACK_PTR / 4]!, m[meta + META.TRACK_BYTES / 4]!),
        direction: m[meta + META.BUCKET / 4]!,
      });
    }
    if (status !== 0) {
      const index = u32[r + BATCH.ERROR_INDEX / 4]!;
      const offset = u32[r + BATCH.ERROR_OFFSET / 4]!;
      const err = core.statusError(status);
      result.error = isDecodeError(err)
        ? new DecodeError(err.code, offset, `${err.message.replace(/^cannot decode AnalyticsStat: /, "")} (message offset ${err.offset})`, index)
        : err;
      if (u32[r + BATCH.FRAMING / 4]! !== 0 && isDecodeError(err)) {
        result.error = new DecodeError(err.code, offset, "bad length prefix", index);
      }
    }
    return result;
  }
}

/** @internal Creates a wasm engine with its own instance; use `loadEngine("wasm")`. */
export async function createWasmEngine(options: EngineOptions = {}): Promise<EngineImpl> {
  const logger: Logger = options.logger ?? silentLogger;
  const core = new WasmCore(await instantiateEngine());
  let scratchSlot = -1;
  return {
    kind: "wasm",
    profile: "livekit-v1.2",
    coalesce(stats: readonly AnalyticsStat[]): AnalyticsStat | undefined {
      if (stats.length === 0) return undefined;
      try {
        if (scratchSlot < 0) scratchSlot = core.allocSlot();
        core.wasm.resetSlot(scratchSlot);
        for (const stat of stats) {
          core.pack(stat);
          if (core.wasm.foldScratch(scratchSlot) !== 1) logger.warn("telemetry skipping invalid stat", { stat });
        }
        return core.result(scratchSlot);
      } catch (err) {
        throw trapError(err);
      }
    },
    isValid(stat: AnalyticsStat): boolean {
      try {
        core.pack(stat);
        return core.wasm.validateScratch() === 1;
      } catch (err) {
        throw trapError(err);
      }
    },
    createTrackTable: (identity: TrackIdentity, router?: BatchRouter) =>
      new WasmTrackTable(core, identity, router instanceof WasmRouter ? router : undefined),
    createRouter: () => new WasmRouter(core),
  };
}
