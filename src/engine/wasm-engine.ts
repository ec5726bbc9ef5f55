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
import { DecodeError, LimitError, WasmError, type DecodeErrorCode } from "../errors.ts";
import { StreamType, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { checkLimits, LIMITS } from "../limits.ts";
import { silentLogger, type Logger } from "../logger.ts";
import type { Bucket, EngineImpl, EngineOptions, TrackTable } from "./engine.ts";
import { encodeBatch } from "./encode-batch.ts";
import { makeLayer, makeStat, makeStream, patchStat, type Patch } from "./output.ts";
import { INFO, SCRATCH, SLOT, STATUS, type WasmExports } from "./wasm-abi.ts";
import { instantiateEngine } from "./wasm-instance.ts";

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
 * writes vanish), so every access goes through `refresh()`, which rebuilds the views whenever
 * `memory.buffer` is a new object.
 */
class Views {
  private buffer: ArrayBuffer | undefined = undefined;
  u8!: Uint8Array;
  u32!: Uint32Array;
  i32!: Int32Array;
  f32!: Float32Array;
  u64!: BigUint64Array;

  constructor(private readonly memory: WebAssembly.Memory) {
    this.refresh();
  }

  refresh(): this {
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

  constructor(readonly wasm: WasmExports) {
    this.views = new Views(wasm.memory);
    this.scratch = wasm.scratchPtr();
    this.info = wasm.infoPtr();
  }

  /**
   * Writes one stat object into the scratch record. Typed-array stores convert exactly as the TS
   * engine does: ToUint32 like `>>> 0`, ToInt32 like `| 0`, ToBigUint64 like
   * `BigInt.asUintN(64, ...)`, and `Math.fround` for the score.
   */
  pack(stat: AnalyticsStat): void {
    checkLimits(stat);
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
    const ptr = this.wasm.inputPtr(bytes.length);
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

class WasmTrackTable implements TrackTable {
  private readonly buckets: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  pending = false;
  drainedCount = 0;
  private disposed = false;

  constructor(private readonly core: WasmCore) {}

  private slotFor(trackId: string, bucket: Bucket): number {
    const tracks = this.buckets[bucket];
    let slot = tracks.get(trackId);
    if (slot === undefined) {
      slot = this.core.allocSlot();
      tracks.set(trackId, slot);
    }
    return slot;
  }

  add(trackId: string, bucket: Bucket, stat: AnalyticsStat): boolean {
    this.checkOpen();
    // pack first: a stat that throws while being read leaves no slot behind
    this.core.pack(stat);
    const valid = this.core.wasm.foldScratch(this.slotFor(trackId, bucket));
    this.pending = true;
    return valid === 1;
  }

  addBytes(trackId: string, bucket: Bucket, bytes: Uint8Array): boolean {
    this.checkOpen();
    const tracks = this.buckets[bucket];
    const fresh = !tracks.has(trackId);
    const slot = this.slotFor(trackId, bucket);
    let valid: number;
    try {
      valid = this.core.decodeFold(bytes, slot);
    } catch (err) {
      if (fresh) {
        tracks.delete(trackId);
        this.core.wasm.freeSlot(slot);
      }
      throw err;
    }
    this.pending = true;
    return valid === 1;
  }

  drain(patch: Patch, out: AnalyticsStat[]): void {
    const before = out.length;
    this.collect(this.buckets[0], StreamType.UPSTREAM, patch, out);
    this.collect(this.buckets[1], StreamType.DOWNSTREAM, patch, out);
    this.pending = false;
    this.drainedCount = out.length - before;
  }

  drainBytes(patch: Patch): Uint8Array | undefined {
    const out: AnalyticsStat[] = [];
    this.drain(patch, out);
    return out.length === 0 ? undefined : encodeBatch(out);
  }

  // Reads and resets every slot of a bucket; a slot that saw no stat this window (a quiet track)
  // goes back to the free list, so tracks that stop sending cost nothing after one window.
  private collect(tracks: Map<string, number>, kind: StreamType, patch: Patch, out: AnalyticsStat[]): void {
    const wasm = this.core.wasm;
    for (const [trackId, slot] of tracks) {
      if (this.core.views.refresh().u32[wasm.slotPtr(slot) >>> 2] === 0) {
        tracks.delete(trackId);
        wasm.freeSlot(slot);
        continue;
      }
      const stat = this.core.result(slot);
      wasm.resetSlot(slot);
      patchStat(stat, patch, trackId, kind);
      out.push(stat);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const tracks of this.buckets) {
      for (const slot of tracks.values()) this.core.wasm.freeSlot(slot);
      tracks.clear();
    }
    this.pending = false;
  }

  private checkOpen(): void {
    if (this.disposed) throw new WasmError("trap", "track table used after dispose");
  }
}

/** @internal Creates a wasm engine with its own instance; use `loadEngine("wasm")`. */
export async function createWasmEngine(options: EngineOptions = {}): Promise<EngineImpl> {
  const logger: Logger = options.logger ?? silentLogger;
  const core = new WasmCore(await instantiateEngine());
  let scratchSlot = -1;
  return {
    kind: "wasm",
    coalesce(stats: readonly AnalyticsStat[]): AnalyticsStat | undefined {
      if (stats.length === 0) return undefined;
      if (scratchSlot < 0) scratchSlot = core.allocSlot();
      core.wasm.resetSlot(scratchSlot);
      for (const stat of stats) {
        core.pack(stat);
        if (core.wasm.foldScratch(scratchSlot) !== 1) logger.warn("telemetry skipping invalid stat", { stat });
      }
      return core.result(scratchSlot);
    },
    isValid(stat: AnalyticsStat): boolean {
      core.pack(stat);
      return core.wasm.validateScratch() === 1;
    },
    createTrackTable: () => new WasmTrackTable(core),
  };
}
