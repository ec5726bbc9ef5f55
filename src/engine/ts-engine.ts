/**
 * The pure-TypeScript engine: a faithful port of Go's `coalesce` and `isValid` over protobuf-es
 * message objects (statsworker.go, livekit/livekit commit 29039b4e for the `"livekit-v1.2"`
 * profile, commit 788d4c35 for `"livekit-current"`).
 *
 * It is the oracle the wasm engine is tested against and the baseline of the benchmarks, so it
 * stays plain: u32 arithmetic with `>>> 0`, u64 with `BigInt.asUintN(64, ...)`, float32 with
 * `Math.fround` after every operation, exactly where Go's types round.
 *
 * @module
 */
import { StreamType, type AnalyticsStat, type AnalyticsVideoLayer } from "../gen/livekit/livekit_analytics_pb.ts";
import { LimitError } from "../errors.ts";
import { LIMITS } from "../limits.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { limitError, resolveBounds, type EngineBounds } from "../limits.ts";
import { decodeStat } from "./decode-stat.ts";
import { wtf8Length } from "./ids.ts";
import { StatReader, type AnalyticsStatInput, type StatSnapshot } from "./read-stat.ts";
import { DecodingRouter, type Route } from "./decoding-router.ts";
import { ownedLease, type BatchRouter, type BytesLease, type Bucket, type EngineImpl, type EngineOptions, type TrackIdentity, type TrackTable } from "./engine.ts";
import { makeLayer, makePatch, makeStat, makeStream, patchStat, stampResults, type Patch } from "./output.ts";
import { encodeBatch } from "./encode-batch.ts";
import { after, asTime, before, isZero, toTimestamp, ZERO_TIME, type GoTime } from "./go-time.ts";
import { checkProfile, type Profile } from "./profile.ts";

const U32_SIGN = 0x8000_0000;
const U64_SIGN = 1n << 63n;

const u32 = (v: number): number => v >>> 0;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/**
 * Go `isValid` (R7): a stat is invalid when a u32 counter of any stream or layer is >= 2^31 or a
 * u64 counter is >= 2^63 (Go casts them to int32/int64 and tests `< 0`). rtt, jitter, ssrc,
 * layer and score are not checked. With `current` (the `"livekit-current"` profile),
 * `packetsOutOfOrder` is checked too.
 */
export function isValid(stat: StatSnapshot, current = false): boolean {
  for (let i = 0; i < stat.streamCount; i++) {
    const s = stat.streams[i]!;
    if (
      (current && s.packetsOutOfOrder >= U32_SIGN) ||
      s.primaryPackets >= U32_SIGN ||
      s.primaryBytes >= U64_SIGN ||
      s.retransmitPackets >= U32_SIGN ||
      s.retransmitBytes >= U64_SIGN ||
      s.paddingPackets >= U32_SIGN ||
      s.paddingBytes >= U64_SIGN ||
      s.packetsLost >= U32_SIGN ||
      s.frames >= U32_SIGN ||
      s.nacks >= U32_SIGN ||
      s.plis >= U32_SIGN ||
      s.firs >= U32_SIGN
    ) {
      return false;
    }
    for (let j = 0; j < s.layerCount; j++) {
      const l = s.layers[j]!;
      if (l.packets >= U32_SIGN || l.bytes >= U64_SIGN || l.frames >= U32_SIGN) return false;
    }
  }
  return true;
}

// every Coalescer of the process reads through one reader: a stat is read once, then folded
const reader = new StatReader();

/**
 * The body of Go's `coalesce` loop, one stat at a time: `coalesce(stats)` is `add` for each
 * stat, then `result()`. Values are read when `add` is called, so a worker that keeps a
 * Coalescer per track holds a snapshot, never the caller's object.
 */
export class Coalescer {
  /** every stat added, invalid ones included: Go divides by `len(stats)` (R10) */
  count = 0;
  /** the `"livekit-current"` rules instead of the 2022 ones */
  private readonly current: boolean;
  private score = 0;
  // livekit-current (788d4c35): the positive scores of valid stats, their minimum, the last
  // stat's mime, packetsOutOfOrder and the streams' time window; Go's zero Time starts both ends
  private readonly scores: number[] = [];
  private minScore = 0;
  private mime = "";
  private packetsOutOfOrder = 0;
  private startTime: GoTime = ZERO_TIME;
  private endTime: GoTime = ZERO_TIME;
  private maxRtt = 0;
  private maxJitter = 0;
  private primaryPackets = 0;
  private primaryBytes = 0n;
  private retransmitPackets = 0;
  private retransmitBytes = 0n;
  private paddingPackets = 0;
  private paddingBytes = 0n;
  private packetsLost = 0;
  private frames = 0;
  private nacks = 0;
  private plis = 0;
  private firs = 0;
  private readonly layers = new Map<number, AnalyticsVideoLayer>();

  /** A coalescer following `profile`'s rules; default `"livekit-v1.2"`. */
  constructor(profile: Profile = "livekit-v1.2") {
    this.current = profile === "livekit-current";
  }

  /**
   * Folds one stat in; returns false when it is invalid and was only counted (R7). A stat whose
   * fields have the wrong JS types or are out of range throws an ArgumentError, and one over
   * `LIMITS` a LimitError, before anything is counted or folded. In livekit-current a valid stat
   * with a positive score is refused with a LimitError `too_many_scores` when the window already
   * holds `LIMITS.maxScoresPerWindow` of them.
   */
  add(input: AnalyticsStatInput): boolean {
    const current = this.current;
    const stat = reader.read(input, current);
    const valid = isValid(stat, current);
    const score = Math.fround(stat.score);
    if (current && valid && score > 0 && this.scores.length >= LIMITS.maxScoresPerWindow) {
      // the median needs every positive score: refuse the stat whole rather than give a wrong one
      throw new LimitError("too_many_scores", LIMITS.maxScoresPerWindow, `track window already holds ${LIMITS.maxScoresPerWindow} positive scores, the limit`);
    }
    this.count++;
    // livekit-current: `stats[len(stats)-1].Mime`, the last stat's, valid or not
    if (current) this.mime = stat.mime;
    if (!valid) return false;
    if (!current) {
      // Go parity (R10): float32 sum, rounded after every addition.
      this.score = Math.fround(this.score + score);
    } else if (score > 0) {
      // livekit-current: only positive scores count (NaN and -0 do not); the first starts the minimum
      if (this.minScore === 0 || score < this.minScore) this.minScore = score;
      this.score = Math.fround(this.score + score);
      this.scores.push(score);
    }
    for (let i = 0; i < stat.streamCount; i++) {
      const s = stat.streams[i]!;
      if (current) {
        // Go parity: `startTime.IsZero() || startTime.After(start)`; a missing time is the epoch
        const start = asTime(s.hasStartTime, s.startSeconds, s.startNanos);
        if (isZero(this.startTime) || after(this.startTime, start)) this.startTime = start;
        const end = asTime(s.hasEndTime, s.endSeconds, s.endNanos);
        if (isZero(this.endTime) || before(this.endTime, end)) this.endTime = end;
        this.packetsOutOfOrder = u32(this.packetsOutOfOrder + s.packetsOutOfOrder);
      }
      if (s.rtt > this.maxRtt) this.maxRtt = s.rtt;
      if (s.jitter > this.maxJitter) this.maxJitter = s.jitter;
      this.primaryPackets = u32(this.primaryPackets + s.primaryPackets);
      this.primaryBytes = u64(this.primaryBytes + s.primaryBytes);
      this.retransmitPackets = u32(this.retransmitPackets + s.retransmitPackets);
      this.retransmitBytes = u64(this.retransmitBytes + s.retransmitBytes);
      this.paddingPackets = u32(this.paddingPackets + s.paddingPackets);
      this.paddingBytes = u64(this.paddingBytes + s.paddingBytes);
      this.packetsLost = u32(this.packetsLost + s.packetsLost);
      this.frames = u32(this.frames + s.frames);
      this.nacks = u32(this.nacks + s.nacks);
      this.plis = u32(this.plis + s.plis);
      this.firs = u32(this.firs + s.firs);
      for (let j = 0; j < s.layerCount; j++) {
        const l = s.layers[j]!;
        const merged = this.layers.get(l.layer);
        if (merged === undefined) {
          // Go parity (R9): the first occurrence is copied (proto.Clone), later ones add into it.
          this.layers.set(l.layer, makeLayer(l.layer, l.packets, l.bytes, l.frames));
        } else {
          merged.packets = u32(merged.packets + l.packets);
          merged.bytes = u64(merged.bytes + l.bytes);
          merged.frames = u32(merged.frames + l.frames);
        }
      }
    }
    return true;
  }

  /** The coalesced stat, or undefined when nothing was added (R6). */
  result(): AnalyticsStat | undefined {
    if (this.count === 0) return undefined;
    // Q1: Go keeps whichever layer its map iteration meets first when the highest index is -1;
    // here the numerically highest index always wins.
    let top: AnalyticsVideoLayer | undefined;
    for (const layer of this.layers.values()) {
      if (top === undefined || layer.layer > top.layer) top = layer;
    }
    const stream = makeStream(
      this.primaryPackets,
      this.primaryBytes,
      this.retransmitPackets,
      this.retransmitBytes,
      this.paddingPackets,
      this.paddingBytes,
      this.packetsLost,
      this.frames,
      this.maxRtt,
      this.maxJitter,
      this.nacks,
      this.plis,
      this.firs,
      top === undefined ? [] : [top],
    );
    if (!this.current) {
      // Go parity (R10): float32 division by the number of ALL stats, invalid ones included.
      return makeStat(Math.fround(this.score / Math.fround(this.count)), stream);
    }
    const n = this.scores.length;
    stream.packetsOutOfOrder = this.packetsOutOfOrder;
    stream.startTime = toTimestamp(this.startTime);
    stream.endTime = toTimestamp(this.endTime);
    const stat = makeStat(n === 0 ? 0 : Math.fround(this.score / Math.fround(n)), stream);
    // as UTF-8 carries it (protobuf-es writes an unpaired surrogate as U+FFFD), so that objects
    // out equal bytes out and both engines agree
    stat.mime = (this.mime as string & { toWellFormed(): string }).toWellFormed();
    stat.minScore = this.minScore;
    stat.medianScore = median(this.scores);
    return stat;
  }
}

/**
 * Which tracks a ts table holds against the engine's bounds, exactly as the wasm engine holds
 * slots: from a track's first stat until the end of the first window in which it had none (the
 * wasm engine keeps a drained slot for one window, for reuse), or until the worker closes.
 */
class TrackLedger {
  private held: [Set<string>, Set<string>] | undefined = undefined;
  private tracks = 0;
  private idBytes = 0;

  constructor(
    private readonly bounds: Readonly<EngineBounds>,
    private readonly service: { tracks: number } | undefined,
  ) {}

  /**
   * Holds (`bucket`, `trackId`); returns true when it was not held before.
   *
   * @throws LimitError when a new track would pass a bound (checked in the wasm engine's order)
   */
  hold(bucket: Bucket, trackId: string): boolean {
    const held = (this.held ??= [new Set(), new Set()]);
    if (held[bucket].has(trackId)) return false;
    const b = this.bounds;
    if (this.tracks >= b.maxTracksPerWorker) throw limitError.tooManyTracks(b.maxTracksPerWorker);
    if (this.service !== undefined && this.service.tracks >= b.maxTracksPerService) {
      throw limitError.tooManyServiceTracks(b.maxTracksPerService);
    }
    const bytes = wtf8Length(trackId);
    if (this.idBytes + bytes > b.maxIdBytesPerWorker) throw limitError.tooManyIdBytes(b.maxIdBytesPerWorker);
    held[bucket].add(trackId);
    this.tracks++;
    this.idBytes += bytes;
    if (this.service !== undefined) this.service.tracks++;
    return true;
  }

  /** Lets go of (`bucket`, `trackId`). */
  release(bucket: Bucket, trackId: string): void {
    if (this.held?.[bucket].delete(trackId) !== true) return;
    this.tracks--;
    this.idBytes -= wtf8Length(trackId);
    if (this.service !== undefined) this.service.tracks--;
  }

  /** The end of a window: the tracks that had stats in it stay held, the others go. */
  retain(window: readonly [Map<string, unknown>, Map<string, unknown>]): void {
    if (this.held === undefined) return;
    for (const bucket of [0, 1] as const) {
      for (const trackId of this.held[bucket]) if (!window[bucket].has(trackId)) this.release(bucket, trackId);
    }
  }

  /** The worker closed: every track goes. */
  clear(): void {
    if (this.held === undefined) return;
    for (const bucket of [0, 1] as const) for (const trackId of this.held[bucket]) this.release(bucket, trackId);
  }
}

/**
 * LiveKit's `utils.Median` over float32 scores (pkg/utils/math.go at 788d4c35): 0 for none, the
 * middle one of the sorted scores, or for an even count `(left + right) / 2` in float32.
 * Sorts a copy; the scores are positive, so no NaN reaches the comparison.
 */
export function median(scores: readonly number[]): number {
  const n = scores.length;
  if (n === 0) return 0;
  if (n === 1) return scores[0]!;
  const sorted = scores.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (n % 2 !== 0) return sorted[n >> 1]!;
  // Go parity: float32 addition first (it may overflow to +Inf), then float32 division
  return Math.fround(Math.fround(sorted[n / 2 - 1]! + sorted[n / 2]!) / 2);
}

class TsTrackTable implements TrackTable {
  private buckets: [Map<string, Coalescer>, Map<string, Coalescer>] = [new Map(), new Map()];
  pending = false;
  private readonly route: Route | undefined;
  private readonly ledger: TrackLedger;

  constructor(
    private readonly identity: TrackIdentity,
    private readonly profile: Profile,
    router: DecodingRouter | undefined,
    bounds: Readonly<EngineBounds>,
  ) {
    this.route = router?.attach(identity, this);
    this.ledger = new TrackLedger(bounds, this.route?.service);
  }

  add(trackId: string, bucket: Bucket, stat: AnalyticsStatInput): boolean {
    const tracks = this.buckets[bucket];
    let coalescer = tracks.get(trackId);
    if (coalescer === undefined) {
      coalescer = new Coalescer(this.profile);
      // add() before set(): a stat that cannot be read, or a track over a bound, must leave no
      // empty track behind
      const valid = coalescer.add(stat);
      this.ledger.hold(bucket, trackId);
      tracks.set(trackId, coalescer);
      this.pending = true;
      return valid;
    }
    const valid = coalescer.add(stat);
    this.pending = true;
    return valid;
  }

  addBytes(trackId: string, bucket: Bucket, bytes: Uint8Array): boolean {
    // the bound first, then the bytes, as in the wasm engine; a new track whose first stat is
    // malformed is let go again
    const fresh = !this.buckets[bucket].has(trackId) && this.ledger.hold(bucket, trackId);
    let stat: AnalyticsStat;
    try {
      stat = decodeStat(bytes);
    } catch (err) {
      if (fresh) this.ledger.release(bucket, trackId);
      throw err;
    }
    return this.add(trackId, bucket, stat);
  }

  drain(timeMs: number, out: AnalyticsStat[]): void {
    // R2: take the window and start an empty one before anything else can run
    const [up, down] = this.buckets;
    const patch = makePatch(timeMs, this.identity);
    this.ledger.retain(this.buckets);
    this.buckets = [new Map(), new Map()];
    this.pending = false;
    collect(up, StreamType.UPSTREAM, patch, out);
    collect(down, StreamType.DOWNSTREAM, patch, out);
  }

  drainBytes(timeMs: number, stamp = false): BytesLease | undefined {
    const out: AnalyticsStat[] = [];
    this.drain(timeMs, out);
    if (out.length === 0) return undefined;
    // the node is in every encoded result, as the wasm engine writes it with the patch fields
    stampResults(out, this.identity.node, stamp);
    // a fresh array each time: nothing to protect
    return ownedLease(encodeBatch(out), out.length, stamp);
  }

  close(): void {
    this.buckets = [new Map(), new Map()];
    this.pending = false;
    this.ledger.clear();
    this.route?.close();
  }

  dispose(): void {
    this.close();
    this.route?.detach();
  }
}

function collect(tracks: Map<string, Coalescer>, kind: StreamType, patch: Patch, out: AnalyticsStat[]): void {
  for (const [trackId, coalescer] of tracks) {
    const stat = coalescer.result();
    if (stat === undefined) continue;
    patchStat(stat, patch, trackId, kind);
    out.push(stat);
  }
}

/** @internal Creates the TypeScript engine; use `loadEngine("ts")`. */
export function createTsEngine(options: EngineOptions = {}): EngineImpl {
  const logger: Logger = options.logger ?? silentLogger;
  const bounds = resolveBounds(options.bounds);
  const profile = checkProfile(options.profile);
  const current = profile === "livekit-current";
  return {
    kind: "ts",
    profile,
    bounds,
    coalesce(stats: readonly AnalyticsStatInput[]): AnalyticsStat | undefined {
      const coalescer = new Coalescer(profile);
      for (const stat of stats) {
        if (!coalescer.add(stat)) logger.warn("telemetry skipping invalid stat", { stat });
      }
      return coalescer.result();
    },
    isValid(stat: AnalyticsStatInput): boolean {
      return isValid(reader.read(stat, current), current);
    },
    createTrackTable: (identity: TrackIdentity, router?: BatchRouter) =>
      new TsTrackTable(identity, profile, router instanceof DecodingRouter ? router : undefined, bounds),
    createRouter: () => new DecodingRouter(),
    // nothing of the ts engine outlives its objects
    dispose: () => undefined,
    usage: () => ({ memoryBytes: 0, slots: -1, heapFreeBytes: 0 }),
  };
}
