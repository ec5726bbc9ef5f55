/**
 * Realistic AnalyticsStat inputs shared by the decoder tests and the fuzz test.
 *
 * @module
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { StreamType, type AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { stat } from "./harness.ts";

/** A video stat as an SFU sends it: every field set, later fields too, two streams, layers. */
export function realisticStat(): AnalyticsStat {
  return stat({
    analyticsKey: "key-1",
    kind: StreamType.DOWNSTREAM,
    timeStamp: timestampFromMs(1_700_000_000_123),
    node: "node-é",
    roomId: "RM_abc",
    roomName: "salle à manger 🍽",
    participantId: "PA_xyz",
    trackId: "TR_video",
    score: 4.25,
    mime: "video/VP8",
    minScore: 3.5,
    medianScore: 4,
    id: "AS_1",
    streams: [
      {
        ssrc: 0xdead_beef,
        primaryPackets: 1200,
        primaryBytes: 1_500_000n,
        retransmitPackets: 3,
        retransmitBytes: 3600n,
        paddingPackets: 40,
        paddingBytes: 9000n,
        packetsLost: 2,
        frames: 300,
        rtt: 45,
        jitter: 12,
        nacks: 4,
        plis: 1,
        firs: 0,
        videoLayers: [
          { layer: 0, packets: 200, bytes: 100_000n, frames: 100 },
          { layer: 2, packets: 900, bytes: 1_300_000n, frames: 150 },
        ],
        startTime: timestampFromMs(1_700_000_000_000),
        endTime: timestampFromMs(1_700_000_010_000),
        packetsOutOfOrder: 9,
      },
      { ssrc: 7, primaryPackets: 10, primaryBytes: 2000n, rtt: 80, jitter: 3, videoLayers: [{ layer: 2, packets: 5, bytes: 50n, frames: 5 }] },
    ],
  });
}

/** Smaller shapes that exercise other paths: empty, audio, invalid, negative layers. */
export function corpus(): AnalyticsStat[] {
  return [
    stat({}),
    realisticStat(),
    stat({ kind: StreamType.UPSTREAM, trackId: "TR_audio", score: 5, streams: [{ primaryPackets: 50, primaryBytes: 4000n, rtt: 20 }] }),
    stat({ score: 1, streams: [{ primaryPackets: 2 ** 31 }] }),
    stat({ streams: [{ videoLayers: [{ layer: -3, packets: 1 }, { layer: -1, bytes: 2n ** 63n }] }] }),
    stat({ streams: [{}, {}, { videoLayers: [{}, {}] }] }),
  ];
}
