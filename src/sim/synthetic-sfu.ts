/**
 * A synthetic SFU: rooms of participants, each publishing and subscribing to tracks, producing
 * one `AnalyticsStat` per track per tick with realistic counters. Used by `statsworker simulate`,
 * the benchmarks (W2/W3 in docs/rules.md) and tests.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, StreamType, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { Random } from "./random.ts";

/** Options of {@link SyntheticSfu}. */
export interface SyntheticSfuOptions {
  /** participants in total; default 1000 */
  participants?: number;
  /** participants per room; default 10 */
  participantsPerRoom?: number;
  /** tracks per participant, half UPSTREAM (rounded up), half DOWNSTREAM; default 4 */
  tracks?: number;
  /** seed of the PRNG; default 1 */
  seed?: number;
  /** probability that a stat carries a backwards (invalid, >= 2^31) counter; default 0.001 */
  invalidRate?: number;
  /**
   * most tracks per participant: when larger than `tracks`, each participant gets a uniformly
   * drawn count in [`tracks`, `maxTracks`]; default `tracks` (every participant has `tracks`)
   */
  maxTracks?: number;
}

/** One track of a synthetic participant. */
export interface SyntheticTrack {
  readonly trackId: string;
  readonly direction: StreamType;
  readonly video: boolean;
}

/** One synthetic participant. */
export interface SyntheticParticipant {
  readonly roomId: string;
  readonly roomName: string;
  readonly participantId: string;
  readonly identity: string;
  readonly tracks: readonly SyntheticTrack[];
}

/** Generates participants and their per-tick stats, deterministically from a seed. */
export class SyntheticSfu {
  readonly participants: readonly SyntheticParticipant[];
  private readonly random: Random;
  private readonly invalidRate: number;

  private readonly perRoom: number;
  private readonly tracks: number;
  private readonly maxTracks: number;
  private nextParticipant = 0;

  constructor(options: SyntheticSfuOptions = {}) {
    const count = options.participants ?? 1000;
    this.perRoom = options.participantsPerRoom ?? 10;
    this.tracks = options.tracks ?? 4;
    this.maxTracks = Math.max(this.tracks, options.maxTracks ?? this.tracks);
    this.random = new Random(options.seed ?? 1);
    this.invalidRate = options.invalidRate ?? 0.001;
    const list: SyntheticParticipant[] = [];
    for (let p = 0; p < count; p++) list.push(this.addParticipant(Math.floor(p / this.perRoom)));
    this.participants = list;
  }

  /** Number of rooms the initial participants fill (`participantsPerRoom` each, the last one maybe fewer). */
  get roomCount(): number {
    return Math.ceil(this.participants.length / this.perRoom);
  }

  /**
   * A new participant with fresh ids (never reused) in room number `room`: for simulations where
   * participants join after the start. It is not added to {@link participants}.
   */
  addParticipant(room: number): SyntheticParticipant {
    const p = this.nextParticipant++;
    // the PRNG is only consulted for a varying track count, so fixed-count streams stay as they were
    const tracks = this.maxTracks > this.tracks ? this.random.int(this.tracks, this.maxTracks) : this.tracks;
    const t: SyntheticTrack[] = [];
    for (let i = 0; i < tracks; i++) {
      t.push({
        trackId: `TR_${p.toString(36)}_${i}`,
        direction: i < Math.ceil(tracks / 2) ? StreamType.UPSTREAM : StreamType.DOWNSTREAM,
        video: i % 2 === 1,
      });
    }
    return { roomId: `RM_${room}`, roomName: `room-${room}`, participantId: `PA_${p.toString(36)}`, identity: `user-${p}`, tracks: t };
  }

  /**
   * One stat for `track` of `participant`: 1-3 streams (a primary one, sometimes RTX and FEC),
   * 0-3 simulcast layers per video stream, and now and then a backwards counter (invalid, R7).
   * The routing fields (room, participant, track, kind) are filled in so the stat can also go
   * through `ingestBatch`.
   */
  stat(participant: SyntheticParticipant, track: SyntheticTrack): AnalyticsStat {
    const r = this.random;
    const streams = [];
    const streamCount = r.int(1, 3);
    for (let s = 0; s < streamCount; s++) {
      const packets = track.video ? r.int(200, 2000) : r.int(40, 120);
      const layers = [];
      const layerCount = track.video ? r.int(0, 3) : 0;
      for (let l = 0; l < layerCount; l++) {
        const lp = r.int(10, packets);
        layers.push({ layer: l, packets: lp, bytes: BigInt(lp * r.int(900, 1200)), frames: r.int(5, 30) });
      }
      streams.push({
        ssrc: r.u32(),
        primaryPackets: packets,
        primaryBytes: BigInt(packets * r.int(track.video ? 900 : 60, track.video ? 1200 : 160)),
        retransmitPackets: r.int(0, 20),
        retransmitBytes: BigInt(r.int(0, 20_000)),
        paddingPackets: r.int(0, 10),
        paddingBytes: BigInt(r.int(0, 2_000)),
        packetsLost: r.int(0, 15),
        frames: track.video ? r.int(50, 300) : 0,
        rtt: r.int(5, 300),
        jitter: r.int(0, 50),
        nacks: r.int(0, 10),
        plis: r.int(0, 2),
        firs: r.int(0, 1),
        videoLayers: layers,
      });
    }
    if (r.chance(this.invalidRate)) {
      // a counter that went backwards: Go sees a negative int32 (R7)
      streams[0]!.packetsLost = 2 ** 32 - r.int(1, 100);
    }
    return create(AnalyticsStatSchema, {
      roomId: participant.roomId,
      participantId: participant.participantId,
      trackId: track.trackId,
      kind: track.direction,
      score: Math.fround(1 + r.float() * 4),
      streams,
    });
  }
}
