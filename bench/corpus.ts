/**
 * Deterministic benchmark workloads (W1-W3 in docs/rules.md), generated from a seed with the synthetic
 * SFU so every run and every implementation sees the same stats.
 *
 * - W1: groups of k stats of one video track (k = 2, 16): 1-3 streams, 0-3 layers per stream.
 * - W2: one flush window of 1 000 participants x 4 tracks (2 up, 2 down) x 2 stats per track.
 * - W3: W2 with 10 000 participants.
 *
 * Each flush workload holds several distinct windows (cycled by the cases) in three forms: message
 * objects, one encoded `AnalyticsStat` per stat, and one size-delimited batch buffer per window
 * whose stats carry their own room_id, participant_id, track_id and kind.
 *
 * @module
 */
import { toBinary } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, type AnalyticsStat, type StreamType } from "../src/gen/livekit/livekit_analytics_pb.ts";
import { SyntheticSfu, type SyntheticParticipant } from "../src/sim/synthetic-sfu.ts";

/** Seed of every workload; change it and every number in the results changes. */
export const CORPUS_SEED = 20261125;

/** One flush window: the i-th entry of every array is one stat. */
export interface Window {
  readonly roomIds: readonly string[];
  readonly participantIds: readonly string[];
  readonly trackIds: readonly string[];
  readonly directions: readonly StreamType[];
  readonly stats: readonly AnalyticsStat[];
  /** `toBinary(AnalyticsStatSchema, stats[i])` */
  readonly bytes: readonly Uint8Array[];
  /** every stat size-delimited (varint length + message), for `TelemetryService.ingestBatch` */
  readonly batch: Uint8Array;
  /**
   * `bytes[i]` again, as views into `batch` (the way a socket hands them over: subarrays of one
   * received buffer), for the bytes-in cases that must not start from separate arrays
   */
  readonly received: readonly Uint8Array[];
  /** total of `bytes[i].length` */
  readonly encodedBytes: number;
}

/** A flush workload: the participants to join, and the windows to cycle. */
export interface FlushCorpus {
  readonly shape: string;
  readonly participants: readonly SyntheticParticipant[];
  readonly windows: readonly Window[];
  /** stats ingested per window */
  readonly statsPerWindow: number;
}

/** Stats per track per window (W2). */
export const STATS_PER_TRACK = 2;

function concatDelimited(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += varintLength(p.length) + p.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    let n = p.length;
    while (n > 0x7f) {
      out[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[pos++] = n;
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function varintLength(n: number): number {
  let len = 1;
  while (n > 0x7f) {
    n >>>= 7;
    len++;
  }
  return len;
}

/**
 * A flush workload of `participants` participants with 4 tracks each, `windows` distinct windows
 * of `STATS_PER_TRACK` stats per track (every track's first stat, then every track's second).
 */
export function flushCorpus(shape: string, participants: number, windows: number, seed = CORPUS_SEED): FlushCorpus {
  const sfu = new SyntheticSfu({ participants, tracks: 4, seed });
  const list: Window[] = [];
  for (let w = 0; w < windows; w++) {
    const roomIds: string[] = [];
    const participantIds: string[] = [];
    const trackIds: string[] = [];
    const directions: StreamType[] = [];
    const stats: AnalyticsStat[] = [];
    const bytes: Uint8Array[] = [];
    let encodedBytes = 0;
    for (let round = 0; round < STATS_PER_TRACK; round++) {
      for (const p of sfu.participants) {
        for (const t of p.tracks) {
          const stat = sfu.stat(p, t);
          const encoded = toBinary(AnalyticsStatSchema, stat);
          roomIds.push(p.roomId);
          participantIds.push(p.participantId);
          trackIds.push(t.trackId);
          directions.push(t.direction);
          stats.push(stat);
          bytes.push(encoded);
          encodedBytes += encoded.length;
        }
      }
    }
    const batch = concatDelimited(bytes);
    list.push({ roomIds, participantIds, trackIds, directions, stats, bytes, batch, received: splitDelimited(batch), encodedBytes });
  }
  return { shape, participants: sfu.participants, windows: list, statsPerWindow: list[0]?.stats.length ?? 0 };
}

/** The messages of a size-delimited buffer, as subarrays of it. */
function splitDelimited(batch: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < batch.length) {
    let length = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = batch[pos++]!;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte >= 0x80);
    out.push(batch.subarray(pos, pos + length));
    pos += length;
  }
  return out;
}

/** A coalesce workload: `groups` distinct groups of `k` stats of one video track each. */
export function coalesceCorpus(k: number, groups: number, seed = CORPUS_SEED): AnalyticsStat[][] {
  const sfu = new SyntheticSfu({ participants: groups, tracks: 4, seed: seed ^ k });
  return sfu.participants.map((p) => {
    const video = p.tracks[1]!; // odd tracks are video: 0-3 layers per stream
    return Array.from({ length: k }, () => sfu.stat(p, video));
  });
}

const cache = new Map<string, FlushCorpus>();

/** W2 (1 000 participants, 4 windows), generated once per process. */
export function w2(): FlushCorpus {
  let c = cache.get("w2");
  if (c === undefined) cache.set("w2", (c = flushCorpus("w2", 1_000, 4)));
  return c;
}

/** W3 (10 000 participants, 2 windows), generated once per process. */
export function w3(): FlushCorpus {
  let c = cache.get("w3");
  if (c === undefined) cache.set("w3", (c = flushCorpus("w3", 10_000, 2)));
  return c;
}
