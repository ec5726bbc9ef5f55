/**
 * "ts-flat": a hand-optimised pure-TypeScript engine over the same flat records and the same
 * algorithm as the wasm engine (assembly/wire.ts, decode.ts, fold.ts, validate.ts), so the
 * benchmarks can tell what WebAssembly itself buys over well-written JavaScript.
 *
 * It implements the engines' internal `EngineImpl` shape and drives a real StatsWorker or
 * TelemetryService unchanged. It is a benchmark subject, not a public engine kind.
 *
 * @module
 */
import { StreamType, type AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { DecodingRouter, type Route } from "../../src/engine/decoding-router.ts";
import {
  ownedLease,
  type BatchRouter,
  type BytesLease,
  type Bucket,
  type EngineImpl,
  type EngineKind,
  type EngineOptions,
  type TrackIdentity,
  type TrackTable,
} from "../../src/engine/engine.ts";
import { makeLayer, makePatch, makeStat, makeStream, patchStat, type Patch } from "../../src/engine/output.ts";
import { checkLimits, DEFAULT_BOUNDS } from "../../src/limits.ts";
import { silentLogger, type Logger } from "../../src/logger.ts";
import { FlatDecoder } from "./decode.ts";
import { BatchWriter, beginBatch, writeStat } from "./encode.ts";
import { DELTA_SLOT, SlotPool, W, addU64, foldLayer, mergeValid } from "./slots.ts";

// bigint -> (lo, hi) without allocating: a typed-array store converts like BigInt.asUintN(64, v)
const u64In = new BigUint64Array(1);
const u64Words = new Uint32Array(u64In.buffer);

/** The pool, the decoder and the output buffer every track table of one engine shares. */
class FlatCore {
  readonly pool = new SlotPool();
  readonly decoder = new FlatDecoder(this.pool);
  readonly writer = new BatchWriter();

  /**
   * Folds one stat object into the DELTA slot (count 1): true when valid (R7). Reads every value
   * once, converting as the ts engine does (ToUint32, ToInt32, BigInt.asUintN(64), Math.fround).
   */
  foldObject(stat: AnalyticsStat): boolean {
    checkLimits(stat);
    const pool = this.pool;
    pool.reset(DELTA_SLOT);
    const w = pool.u32;
    const d = DELTA_SLOT * W.SIZE;
    let bits = 0;
    const streams = stat.streams;
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      const primaryPackets = s.primaryPackets >>> 0;
      const retransmitPackets = s.retransmitPackets >>> 0;
      const paddingPackets = s.paddingPackets >>> 0;
      const packetsLost = s.packetsLost >>> 0;
      const frames = s.frames >>> 0;
      const nacks = s.nacks >>> 0;
      const plis = s.plis >>> 0;
      const firs = s.firs >>> 0;
      const rtt = s.rtt >>> 0;
      const jitter = s.jitter >>> 0;
      u64In[0] = s.primaryBytes;
      const pbLo = u64Words[0]!;
      const pbHi = u64Words[1]!;
      u64In[0] = s.retransmitBytes;
      const rbLo = u64Words[0]!;
      const rbHi = u64Words[1]!;
      u64In[0] = s.paddingBytes;
      const dbLo = u64Words[0]!;
      const dbHi = u64Words[1]!;
      bits |= primaryPackets | retransmitPackets | paddingPackets | packetsLost | frames | nacks | plis | firs | pbHi | rbHi | dbHi;
      w[d + W.PRIMARY_PACKETS] = w[d + W.PRIMARY_PACKETS]! + primaryPackets;
      w[d + W.RETRANSMIT_PACKETS] = w[d + W.RETRANSMIT_PACKETS]! + retransmitPackets;
      w[d + W.PADDING_PACKETS] = w[d + W.PADDING_PACKETS]! + paddingPackets;
      w[d + W.PACKETS_LOST] = w[d + W.PACKETS_LOST]! + packetsLost;
      w[d + W.FRAMES] = w[d + W.FRAMES]! + frames;
      w[d + W.NACKS] = w[d + W.NACKS]! + nacks;
      w[d + W.PLIS] = w[d + W.PLIS]! + plis;
      w[d + W.FIRS] = w[d + W.FIRS]! + firs;
      if (rtt > w[d + W.RTT]!) w[d + W.RTT] = rtt;
      if (jitter > w[d + W.JITTER]!) w[d + W.JITTER] = jitter;
      addU64(w, d + W.PRIMARY_BYTES, pbLo, pbHi);
      addU64(w, d + W.RETRANSMIT_BYTES, rbLo, rbHi);
      addU64(w, d + W.PADDING_BYTES, dbLo, dbHi);
      const layers = s.videoLayers;
      for (let j = 0; j < layers.length; j++) {
        const l = layers[j]!;
        const packets = l.packets >>> 0;
        const lFrames = l.frames >>> 0;
        u64In[0] = l.bytes;
        const lbLo = u64Words[0]!;
        const lbHi = u64Words[1]!;
        bits |= packets | lFrames | lbHi;
        foldLayer(w, d, l.layer | 0, packets, lFrames, lbLo, lbHi);
      }
    }
    // Go parity (R7): a stat is invalid when any counter has its top bit set
    if (bits >>> 31 !== 0) return false;
    pool.f32[d + W.SCORE] = stat.score;
    w[d + W.COUNT] = 1;
    return true;
  }

  /** Folds the DELTA slot (valid) or just the count (invalid) into `slot`. */
  commit(slot: number, valid: boolean): void {
    if (valid) mergeValid(this.pool, slot, DELTA_SLOT);
    else {
      const w = this.pool.u32;
      w[slot * W.SIZE + W.COUNT] = w[slot * W.SIZE + W.COUNT]! + 1;
    }
  }

  /** The coalesced stat of `slot` (R6-R12) as protobuf-es message objects. */
  result(slot: number): AnalyticsStat {
    const { u32: w, f32: f, u64 } = this.pool;
    const d = slot * W.SIZE;
    const q = d >>> 1;
    const layers =
      w[d + W.LAYER_PRESENT] !== 0
        ? [makeLayer(w[d + W.LAYER]! | 0, w[d + W.LAYER_PACKETS]!, u64[q + (W.LAYER_BYTES >>> 1)]!, w[d + W.LAYER_FRAMES]!)]
        : [];
    const stream = makeStream(
      w[d + W.PRIMARY_PACKETS]!,
      u64[q + (W.PRIMARY_BYTES >>> 1)]!,
      w[d + W.RETRANSMIT_PACKETS]!,
      u64[q + (W.RETRANSMIT_BYTES >>> 1)]!,
      w[d + W.PADDING_PACKETS]!,
      u64[q + (W.PADDING_BYTES >>> 1)]!,
      w[d + W.PACKETS_LOST]!,
      w[d + W.FRAMES]!,
      w[d + W.RTT]!,
      w[d + W.JITTER]!,
      w[d + W.NACKS]!,
      w[d + W.PLIS]!,
      w[d + W.FIRS]!,
      layers,
    );
    // Go parity (R10): float32 division by the count of ALL stats
    return makeStat(Math.fround(f[d + W.SCORE]! / Math.fround(w[d + W.COUNT]!)), stream);
  }
}

class FlatTrackTable implements TrackTable {
  private readonly buckets: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  pending = false;
  private readonly route: Route | undefined;

  constructor(
    private readonly core: FlatCore,
    private readonly identity: TrackIdentity,
    router: DecodingRouter | undefined,
  ) {
    this.route = router?.attach(identity, this);
  }

  private slotFor(trackId: string, bucket: Bucket): number {
    const tracks = this.buckets[bucket];
    let slot = tracks.get(trackId);
    if (slot === undefined) {
      slot = this.core.pool.alloc();
      tracks.set(trackId, slot);
    }
    return slot;
  }

  add(trackId: string, bucket: Bucket, stat: AnalyticsStat): boolean {
    // fold first: a stat that throws while being read leaves no slot behind
    const valid = this.core.foldObject(stat);
    this.core.commit(this.slotFor(trackId, bucket), valid);
    this.pending = true;
    return valid;
  }

  addBytes(trackId: string, bucket: Bucket, bytes: Uint8Array): boolean {
    const valid = this.core.decoder.decode(bytes);
    this.core.commit(this.slotFor(trackId, bucket), valid);
    this.pending = true;
    return valid;
  }

  drain(timeMs: number, out: AnalyticsStat[]): void {
    const patch = makePatch(timeMs, this.identity);
    this.collect(this.buckets[0], StreamType.UPSTREAM, patch, out);
    this.collect(this.buckets[1], StreamType.DOWNSTREAM, patch, out);
    this.pending = false;
  }

  drainBytes(timeMs: number): BytesLease | undefined {
    const core = this.core;
    const out = core.writer;
    out.pos = 0;
    beginBatch(timeMs, this.identity);
    let count = 0;
    for (let bucket = 0; bucket < 2; bucket++) {
      const kind = bucket === 0 ? StreamType.UPSTREAM : StreamType.DOWNSTREAM;
      const tracks = this.buckets[bucket as Bucket];
      for (const [trackId, slot] of tracks) {
        const pool = core.pool;
        const d = slot * W.SIZE;
        if (pool.u32[d + W.COUNT] === 0) {
          tracks.delete(trackId);
          pool.release(slot);
          continue;
        }
        writeStat(out, pool.u32, pool.f32, d, this.identity, trackId, kind);
        pool.reset(slot);
        count++;
      }
    }
    this.pending = false;
    // the writer buffer is shared and a drain the reporter causes would overwrite it, so the
    // lease holds a copy (the wasm engine lends its buffer instead)
    return count === 0 ? undefined : ownedLease(out.buf.slice(0, out.pos), count, false);
  }

  // Reads and resets every slot of a bucket; a quiet track's slot goes back to the pool, as in
  // the wasm engine.
  private collect(tracks: Map<string, number>, kind: StreamType, patch: Patch, out: AnalyticsStat[]): void {
    const pool = this.core.pool;
    for (const [trackId, slot] of tracks) {
      if (pool.u32[slot * W.SIZE + W.COUNT] === 0) {
        tracks.delete(trackId);
        pool.release(slot);
        continue;
      }
      const stat = this.core.result(slot);
      pool.reset(slot);
      patchStat(stat, patch, trackId, kind);
      out.push(stat);
    }
  }

  close(): void {
    for (const tracks of this.buckets) {
      for (const slot of tracks.values()) this.core.pool.release(slot);
      tracks.clear();
    }
    this.pending = false;
    this.route?.close();
  }

  dispose(): void {
    this.close();
    this.route?.detach();
  }
}

/**
 * Creates a ts-flat engine. Its `kind` is `"ts-flat"`, cast to `EngineKind` (it is not a public
 * kind); pass it wherever a StatsWorker or TelemetryService takes an engine.
 */
export function createTsFlatEngine(options: EngineOptions = {}): EngineImpl {
  const logger: Logger = options.logger ?? silentLogger;
  const core = new FlatCore();
  let scratchSlot = -1;
  return {
    kind: "ts-flat" as EngineKind,
    // a benchmark subject: its inputs never approach a bound, so it enforces none
    bounds: DEFAULT_BOUNDS,
    // the flat records implement the 2022 rules only
    profile: "livekit-v1.2",
    coalesce(stats: readonly AnalyticsStat[]): AnalyticsStat | undefined {
      if (stats.length === 0) return undefined;
      if (scratchSlot < 0) scratchSlot = core.pool.alloc();
      core.pool.reset(scratchSlot);
      for (const stat of stats) {
        const valid = core.foldObject(stat);
        core.commit(scratchSlot, valid);
        if (!valid) logger.warn("telemetry skipping invalid stat", { stat });
      }
      return core.result(scratchSlot);
    },
    isValid(stat: AnalyticsStat): boolean {
      return core.foldObject(stat);
    },
    createTrackTable: (identity: TrackIdentity, router?: BatchRouter) =>
      new FlatTrackTable(core, identity, router instanceof DecodingRouter ? router : undefined),
    // batches are decoded with protobuf-es, as for the ts engine: ts-flat has no router of its own
    createRouter: () => new DecodingRouter(),
    dispose: () => undefined,
    usage: () => ({ memoryBytes: 0, slots: -1, heapFreeBytes: 0 }),
  };
}
