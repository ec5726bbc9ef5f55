/**
 * A small simulated call for the demo: two participants, each publishing a microphone and a
 * camera and subscribing to the other's camera. Bob's network congests for 12 s of every 40 s,
 * so his score drops, his loss rises and the camera bitrate backs off, then recovers.
 */
import { create } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, StreamType, type AnalyticsStat } from "../../src/index.ts";
import { Random } from "../../src/sim/random.ts";

/** One track as the demo charts it. */
export interface CallTrack {
  readonly roomId: string;
  readonly participantId: string;
  readonly identity: string;
  readonly trackId: string;
  readonly direction: StreamType;
  readonly video: boolean;
  /** who publishes the media (differs from `identity` for a subscription) */
  readonly publisher: string;
  /** a short name for legends: "alice ↑ cam" */
  readonly label: string;
}

interface Network {
  loss: number;
  rttMs: number;
  jitterMs: number;
  /** fraction of the target bitrate the congestion controller allows */
  headroom: number;
}

/** The room, its participants and their tracks; `stat()` gives each track's stats over time. */
export class SimulatedCall {
  readonly roomId = "RM_demo";
  readonly roomName = "demo call";
  readonly participants = [
    { sid: "PA_alice", identity: "alice" },
    { sid: "PA_bob", identity: "bob" },
  ] as const;
  readonly tracks: readonly CallTrack[];
  private readonly random: Random;
  /** smoothed send bitrate per track, bits/s */
  private readonly bitrate = new Map<string, number>();

  constructor(seed = 42) {
    this.random = new Random(seed);
    const tracks: CallTrack[] = [];
    for (const p of this.participants) {
      const other = this.participants.find((o) => o !== p)!;
      const base = { roomId: this.roomId, participantId: p.sid, identity: p.identity };
      tracks.push({ ...base, trackId: `TR_${p.identity}_mic`, direction: StreamType.UPSTREAM, video: false, publisher: p.identity, label: `${p.identity} ↑ mic` });
      tracks.push({ ...base, trackId: `TR_${p.identity}_cam`, direction: StreamType.UPSTREAM, video: true, publisher: p.identity, label: `${p.identity} ↑ cam` });
      tracks.push({ ...base, trackId: `TR_${other.identity}_cam`, direction: StreamType.DOWNSTREAM, video: true, publisher: other.identity, label: `${p.identity} ↓ ${other.identity}'s cam` });
    }
    this.tracks = tracks;
  }

  private network(identity: string, tMs: number): Network {
    const r = this.random;
    const phase = (tMs / 1000) % 40;
    const congested = identity === "bob" && phase >= 14 && phase < 26;
    // a soft edge so the charts show a ramp, not a step
    const depth = congested ? Math.min(1, (phase - 14) / 3, (26 - phase) / 2) : 0;
    return {
      loss: (identity === "bob" ? 0.006 : 0.002) * (0.5 + r.float()) + depth * (0.06 + 0.04 * r.float()),
      rttMs: (identity === "bob" ? 70 : 35) + depth * 220 + r.int(0, 10),
      jitterMs: (identity === "bob" ? 8 : 4) + depth * 40 + r.int(0, 3),
      headroom: 1 - 0.65 * depth,
    };
  }

  /** The stat `track` reports for the `intervalMs` ending at `tMs` of call time. */
  stat(track: CallTrack, tMs: number, intervalMs: number): AnalyticsStat {
    const r = this.random;
    const up = this.network(track.publisher, tMs);
    const down = track.direction === StreamType.DOWNSTREAM ? this.network(track.identity, tMs) : undefined;
    const loss = down ? 1 - (1 - up.loss) * (1 - down.loss) : up.loss;
    const headroom = Math.min(up.headroom, down?.headroom ?? 1);
    const key = `${track.participantId}/${track.trackId}`;
    const target = (track.video ? 1_600_000 : 40_000) * headroom;
    const previous = this.bitrate.get(key) ?? target;
    // congestion control backs off fast and probes back slowly
    const bitrate = previous + (target - previous) * (target < previous ? 0.35 : 0.08) + (r.float() - 0.5) * target * 0.06;
    this.bitrate.set(key, bitrate);
    const seconds = intervalMs / 1000;
    const bytes = Math.max(0, Math.round((bitrate * seconds) / 8));
    // video fills ~1100-byte packets; audio sends one packet per 20 ms frame
    const packets = Math.max(1, track.video ? Math.round(bytes / 1100) : Math.round(50 * seconds));
    const packetSize = Math.round(bytes / packets);
    // stochastic rounding keeps the expected loss at `loss` even for a dozen packets
    const lost = Math.floor(packets * loss + r.float());
    const retransmitPackets = track.video ? Math.round(lost * 0.7) : 0;
    const videoLayers = [];
    if (track.video) {
      // simulcast: the top layer only while there is headroom for it
      const shares = headroom > 0.6 ? [0.12, 0.28, 0.6] : [0.3, 0.7];
      for (const [layer, share] of shares.entries()) {
        videoLayers.push({ layer, packets: Math.round(packets * share), bytes: BigInt(Math.round(bytes * share)), frames: Math.round(30 * seconds) });
      }
    }
    const streams = [
      {
        ssrc: 1000 + this.tracks.indexOf(track),
        primaryPackets: packets,
        primaryBytes: BigInt(bytes),
        retransmitPackets,
        retransmitBytes: BigInt(retransmitPackets * packetSize),
        paddingPackets: track.video && headroom > 0.9 ? r.int(0, 3) : 0,
        paddingBytes: BigInt(track.video && headroom > 0.9 ? r.int(0, 600) : 0),
        packetsLost: lost,
        frames: track.video ? Math.round(30 * seconds) : 0,
        rtt: Math.round(up.rttMs + (down?.rttMs ?? 0)),
        jitter: Math.round(Math.max(up.jitterMs, down?.jitterMs ?? 0)),
        nacks: track.video ? lost : 0,
        plis: track.video && lost > 10 && r.chance(0.2) ? 1 : 0,
        videoLayers,
      },
    ];
    if (r.chance(0.004)) {
      // now and then a counter that went backwards: the engine skips the stat (R7)
      streams[0]!.packetsLost = 2 ** 32 - r.int(1, 50);
    }
    // the score follows the network's loss rate, not this interval's handful of packets
    const score = Math.max(1, Math.min(5, 4.6 - loss * 100 * 0.3 - Math.max(0, up.rttMs + (down?.rttMs ?? 0) - 150) / 200 + (r.float() - 0.5) * 0.15));
    return create(AnalyticsStatSchema, { score: Math.fround(score), streams, mime: track.video ? "video/VP8" : "audio/opus" });
  }
}
