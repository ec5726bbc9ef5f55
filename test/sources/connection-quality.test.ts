/**
 * The connection-quality scorer against values worked out by hand from LiveKit's formulas
 * (pkg/sfu/connectionquality/scorer.go at 9a7fe3cc): each expected value shows its arithmetic.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_MOS, MIN_MOS, QualityScorer, packetLossWeight, packetScore, scoreToMos } from "../../src/sources/connection-quality.ts";

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} is not ${expected}`);

suite("packetScore()", () => {
  test("takes rtt/2 plus twice the jitter in ms over 40 as the delay effect, and lost percent times the weight as the loss effect", () => {
    // delay: 40 ms / 2 + 2 x 5000 us / 1000 = 20 + 10 = 30 ms -> 30 / 40 = 0.75
    // loss: 2 of 100 = 2 % x weight 10 = 20
    // 100 - 0.75 - 20 = 79.25
    close(packetScore({ durationMs: 1000, packets: 100, packetsLost: 2, rttMaxMs: 40, jitterMaxUs: 5000 }, 10, true, true), 79.25, "score");
  });

  test("switches to (delay - 120) / 10 above 160 ms of effective delay, and not at 160 exactly", () => {
    // 300 / 2 + 2 x 10 000 / 1000 = 150 + 20 = 170 > 160 -> (170 - 120) / 10 = 5 -> 95
    close(packetScore({ durationMs: 0, packets: 10, packetsLost: 0, rttMaxMs: 300, jitterMaxUs: 10_000 }, 8, true, true), 95, "above 160");
    // 320 / 2 = 160, not above -> 160 / 40 = 4 -> 96
    close(packetScore({ durationMs: 0, packets: 10, packetsLost: 0, rttMaxMs: 320 }, 8, true, true), 96, "at 160");
  });

  test("leaves rtt and jitter out when told to", () => {
    // only loss: 1 of 50 = 2 % x 8 = 16 -> 84
    close(packetScore({ durationMs: 0, packets: 50, packetsLost: 1, rttMaxMs: 400, jitterMaxUs: 90_000 }, 8, false, false), 84, "loss only");
    // only jitter: 2 x 90 000 / 1000 = 180 > 160 -> (180 - 120) / 10 = 6; loss 16 -> 78
    close(packetScore({ durationMs: 0, packets: 50, packetsLost: 1, rttMaxMs: 400, jitterMaxUs: 90_000 }, 8, false, true), 78, "jitter and loss");
  });

  test("counts padding packets in the denominator and never goes below 0", () => {
    // 1 lost of 90 + 10 = 1 % x 8 = 8 -> 92
    close(packetScore({ durationMs: 0, packets: 90, packetsPadding: 10, packetsLost: 1 }, 8, true, true), 92, "padding");
    // 50 % x 10 = 500 -> 100 - 500 < 0 -> 0
    assert.equal(packetScore({ durationMs: 0, packets: 100, packetsLost: 50 }, 10, true, true), 0);
  });
});

suite("scoreToMos()", () => {
  test("is 1 + 0.035 s + 0.000007 s (s - 60)(100 - s), as float32, clamped to 1 and 4.5", () => {
    // 80: 1 + 2.8 + 0.000007 x 80 x 20 x 20 = 1 + 2.8 + 0.224 = 4.024
    assert.equal(scoreToMos(80), Math.fround(4.024));
    // 50: 1 + 1.75 + 0.000007 x 50 x (-10) x 50 = 2.75 - 0.175 = 2.575
    assert.equal(scoreToMos(50), Math.fround(2.575));
    // 30: 1 + 1.05 + 0.000007 x 30 x (-30) x 70 = 2.05 - 0.441 = 1.609
    assert.equal(scoreToMos(30), Math.fround(1.609));
    assert.equal(scoreToMos(100), MAX_MOS);
    assert.equal(scoreToMos(130), MAX_MOS);
    assert.equal(scoreToMos(0), MIN_MOS);
    assert.equal(scoreToMos(-3), MIN_MOS);
  });
});

suite("packetLossWeight()", () => {
  test("weighs Opus 8 (8 / 1.5 with FEC), RED 4 (4 / 1.5 with FEC), video 10 and anything else 0", () => {
    assert.equal(packetLossWeight("audio/opus", false), 8);
    assert.equal(packetLossWeight("audio/OPUS", true), 8 / 1.5);
    assert.equal(packetLossWeight("audio/red", false), 4);
    assert.equal(packetLossWeight("audio/red", true), 4 / 1.5);
    assert.equal(packetLossWeight("video/VP8", false), 10);
    assert.equal(packetLossWeight("video/AV1", true), 10);
    assert.equal(packetLossWeight("audio/G722", false), 0);
    assert.equal(packetLossWeight("", false), 0);
  });
});

suite("QualityScorer", () => {
  test("starts at 100 and falls towards a worse window by 0.8, rises towards a better one by 0.4", () => {
    const q = new QualityScorer({ packetLossWeight: 10 });
    assert.equal(q.score, 100);
    assert.equal(q.mos, 4.5);
    // window score 79.25 (see packetScore) < 100: 0.8 x 79.25 + 0.2 x 100 = 63.4 + 20 = 83.4
    const mos = q.update({ durationMs: 0, packets: 100, packetsLost: 2, rttMaxMs: 40, jitterMaxUs: 5000 }, 1000);
    close(q.score, 83.4, "after the lossy window");
    // MOS(83.4) = 1 + 2.919 + 0.000007 x 83.4 x 23.4 x 16.6 = 3.919 + 0.226771272 = 4.145771272
    assert.equal(mos, Math.fround(4.145771272));
    // a clean window scores 100 > 83.4: 0.4 x 100 + 0.6 x 83.4 = 40 + 50.04 = 90.04
    q.update({ durationMs: 0, packets: 100, packetsLost: 0 }, 2000);
    close(q.score, 90.04, "after the clean window");
  });

  test("never falls below 30 for a window with packets", () => {
    const q = new QualityScorer({ packetLossWeight: 10 });
    // window score 0: 0.8 x 0 + 0.2 x 100 = 20 < 30 -> 30
    q.update({ durationMs: 0, packets: 10, packetsLost: 10 }, 1);
    assert.equal(q.score, 30);
    assert.equal(q.mos, Math.fround(1.609));
  });

  test("scores a window without packets 40 (POOR) at once, or 20 (LOST) when RTCP went stale too", () => {
    const q = new QualityScorer({ packetLossWeight: 8 });
    // MOS(40) = 1 + 1.4 + 0.000007 x 40 x (-20) x 60 = 2.4 - 0.336 = 2.064
    assert.equal(q.update({ durationMs: 1000, packets: 0, packetsLost: 0 }, 1000), Math.fround(2.064));
    assert.equal(q.score, 40);
    // MOS(20) = 1 + 0.7 + 0.000007 x 20 x (-40) x 80 = 1.7 - 0.448 = 1.252
    assert.equal(q.update({ durationMs: 1000, packets: 0, packetsLost: 0, rtcpStale: true }, 2000), Math.fround(1.252));
  });

  test("leaves rtt and jitter out of the score when the options say so", () => {
    const q = new QualityScorer({ packetLossWeight: 8, includeRtt: false, includeJitter: false });
    q.update({ durationMs: 0, packets: 100, packetsLost: 0, rttMaxMs: 5000, jitterMaxUs: 1e6 }, 1);
    assert.equal(q.score, 100);
  });

  test("scales the loss weight by sqrt(rate / most common rate) once more than 10 windows were seen", () => {
    const q = new QualityScorer({ packetLossWeight: 8 });
    // 11 clean windows of 50 packets in 1 s: 50 pps, bin 50 / 2 + 0.5 -> 25; the mode is computed
    // on the 11th reading (more than 10): bin 25, i.e. 50 pps
    for (let i = 1; i <= 11; i++) q.update({ durationMs: 1000, packets: 50, packetsLost: 0 }, i * 1000);
    assert.equal(q.score, 100);
    // 5 packets in 1 s, 1 lost: ratio 5 / 50 = 0.1, weight sqrt(0.1) x 8
    // window score 100 - (1 x 100 / 5) x sqrt(0.1) x 8 = 100 - 20 x 2.5298 = 49.404
    // 0.8 x 49.404 + 0.2 x 100
    q.update({ durationMs: 1000, packets: 5, packetsLost: 1 }, 12_000);
    close(q.score, 0.8 * (100 - 20 * Math.sqrt(0.1) * 8) + 0.2 * 100, "DTX-like window");
  });

  test("picks the packet-rate mode as LiveKit's loop does: a bin wins when its count exceeds the index picked so far", () => {
    const q = new QualityScorer({ packetLossWeight: 10 });
    // 4 windows at 50 pps (bin 25) and 7 at 6 pps (bin 3): counts 7 at bin 3, 4 at bin 25.
    // the loop: bin 3 has 7 > 0 -> pick 3; bin 25 has 4 > 3 -> pick 25. The true mode would be 3.
    for (let i = 1; i <= 4; i++) q.update({ durationMs: 1000, packets: 50, packetsLost: 0 }, i * 1000);
    for (let i = 5; i <= 10; i++) q.update({ durationMs: 1000, packets: 6, packetsLost: 0 }, i * 1000);
    // the 11th reading computes the mode; this window has 1 of 6 lost:
    // ratio 6 / (25 x 2) = 0.12 -> weight sqrt(0.12) x 10; loss effect 100 / 6 x sqrt(0.12) x 10 = 57.735
    // (with the true mode, 6 pps, the ratio would be 1 and the loss effect 166.7)
    q.update({ durationMs: 1000, packets: 6, packetsLost: 1 }, 11_000);
    const windowScore = 100 - (100 / 6) * Math.sqrt(0.12) * 10;
    close(q.score, 0.8 * windowScore + 0.2 * 100, "score");
  });
});
