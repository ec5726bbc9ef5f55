/**
 * Golden cases of the livekit-current profile's `coalesce` (statsworker.go and pkg/utils/math.go
 * at livekit/livekit 788d4c35), one rule per test, worked out by hand from the Go source; the
 * comments say which Go line gives each expected value.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, AnalyticsStreamSchema, StreamType, type AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { LIMITS, StatsWorker, TelemetryService, isArgumentError, isLimitError } from "../../src/index.ts";
import { Random } from "../../src/sim/random.ts";
import { StatGen } from "../random-stats.ts";
import { CapturingReporter, f32bits, stat } from "../helpers.ts";
import { EPOCH, PROFILE_KINDS, ZERO_TIME, profileEngine, secNanos } from "./profile-fixtures.ts";

const U31 = 2 ** 31;
const invalid = (init: { score?: number; mime?: string } = {}) => stat({ ...init, streams: [{ primaryPackets: U31 }] });
const ts = (seconds: number | bigint, nanos = 0) => ({ seconds: BigInt(seconds), nanos });

for (const kind of PROFILE_KINDS) {
  const current = () => profileEngine(kind, "livekit-current");
  const coalesce = async (stats: AnalyticsStat[]) => (await current()).coalesce(stats)!;

  suite(`coalesce() livekit-current [${kind}]`, () => {
    test("an empty list still gives undefined", async () => {
      assert.equal((await current()).coalesce([]), undefined);
    });

    test("score averages the positive scores of valid stats only", async () => {
      // `if stat.Score > 0 { scoreSum += ...; scores = append(...) }`, then scoreSum / numScores
      const out = await coalesce([stat({ score: 2 }), stat({ score: 0 }), stat({ score: 4 }), stat({ score: -3 }), invalid({ score: 100 })]);
      assert.equal(out.score, 3);
    });

    test("NaN and -0 scores are not positive and do not count", async () => {
      const out = await coalesce([stat({ score: NaN }), stat({ score: -0 }), stat({ score: 5 })]);
      assert.equal(out.score, 5);
      assert.equal(out.minScore, 5);
      assert.equal(out.medianScore, 5);
    });

    test("the average is a float32 division of the float32 sum", async () => {
      // float32(1) + float32(2) + float32(2.5) = 5.5; 5.5 / float32(3) rounds to 0x3feaaaab
      const out = await coalesce([stat({ score: 1 }), stat({ score: 2 }), stat({ score: 2.5 })]);
      assert.equal(f32bits(out.score), 0x3feaaaab);
    });

    test("no positive score gives score, min_score and median_score 0", async () => {
      const out = await coalesce([stat({ score: 0 }), stat({ score: -1 }), invalid({ score: 4 })]);
      assert.deepEqual([out.score, out.minScore, out.medianScore], [0, 0, 0]);
    });

    test("min_score is the smallest positive score; the first positive one starts it", async () => {
      // `if minScore == 0 { minScore = stat.Score } else if stat.Score < minScore { ... }`
      assert.equal((await coalesce([stat({ score: 0 }), stat({ score: 3 }), stat({ score: 1.5 }), stat({ score: 2 })])).minScore, 1.5);
      assert.equal((await coalesce([stat({ score: 4 }), invalid({ score: 1 })])).minScore, 4);
    });

    test("median_score of an odd count is the middle of the sorted scores", async () => {
      const out = await coalesce([stat({ score: 5 }), stat({ score: 1 }), stat({ score: 0 }), stat({ score: 3 })]);
      assert.equal(out.medianScore, 3);
    });

    test("median_score of an even count is (left + right) / 2 in float32", async () => {
      assert.equal((await coalesce([stat({ score: 4 }), stat({ score: 1 }), stat({ score: 2 }), stat({ score: 3 })])).medianScore, 2.5);
      // float32(0.1) + float32(0.2) = 0x3e99999a; / 2 = 0x3e19999a
      assert.equal(f32bits((await coalesce([stat({ score: 0.2 }), stat({ score: 0.1 })])).medianScore), 0x3e19999a);
    });

    test("median_score of two scores near the float32 maximum overflows to +Inf, as Go's float32 sum does", async () => {
      // float32(3e38) + float32(3e38) is +Inf in float32 (a float64 mean would be 3e38)
      const out = await coalesce([stat({ score: 3e38 }), stat({ score: 3e38 })]);
      assert.equal(out.medianScore, Infinity);
      assert.equal(out.minScore, Math.fround(3e38));
      assert.equal(out.score, Infinity);
    });

    test("an infinite score is positive: it counts in every score field", async () => {
      const out = await coalesce([stat({ score: Infinity }), stat({ score: 1 }), stat({ score: 2 })]);
      assert.deepEqual([out.score, out.minScore, out.medianScore], [Infinity, 1, 2]);
    });

    test("mime is the last stat's, valid or not", async () => {
      // `Mime: stats[len(stats)-1].Mime`
      assert.equal((await coalesce([stat({ mime: "video/VP8" }), invalid({ mime: "video/H264" })])).mime, "video/H264");
      assert.equal((await coalesce([stat({ mime: "audio/opus" }), stat({ mime: "" })])).mime, "");
      assert.equal((await coalesce([stat({ mime: "vidéo/AV1" })])).mime, "vidéo/AV1");
    });

    test("start_time is the earliest and end_time the latest over all streams of valid stats", async () => {
      const out = await coalesce([
        stat({ streams: [{ startTime: ts(100), endTime: ts(200) }, { startTime: ts(50, 5), endTime: ts(150) }] }),
        stat({ streams: [{ startTime: ts(50, 4), endTime: ts(300, 1) }] }),
        stat({ streams: [{ startTime: ts(1), endTime: ts(9999) }, { primaryPackets: U31 }] }),
      ]);
      assert.deepEqual(secNanos(out.streams[0]!.startTime), ts(50, 4));
      assert.deepEqual(secNanos(out.streams[0]!.endTime), ts(300, 1));
    });

    test("a stream without start_time or end_time reads as the Unix epoch", async () => {
      // `analyticsStream.StartTime.AsTime()` of a nil Timestamp is 1970-01-01
      const out = await coalesce([stat({ streams: [{ startTime: ts(100), endTime: ts(200) }, {}] })]);
      assert.deepEqual(secNanos(out.streams[0]!.startTime), EPOCH);
      assert.deepEqual(secNanos(out.streams[0]!.endTime), ts(200));
      const none = await coalesce([stat({ streams: [{}] })]);
      assert.deepEqual([secNanos(none.streams[0]!.startTime), secNanos(none.streams[0]!.endTime)], [EPOCH, EPOCH]);
      // before the epoch: a missing end time (the epoch) is the latest
      const early = await coalesce([stat({ streams: [{ startTime: ts(-5), endTime: ts(-2) }, {}] })]);
      assert.deepEqual([secNanos(early.streams[0]!.startTime), secNanos(early.streams[0]!.endTime)], [ts(-5), EPOCH]);
    });

    test("a window with no streams reports Go's zero time 0001-01-01T00:00:00Z for both ends", async () => {
      for (const stats of [[stat({ score: 3 })], [stat({ streams: [{ startTime: ts(5), primaryPackets: U31 }] })], [invalid()]]) {
        const s = (await coalesce(stats)).streams[0]!;
        assert.deepEqual([secNanos(s.startTime), secNanos(s.endTime)], [ZERO_TIME, ZERO_TIME]);
      }
    });

    test("a stream at the zero time restarts the comparison (Go's IsZero)", async () => {
      // start: 100, then zero (100.After(zero)), then IsZero -> 200; end: zero then 7 (IsZero -> 7)
      const out = await coalesce([stat({ streams: [
        { startTime: ts(100), endTime: ZERO_TIME },
        { startTime: ZERO_TIME, endTime: ts(7) },
        { startTime: ts(200), endTime: ts(3) },
      ] })]);
      assert.deepEqual(secNanos(out.streams[0]!.startTime), ts(200));
      assert.deepEqual(secNanos(out.streams[0]!.endTime), ts(7));
    });

    test("nanos outside [0, 1e9) carry into the seconds as Go's time.Unix does", async () => {
      const out = await coalesce([stat({ streams: [{ startTime: ts(10, -1), endTime: ts(10, 2_000_000_001) }] })]);
      assert.deepEqual(secNanos(out.streams[0]!.startTime), ts(9, 999_999_999));
      assert.deepEqual(secNanos(out.streams[0]!.endTime), ts(12, 1));
      // -1 ns compares before 0 s 0 ns
      const cmp = await coalesce([stat({ streams: [{ startTime: ts(0, -1) }, { startTime: ts(0) }] })]);
      assert.deepEqual(secNanos(cmp.streams[0]!.startTime), ts(-1, 999_999_999));
    });

    test("seconds wrap as Go's int64 arithmetic does at the far ends of time", async () => {
      // time.Unix(2^63-1, 0) adds unixToInternal with int64 overflow: it compares as a very early time
      const max = 2n ** 63n - 1n;
      const out = await coalesce([stat({ streams: [{ startTime: ts(0), endTime: ts(max) }, { startTime: ts(max), endTime: ts(0) }] })]);
      assert.deepEqual(secNanos(out.streams[0]!.startTime), ts(max));
      assert.deepEqual(secNanos(out.streams[0]!.endTime), EPOCH);
    });

    test("packets_out_of_order is summed with wrap-around", async () => {
      const out = await coalesce([
        stat({ streams: [{ packetsOutOfOrder: U31 - 1 }, { packetsOutOfOrder: 5 }] }),
        stat({ streams: [{ packetsOutOfOrder: U31 - 1 }] }),
      ]);
      assert.equal(out.streams[0]!.packetsOutOfOrder, (2 * (U31 - 1) + 5) % 2 ** 32);
    });

    test("packets_out_of_order >= 2^31 makes a stat invalid", async () => {
      const e = await current();
      const bad = stat({ score: 9, streams: [{ packetsOutOfOrder: U31, primaryPackets: 100 }] });
      assert.equal(e.isValid(bad), false);
      assert.equal(e.isValid(stat({ streams: [{ packetsOutOfOrder: U31 - 1 }] })), true);
      const out = e.coalesce([bad, stat({ score: 1, streams: [{ primaryPackets: 1 }] })])!;
      assert.deepEqual([out.score, out.streams[0]!.primaryPackets, out.streams[0]!.packetsOutOfOrder], [1, 1, 0]);
    });

    test("all stats invalid: every number is 0, the times are the zero time, mime is the last stat's", async () => {
      const out = await coalesce([invalid({ score: 3, mime: "a" }), invalid({ score: 4, mime: "b" })]);
      const expected = create(AnalyticsStatSchema, {
        mime: "b",
        streams: [{ startTime: ZERO_TIME, endTime: ZERO_TIME }],
      });
      assert.deepEqual(out, expected);
    });

    test("the result holds score, min_score, median_score, mime and one stream; ids and the other inputs stay out", async () => {
      const out = await coalesce([stat({
        analyticsKey: "k", kind: 1, node: "n", roomId: "r", roomName: "rn", participantId: "p", trackId: "t", id: "AS_x",
        mime: "video/VP8", minScore: 0.5, medianScore: 0.7, score: 4, timeStamp: ts(5, 6),
        streams: [{ ssrc: 1234, primaryPackets: 3, packetsOutOfOrder: 9, startTime: ts(1, 2), endTime: ts(3, 4) }],
      })]);
      const expected = create(AnalyticsStatSchema, {
        score: 4, minScore: 4, medianScore: 4, mime: "video/VP8",
        streams: [{ primaryPackets: 3, packetsOutOfOrder: 9, startTime: ts(1, 2), endTime: ts(3, 4) }],
      });
      assert.deepEqual(out, expected);
      assert.deepEqual(fromBinary(AnalyticsStatSchema, toBinary(AnalyticsStatSchema, out)), expected);
    });

    test("the epoch start time is written as a present, empty Timestamp", async () => {
      const out = await coalesce([stat({ streams: [{}] })]);
      const bytes = toBinary(AnalyticsStreamSchema, out.streams[0]!);
      // field 17 (start_time) and 18 (end_time), wire type 2, length 0
      assert.deepEqual([...bytes.subarray(-6)], [0x8a, 0x01, 0x00, 0x92, 0x01, 0x00]);
    });

    test("a window holds at most LIMITS.maxScoresPerWindow positive scores: past it a LimitError, never a wrong median", async () => {
      const e = await current();
      const max = LIMITS.maxScoresPerWindow;
      const full = Array.from({ length: max }, (_, i) => stat({ score: i + 1 }));
      assert.equal(e.coalesce(full)!.medianScore, (max + 1) / 2);
      // zero, negative and invalid stats carry no score to keep: they still fold
      assert.equal(e.coalesce([...full, stat({ score: 0 }), invalid({ score: 5 })])!.medianScore, (max + 1) / 2);
      assert.throws(() => e.coalesce([...full, stat({ score: 1 })]), (err: unknown) => isLimitError(err) && err.code === "too_many_scores" && err.limit === max);
    });

    test("a worker refuses the stat past the score bound whole, keeps its window and takes scores again after update()", async () => {
      const reporter = new CapturingReporter();
      const worker = new StatsWorker({ engine: await current(), reporter, roomId: "R", roomName: "r", participantId: "P", participantIdentity: "p" });
      const max = LIMITS.maxScoresPerWindow;
      for (let i = 0; i < max; i++) worker.onTrackStat("T", StreamType.UPSTREAM, stat({ score: 2, streams: [{ primaryPackets: 1 }] }));
      const over = stat({ score: 1, mime: "x", streams: [{ primaryPackets: 1 }] });
      assert.throws(() => worker.onTrackStat("T", StreamType.UPSTREAM, over), (err: unknown) => isLimitError(err) && err.code === "too_many_scores");
      assert.throws(() => worker.onTrackStatBytes("T", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, over)), (err: unknown) => isLimitError(err));
      worker.onTrackStat("T2", StreamType.UPSTREAM, over);
      worker.update();
      const [t, t2] = [...reporter.all].sort((a, b) => a.trackId.localeCompare(b.trackId));
      assert.deepEqual([t!.streams[0]!.primaryPackets, t!.medianScore, t!.minScore, t!.mime], [max, 2, 2, ""]);
      assert.deepEqual([t2!.medianScore, t2!.mime], [1, "x"]);
      worker.onTrackStat("T", StreamType.UPSTREAM, over);
      worker.update();
      assert.equal(reporter.batches[1]![0]!.medianScore, 1);
    });

    test("ingestBatch past the score bound counts the refused stat as malformed, keeps the rest and throws its LimitError after", async () => {
      const reporter = new CapturingReporter();
      const service = new TelemetryService({ engine: await current(), reporter, now: () => new Date(0) });
      service.participantJoined({ sid: "R", name: "r" }, { sid: "P", identity: "p" });
      const max = LIMITS.maxScoresPerWindow;
      const parts: Uint8Array[] = [];
      const msg = (trackId: string, score: number) => sizeDelimitedEncode(AnalyticsStatSchema, stat({ roomId: "R", participantId: "P", trackId, score, streams: [{ primaryPackets: 1 }] }));
      for (let i = 0; i < max + 2; i++) parts.push(msg("T", 1 + (i % 7)));
      parts.push(msg("T", 0), msg("U", 4));
      const batch = Buffer.concat(parts);
      assert.throws(() => service.ingestBatch(batch), (err: unknown) => isLimitError(err) && err.code === "too_many_scores");
      assert.deepEqual([service.counters.statsIn, service.counters.malformed], [max + 2, 2]);
      service.flush();
      const [t, u] = [...reporter.all].sort((a, b) => a.trackId.localeCompare(b.trackId));
      assert.deepEqual([t!.streams[0]!.primaryPackets, u!.streams[0]!.primaryPackets, u!.medianScore], [max + 1, 1, 4]);
    });

    test("a field the profile reads with the wrong JS type is an ArgumentError in both engines, and nothing is folded", async () => {
      const e = await current();
      const bads: AnalyticsStat[] = [];
      const withMime = stat({ score: 1 });
      (withMime as { mime: unknown }).mime = 5;
      bads.push(withMime);
      const withSeconds = stat({ streams: [{ startTime: ts(1) }] });
      (withSeconds.streams[0]!.startTime as { seconds: unknown }).seconds = 5;
      bads.push(withSeconds);
      const withNull = stat({ streams: [{}] });
      (withNull.streams[0] as { endTime: unknown }).endTime = null;
      bads.push(withNull);
      const withOoo = stat({ streams: [{}] });
      (withOoo.streams[0] as { packetsOutOfOrder: unknown }).packetsOutOfOrder = 1n;
      bads.push(withOoo);
      for (const bad of bads) {
        assert.throws(() => e.coalesce([stat({ score: 2 }), bad]), (err: unknown) => isArgumentError(err));
        assert.throws(() => e.isValid(bad), (err: unknown) => isArgumentError(err));
      }
      // the engine is intact after
      assert.equal(e.coalesce([stat({ score: 2, mime: "m" })])!.mime, "m");
    });

    test("sums, maxima and the highest layer are the 2022 rules' on 3 000 random valid stats", async () => {
      const seed = (Math.random() * 2 ** 32) >>> 0;
      const gen = new StatGen(new Random(seed), 0.05);
      const old = await profileEngine(kind, "livekit-v1.2");
      const e = await current();
      for (let g = 0; g < 300; g++) {
        const group = Array.from({ length: gen.r.int(1, 10) }, () => gen.stat()).filter((s) => e.isValid(s));
        if (group.length === 0) continue;
        const a = e.coalesce(group)!.streams[0]!;
        const b = old.coalesce(group)!.streams[0]!;
        delete a.startTime;
        delete a.endTime;
        a.packetsOutOfOrder = 0;
        assert.deepStrictEqual(a, b, `group ${g} (seed ${seed})`);
      }
    });
  });

  suite(`coalesce() livekit-v1.2 [${kind}]`, () => {
    test("the default profile keeps the 2022 output: no mime, times, min or median, and invalid stats in the divisor", async () => {
      const old = await profileEngine(kind, "livekit-v1.2");
      const out = old.coalesce([
        stat({ score: 4, mime: "video/VP8", streams: [{ primaryPackets: 1, packetsOutOfOrder: U31, startTime: ts(1), endTime: ts(2) }] }),
        invalid({ score: 8 }),
      ])!;
      assert.deepEqual(out, create(AnalyticsStatSchema, { score: 2, streams: [{ primaryPackets: 1 }] }));
      assert.equal(old.isValid(stat({ streams: [{ packetsOutOfOrder: U31 }] })), true);
    });
  });
}
