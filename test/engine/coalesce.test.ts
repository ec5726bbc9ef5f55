import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, AnalyticsStreamSchema } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { isLimitError, LIMITS } from "../../src/index.ts";
import { ENGINE_KINDS, engine, f32bits, stat } from "../helpers.ts";

const U31 = 2 ** 31;
const U63 = 2n ** 63n;

for (const kind of ENGINE_KINDS) {
  suite(`coalesce() [${kind}]`, () => {
    test("an empty list gives undefined (R6)", async () => {
      assert.equal((await engine(kind)).coalesce([]), undefined);
    });

    test("the result holds only score and one stream with ssrc 0 (R6, R12)", async () => {
      const e = await engine(kind);
      const input = stat({
        analyticsKey: "k", kind: 1, node: "n", roomId: "r", roomName: "rn", participantId: "p", trackId: "t",
        mime: "video/vp8", minScore: 1, medianScore: 2, id: "AS_x", score: 4,
        timeStamp: { seconds: 5n, nanos: 6 },
        streams: [{ ssrc: 1234, primaryPackets: 3, packetsOutOfOrder: 9, startTime: { seconds: 1n }, endTime: { seconds: 2n } }],
      });
      const out = e.coalesce([input])!;
      const expected = create(AnalyticsStatSchema, { score: 4, streams: [{ primaryPackets: 3 }] });
      assert.ok(equals(AnalyticsStatSchema, out, expected));
      assert.deepEqual(out, expected);
      assert.deepEqual(toBinary(AnalyticsStatSchema, out), toBinary(AnalyticsStatSchema, expected));
    });

    test("counters are summed, rtt and jitter take the max (R8)", async () => {
      const e = await engine(kind);
      const out = e.coalesce([
        stat({ score: 1, streams: [{ primaryPackets: 1, primaryBytes: 28n, rtt: 23, jitter: 2, nacks: 1, plis: 2, firs: 3 },
                                   { retransmitPackets: 2, retransmitBytes: 10n, paddingPackets: 3, paddingBytes: 7n, rtt: 4, jitter: 5 }] }),
        stat({ score: 3, streams: [{ primaryPackets: 1, primaryBytes: 28n, packetsLost: 4, frames: 30, rtt: 11, jitter: 1, nacks: 1 }] }),
      ])!;
      const s = out.streams[0]!;
      assert.equal(s.primaryPackets, 2);
      assert.equal(s.primaryBytes, 56n);
      assert.equal(s.retransmitPackets, 2);
      assert.equal(s.retransmitBytes, 10n);
      assert.equal(s.paddingPackets, 3);
      assert.equal(s.paddingBytes, 7n);
      assert.equal(s.packetsLost, 4);
      assert.equal(s.frames, 30);
      assert.equal(s.nacks, 2);
      assert.equal(s.plis, 2);
      assert.equal(s.firs, 3);
      assert.equal(s.rtt, 23);
      assert.equal(s.jitter, 5);
      assert.equal(out.score, 2);
    });

    test("u32 counters wrap mod 2^32 (R8)", async () => {
      const e = await engine(kind);
      const st = stat({ streams: [{ primaryPackets: U31 - 1, nacks: U31 - 1 }] });
      const out = e.coalesce([st, st, st])!;
      assert.equal(out.streams[0]!.primaryPackets, 2147483645);
      assert.equal(out.streams[0]!.nacks, 2147483645);
    });

    test("u64 counters wrap mod 2^64 (R8)", async () => {
      const e = await engine(kind);
      const st = stat({ streams: [{ primaryBytes: U63 - 1n, paddingBytes: U63 - 1n, videoLayers: [{ layer: 0, bytes: U63 - 1n }] }] });
      const out = e.coalesce([st, st, st])!;
      assert.equal(out.streams[0]!.primaryBytes, 9223372036854775805n);
      assert.equal(out.streams[0]!.paddingBytes, 9223372036854775805n);
      assert.equal(out.streams[0]!.videoLayers[0]!.bytes, 9223372036854775805n);
    });

    test("the score divisor counts invalid stats: 4.7, 4.9, 3.3 and one invalid give 0x404e6667 (R10)", async () => {
      const e = await engine(kind);
      const out = e.coalesce([
        stat({ score: 4.7 }), stat({ score: 4.9 }), stat({ score: 3.3 }),
        stat({ score: 100, streams: [{ primaryPackets: U31 }] }),
      ])!;
      assert.equal(f32bits(out.score), 0x404e6667);
    });

    test("the score sum is float32, rounded after every addition (R10)", async () => {
      const e = await engine(kind);
      // 2^24 + 1 rounds back to 2^24 in float32 each time; a float64 sum would give 2^24 + 2
      const out = e.coalesce([stat({ score: 2 ** 24 }), stat({ score: 1 }), stat({ score: 1 })])!;
      assert.equal(out.score, Math.fround(2 ** 24 / 3));
    });

    test("a float64 score is rounded to float32 first, like the wire would (R10)", async () => {
      const e = await engine(kind);
      const out = e.coalesce([stat({ score: 0.1 }), stat({ score: 0.2 })])!;
      assert.equal(out.score, Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) / 2));
    });

    test("NaN and infinite scores propagate as float32 arithmetic does (R10)", async () => {
      const e = await engine(kind);
      assert.ok(Number.isNaN(e.coalesce([stat({ score: NaN }), stat({ score: 1 })])!.score));
      assert.equal(e.coalesce([stat({ score: Infinity }), stat({ score: 1 })])!.score, Infinity);
      assert.ok(Number.isNaN(e.coalesce([stat({ score: Infinity }), stat({ score: -Infinity })])!.score));
      assert.equal(e.coalesce([stat({ score: 3e38 }), stat({ score: 3e38 })])!.score, Infinity);
    });

    test("all-invalid input still gives score 0 and one zero stream (R11)", async () => {
      const e = await engine(kind);
      const bad = stat({ score: 5, streams: [{ primaryPackets: U31, rtt: 9, videoLayers: [{ layer: 1, packets: 1 }] }] });
      const out = e.coalesce([bad, bad])!;
      assert.deepEqual(out, create(AnalyticsStatSchema, { score: 0, streams: [create(AnalyticsStreamSchema)] }));
    });

    test("an invalid stat is skipped whole: score, streams, layers, rtt (R7)", async () => {
      const e = await engine(kind);
      const out = e.coalesce([
        stat({ score: 2, streams: [{ primaryPackets: 1, rtt: 5 }] }),
        stat({ score: 4, streams: [{ primaryPackets: 7, rtt: 90, videoLayers: [{ layer: 2, packets: 1 }] }, { firs: U31 }] }),
      ])!;
      assert.equal(out.streams[0]!.primaryPackets, 1);
      assert.equal(out.streams[0]!.rtt, 5);
      assert.deepEqual(out.streams[0]!.videoLayers, []);
      assert.equal(out.score, 1);
    });

    test("layers 0, 2, 2, 1 keep layer 2 with summed packets, bytes, frames (R9)", async () => {
      const e = await engine(kind);
      const out = e.coalesce([
        stat({ streams: [{ videoLayers: [{ layer: 0, packets: 100, bytes: 1000n, frames: 10 }, { layer: 2, packets: 3, bytes: 30n, frames: 1 }] }] }),
        stat({ streams: [{ videoLayers: [{ layer: 2, packets: 4, bytes: 40n, frames: 2 }] }, { videoLayers: [{ layer: 1, packets: 9, bytes: 9n, frames: 9 }] }] }),
      ])!;
      assert.equal(out.streams[0]!.videoLayers.length, 1);
      const l = out.streams[0]!.videoLayers[0]!;
      assert.deepEqual([l.layer, l.packets, l.bytes, l.frames], [2, 7, 70n, 3]);
    });

    test("layer sums wrap like the stream counters (R9)", async () => {
      const e = await engine(kind);
      const st = stat({ streams: [{ videoLayers: [{ layer: 1, packets: U31 - 1, frames: U31 - 1 }] }] });
      const l = e.coalesce([st, st, st])!.streams[0]!.videoLayers[0]!;
      assert.equal(l.packets, 2147483645);
      assert.equal(l.frames, 2147483645);
    });

    test("no layers give an empty videoLayers list (R9)", async () => {
      const out = (await engine(kind)).coalesce([stat({ streams: [{ primaryPackets: 1 }] })])!;
      assert.deepEqual(out.streams[0]!.videoLayers, []);
    });

    test("the numerically highest negative layer index wins (Q1)", async () => {
      const e = await engine(kind);
      const out = e.coalesce([
        stat({ streams: [{ videoLayers: [{ layer: -5, packets: 1 }, { layer: -1, packets: 2 }, { layer: -3, packets: 3 }] }] }),
        stat({ streams: [{ videoLayers: [{ layer: -1, packets: 5 }] }] }),
      ])!;
      const l = out.streams[0]!.videoLayers[0]!;
      assert.deepEqual([l.layer, l.packets], [-1, 7]);
    });

    test("the result does not share objects with the input and the input is not mutated (R1)", async () => {
      const e = await engine(kind);
      const a = stat({ score: 1, streams: [{ primaryPackets: 1, videoLayers: [{ layer: 0, packets: 1 }] }] });
      const snapshot = structuredClone(a);
      const out = e.coalesce([a, a])!;
      assert.deepEqual(a, snapshot);
      assert.notEqual(out.streams[0]!.videoLayers[0], a.streams[0]!.videoLayers[0]);
      out.streams[0]!.videoLayers[0]!.packets = 99;
      assert.equal(a.streams[0]!.videoLayers[0]!.packets, 1);
    });

    test("a stat over LIMITS throws a LimitError", async () => {
      const e = await engine(kind);
      const streams = Array.from({ length: LIMITS.maxStreamsPerStat + 1 }, () => ({}));
      assert.throws(() => e.coalesce([stat({ streams })]), isLimitError);
      const layers = Array.from({ length: LIMITS.maxLayersPerStream + 1 }, (_, i) => ({ layer: i }));
      assert.throws(() => e.coalesce([stat({ streams: [{ videoLayers: layers }] })]), isLimitError);
      const maxed = stat({ streams: Array.from({ length: LIMITS.maxStreamsPerStat }, () => ({
        primaryPackets: 1, videoLayers: Array.from({ length: LIMITS.maxLayersPerStream }, (_, i) => ({ layer: i, packets: 1 })) })) });
      const out = e.coalesce([maxed])!;
      assert.equal(out.streams[0]!.primaryPackets, LIMITS.maxStreamsPerStat);
      assert.equal(out.streams[0]!.videoLayers[0]!.packets, LIMITS.maxStreamsPerStat);
    });
  });

  suite(`isValid() [${kind}]`, () => {
    const fields = ["primaryPackets", "retransmitPackets", "paddingPackets", "packetsLost", "frames", "nacks", "plis", "firs"] as const;
    const bigFields = ["primaryBytes", "retransmitBytes", "paddingBytes"] as const;

    test("each u32 counter is valid at 2^31-1 and invalid at 2^31 and 2^32-1 (R7)", async () => {
      const e = await engine(kind);
      for (const f of fields) {
        assert.equal(e.isValid(stat({ streams: [{ [f]: U31 - 1 }] })), true, f);
        assert.equal(e.isValid(stat({ streams: [{}, { [f]: U31 }] })), false, f);
        assert.equal(e.isValid(stat({ streams: [{ [f]: 2 ** 32 - 1 }] })), false, f);
      }
    });

    test("each u64 counter is valid at 2^63-1 and invalid at 2^63 and 2^64-1 (R7)", async () => {
      const e = await engine(kind);
      for (const f of bigFields) {
        assert.equal(e.isValid(stat({ streams: [{ [f]: U63 - 1n }] })), true, f);
        assert.equal(e.isValid(stat({ streams: [{ [f]: U63 }] })), false, f);
        assert.equal(e.isValid(stat({ streams: [{ [f]: 2n ** 64n - 1n }] })), false, f);
      }
    });

    test("layer packets, frames and bytes are checked (R7)", async () => {
      const e = await engine(kind);
      assert.equal(e.isValid(stat({ streams: [{ videoLayers: [{ packets: U31 - 1, frames: U31 - 1, bytes: U63 - 1n }] }] })), true);
      assert.equal(e.isValid(stat({ streams: [{ videoLayers: [{}, { packets: U31 }] }] })), false);
      assert.equal(e.isValid(stat({ streams: [{ videoLayers: [{ frames: U31 }] }] })), false);
      assert.equal(e.isValid(stat({ streams: [{ videoLayers: [{ bytes: U63 }] }] })), false);
    });

    test("rtt, jitter, ssrc, layer and score are not checked; no streams is valid (R7)", async () => {
      const e = await engine(kind);
      assert.equal(e.isValid(stat()), true);
      assert.equal(e.isValid(stat({ score: NaN, streams: [{ rtt: 2 ** 32 - 1, jitter: 2 ** 32 - 1, ssrc: 2 ** 32 - 1,
        videoLayers: [{ layer: -2147483648 }] }] })), true);
    });
  });
}
