/**
 * RtcStatsCollector on getStats() dumps recorded from Chromium (test/fixtures/rtc/, recorded by
 * test/browser/record-rtc-fixtures.ts) and on hand-made hostile reports.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { RtcStatsCollector, StatsWorker, StreamType, isArgumentError, loadEngine, type AnalyticsStat, type RtcStatsSample } from "../../src/index.ts";
import { addTotals, cumulativeOverRuns, cumulativeTotals, sumWindows } from "./rtc-totals.ts";

interface Fixture {
  recordedWith: string;
  restartAfter?: number;
  snapshots: { sender: Record<string, unknown>[]; receiver: Record<string, unknown>[] }[];
}
const load = (name: string): Fixture => JSON.parse(readFileSync(new URL(`../fixtures/rtc/${name}`, import.meta.url), "utf8")) as Fixture;
const CALL = load("chromium-call.json");
const RESTART = load("chromium-restart.json");
const { UPSTREAM, DOWNSTREAM } = StreamType;

type Side = "sender" | "receiver";
function collectAll(fx: Fixture, side: Side, collector = new RtcStatsCollector()): RtcStatsSample[][] {
  return fx.snapshots.map((s) => collector.collect(s[side]));
}
const byType = (report: Record<string, unknown>[], type: string) => report.filter((d) => d["type"] === type);
const last = <T>(xs: readonly T[]): T => xs[xs.length - 1]!;

/** A minimal outbound-rtp report for hand-made cases. */
function outbound(ssrc: number, packetsSent: number, extra: Record<string, unknown> = {}, timestamp = 1000): Record<string, unknown>[] {
  return [
    { id: `OT${ssrc}`, type: "outbound-rtp", timestamp, ssrc, kind: "audio", packetsSent, bytesSent: packetsSent * 100, headerBytesSent: packetsSent * 12, mediaSourceId: `S${ssrc}`, ...extra },
    { id: `S${ssrc}`, type: "media-source", timestamp, kind: "audio", trackIdentifier: `track-${ssrc}` },
  ];
}

suite("RtcStatsCollector.collect() on a recorded Chromium call", () => {
  test(`the fixtures come from Chromium (${CALL.recordedWith.match(/HeadlessChrome\/[\d.]+/)?.[0] ?? "?"})`, () => {
    assert.match(CALL.recordedWith, /Chrome\//);
    assert.ok(CALL.snapshots.length >= 5);
  });

  test("outbound-rtp is UPSTREAM and inbound-rtp DOWNSTREAM, one stat per track per collect, ids from trackIdentifier", () => {
    const first = CALL.snapshots[0]!;
    const sourceTracks = new Set(byType(first.sender, "media-source").map((d) => d["trackIdentifier"] as string));
    for (const side of ["sender", "receiver"] as const) {
      const direction = side === "sender" ? UPSTREAM : DOWNSTREAM;
      for (const samples of collectAll(CALL, side)) {
        assert.equal(samples.length, 2, "one audio and one video track");
        assert.deepEqual(new Set(samples.map((s) => s.trackId)), sourceTracks);
        for (const s of samples) {
          assert.equal(s.direction, direction);
          assert.equal(s.stat.kind, direction);
          assert.equal(s.stat.trackId, s.trackId);
          assert.equal(s.stat.mime, s.kind === "audio" ? "audio/opus" : "video/VP8");
        }
      }
    }
  });

  test("one AnalyticsStream per SSRC: the simulcast sender's three encodings, the receiver's one", () => {
    const [up] = collectAll(CALL, "sender").slice(-1);
    const [down] = collectAll(CALL, "receiver").slice(-1);
    const lastSender = last(CALL.snapshots).sender;
    const videoSsrcs = byType(lastSender, "outbound-rtp").filter((d) => d["kind"] === "video").map((d) => d["ssrc"] as number).sort((a, b) => a - b);
    assert.equal(videoSsrcs.length, 3);
    assert.deepEqual(up!.find((s) => s.kind === "video")!.stat.streams.map((s) => s.ssrc), videoSsrcs);
    assert.equal(up!.find((s) => s.kind === "audio")!.stat.streams.length, 1);
    for (const s of down!) assert.equal(s.stat.streams.length, 1);
  });

  test("simulcast layers are numbered as LiveKit numbers rids q, h, f (0, 1, 2); empty layers are left out", () => {
    const rids = new Map(byType(CALL.snapshots[0]!.sender, "outbound-rtp").map((d) => [d["ssrc"] as number, d["rid"] as string | undefined]));
    const ridLayer: Record<string, number> = { q: 0, h: 1, f: 2 };
    let layersSeen = 0;
    for (const samples of collectAll(CALL, "sender")) {
      const video = samples.find((s) => s.kind === "video")!;
      for (const st of video.stat.streams) {
        if (st.primaryPackets === 0) assert.deepEqual(st.videoLayers, [], `inactive ssrc ${st.ssrc} has a layer`);
        for (const l of st.videoLayers) {
          layersSeen++;
          assert.equal(l.layer, ridLayer[rids.get(st.ssrc)!]);
          assert.equal(l.packets, st.primaryPackets + st.retransmitPackets);
          assert.equal(l.bytes, st.primaryBytes + st.retransmitBytes);
          assert.equal(l.frames, st.frames);
        }
      }
      assert.deepEqual(samples.find((s) => s.kind === "audio")!.stat.streams[0]!.videoLayers, []);
    }
    assert.ok(layersSeen > 0, "no window had a layer");
  });

  test("the windows of every stream add up to the cumulative counters on both peers, over every run of a stream", () => {
    // the sender's streams never restart: its windows add up to its last report
    assert.deepEqual(sumWindows(collectAll(CALL, "sender").flat().map((s) => s.stat)), cumulativeTotals(last(CALL.snapshots).sender));
    // the receiver, sent three encodings it cannot receive as simulcast, switches SSRCs every
    // snapshot, and Chromium restarts the counters of each one it switches back to
    const collector = new RtcStatsCollector();
    const down = collectAll(CALL, "receiver", collector).flat().map((s) => s.stat);
    const runs = cumulativeOverRuns(CALL.snapshots.map((s) => s.receiver));
    assert.ok([...runs.runs.values()].some((n) => n > 1), "the recording has no stream that came back");
    assert.ok(collector.counters.forgotten > 0);
    assert.deepEqual(sumWindows(down), runs.totals);
  });

  test("rtt is the remote report's roundTripTime in ms (else the ICE pair's), jitter its jitter in microseconds", () => {
    let withRtt = 0;
    // the restart recording is two plain calls: their RTCP carries round trip times
    for (const snap of [...CALL.snapshots, ...RESTART.snapshots]) {
      const samples = new RtcStatsCollector().collect(snap.sender);
      const pairRtt = byType(snap.sender, "candidate-pair").find((p) => p["id"] === byType(snap.sender, "transport")[0]!["selectedCandidatePairId"])!["currentRoundTripTime"] as number;
      for (const ri of byType(snap.sender, "remote-inbound-rtp")) {
        if (ri["roundTripTime"] !== undefined) withRtt++;
        const st = samples.flatMap((s) => s.stat.streams).find((x) => x.ssrc === ri["ssrc"])!;
        assert.equal(st.rtt, Math.round(((ri["roundTripTime"] as number | undefined) ?? pairRtt) * 1000));
        assert.equal(st.jitter, Math.round((ri["jitter"] as number) * 1e6));
      }
      const down = new RtcStatsCollector().collect(snap.receiver);
      for (const ir of byType(snap.receiver, "inbound-rtp")) {
        const st = down.flatMap((s) => s.stat.streams).find((x) => x.ssrc === ir["ssrc"])!;
        assert.equal(st.jitter, Math.round((ir["jitter"] as number) * 1e6));
        assert.ok(st.rtt >= 0 && st.rtt < 100, `loopback rtt ${st.rtt} ms`);
      }
    }
    assert.ok(withRtt > 0, "no remote-inbound-rtp had a roundTripTime");
  });

  test("scores are MOS values between 1 and 4.5, near 4.5 for a clean loopback call", () => {
    for (const side of ["sender", "receiver"] as const) {
      const samples = collectAll(CALL, side).slice(1).flat();
      for (const s of samples) assert.ok(s.stat.score >= 1 && s.stat.score <= 4.5, `score ${s.stat.score}`);
      assert.ok(samples.some((s) => s.stat.score > 4), "no window scored above 4");
    }
  });

  test("fed to a StatsWorker of either engine, the reported windows add up to the same totals", async () => {
    for (const kind of ["ts", "wasm"] as const) {
      const engine = await loadEngine(kind);
      for (const side of ["sender", "receiver"] as const) {
        const reported: AnalyticsStat[] = [];
        const worker = new StatsWorker({ engine, reporter: { report: (s) => void reported.push(...s) }, roomId: "RM", roomName: "r", participantId: "PA", participantIdentity: "p" });
        const collector = new RtcStatsCollector();
        for (const snap of CALL.snapshots) {
          for (const s of collector.collect(snap[side])) worker.onTrackStat(s.trackId, s.direction, s.stat);
          worker.update();
        }
        // the worker coalesces a track's streams into one (ssrc 0): compare per track
        const byTrack = new Map<string, bigint>();
        for (const s of reported) byTrack.set(s.trackId, (byTrack.get(s.trackId) ?? 0n) + s.streams[0]!.primaryBytes);
        const totals = cumulativeOverRuns(CALL.snapshots.map((s) => s[side])).totals;
        const dir = side === "sender" ? "up" : "down";
        const ssrcsOf = new Map<string, Set<number>>();
        for (const samples of collectAll(CALL, side)) {
          for (const s of samples) for (const st of s.stat.streams) (ssrcsOf.get(s.trackId) ?? ssrcsOf.set(s.trackId, new Set()).get(s.trackId)!).add(st.ssrc);
        }
        const expected = new Map([...ssrcsOf].map(([trackId, ssrcs]) => [trackId, [...ssrcs].reduce((a, ssrc) => a + BigInt(totals.get(`${dir}/${ssrc}`)!.primaryBytes), 0n)]));
        assert.deepEqual(byTrack, expected, `${kind} engine, ${side}`);
      }
    }
  });
});

suite("RtcStatsCollector.collect() across a restarted SSRC", () => {
  const cut = RESTART.restartAfter!;

  test("the recording really reuses the SSRCs with counters starting again", () => {
    const before = byType(RESTART.snapshots[cut - 1]!.sender, "outbound-rtp");
    const after = byType(RESTART.snapshots[cut]!.sender, "outbound-rtp");
    assert.deepEqual(after.map((d) => d["ssrc"]), before.map((d) => d["ssrc"]));
    for (const d of after) assert.ok((d["packetsSent"] as number) < (before.find((b) => b["ssrc"] === d["ssrc"])!["packetsSent"] as number));
  });

  test("a counter going backwards starts a new run: the windows add up to both runs' totals, nothing wraps", () => {
    for (const side of ["sender", "receiver"] as const) {
      const collector = new RtcStatsCollector();
      const windows = collectAll(RESTART, side, collector).flat().map((s) => s.stat);
      const expected = addTotals(cumulativeTotals(RESTART.snapshots[cut - 1]![side]), cumulativeTotals(last(RESTART.snapshots)[side]));
      assert.deepEqual(sumWindows(windows), expected, side);
      assert.equal(collector.counters.restarts, 2, `${side}: audio and video restarted`);
      for (const w of windows) for (const st of w.streams) assert.ok(st.primaryPackets < 2 ** 31 && st.primaryBytes < 2n ** 32n);
    }
  });

  test("the first window of the new run holds the new run's counters since its start", () => {
    const collector = new RtcStatsCollector();
    const samples = collectAll(RESTART, "sender", collector);
    const totals = cumulativeTotals(RESTART.snapshots[cut]!.sender);
    for (const s of samples[cut]!) for (const st of s.stat.streams) assert.equal(st.primaryPackets, totals.get(`up/${st.ssrc}`)!.primaryPackets);
  });
});

suite("RtcStatsCollector.collect() on hostile and unusual input", () => {
  test("takes an RTCStatsReport-like Map, an iterable of [id, dictionary] pairs and an array alike", () => {
    const report = CALL.snapshots[2]!.sender;
    const map = new Map(report.map((d) => [d["id"] as string, d]));
    const outputs = [map, map.entries(), report].map((r) => new RtcStatsCollector().collect(r as Iterable<unknown>));
    assert.deepEqual(outputs[1], outputs[0]);
    assert.deepEqual(outputs[2], outputs[0]);
  });

  test("ignores unknown types and skips malformed dictionaries, counting them, and keeps the rest", () => {
    const logged: unknown[] = [];
    const collector = new RtcStatsCollector({ logger: { debug() {}, info() {}, error() {}, warn: (m, f) => logged.push([m, f]) } });
    const throwing = Object.defineProperty({ id: "X", type: "outbound-rtp", timestamp: 1, kind: "audio" }, "ssrc", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    const report = [
      ...outbound(1, 10),
      { id: "Z", type: "something-new", timestamp: 1 },
      { id: "P", type: "peer-connection", timestamp: 1 },
      { id: "B1", type: "outbound-rtp", timestamp: 1, ssrc: "2", kind: "audio" },
      { id: "B2", type: "outbound-rtp", timestamp: 1, ssrc: 3, kind: "audio", packetsSent: -1 },
      { id: "B3", type: "inbound-rtp", timestamp: 1, ssrc: 4, kind: "audio", packetsReceived: Number.NaN },
      { id: "B4", type: "inbound-rtp", timestamp: 1, ssrc: 5, kind: "data" },
      { id: "B5", type: "inbound-rtp", timestamp: 1, ssrc: 6, kind: "audio", jitter: "0.1" },
      { id: "B6", type: "inbound-rtp", timestamp: 1, ssrc: 2 ** 32, kind: "audio" },
      { id: "B7", type: "outbound-rtp", timestamp: 1, ssrc: 7, kind: "video", bytesSent: 1.5 },
      { type: "inbound-rtp", timestamp: 1, ssrc: 8, kind: "audio" },
      throwing,
      null,
      42,
      "outbound-rtp",
    ];
    const samples = collector.collect(report);
    assert.deepEqual(samples.map((s) => s.trackId), ["track-1"]);
    assert.equal(samples[0]!.stat.streams[0]!.primaryPackets, 10);
    assert.equal(collector.counters.ignored, 2);
    assert.equal(collector.counters.malformed, 12);
    assert.equal(collector.counters.dictionaries, 2);
    assert.equal(logged.length, 12);
  });

  test("missing fields are left zero", () => {
    const samples = new RtcStatsCollector().collect([{ id: "I", type: "inbound-rtp", timestamp: 5, ssrc: 9, kind: "video" }]);
    assert.equal(samples.length, 1);
    const st = samples[0]!.stat.streams[0]!;
    assert.equal(samples[0]!.trackId, "ssrc:9");
    assert.deepEqual([st.primaryPackets, st.primaryBytes, st.frames, st.rtt, st.jitter, st.packetsLost], [0, 0n, 0, 0, 0, 0]);
  });

  test("an iterator that throws ends the report: what came before is used and the break is counted", () => {
    const collector = new RtcStatsCollector();
    const items = outbound(1, 10);
    const report = {
      *[Symbol.iterator]() {
        yield* items;
        throw new Error("torn report");
      },
    };
    assert.equal(collector.collect(report).length, 1);
    assert.equal(collector.counters.malformed, 1);
  });

  test("a forEach that throws half-way ends the report the same way", () => {
    const collector = new RtcStatsCollector();
    const items = [...outbound(1, 10), ...outbound(2, 10)];
    const report = {
      forEach(cb: (v: unknown) => void) {
        cb(items[0]);
        cb(items[1]);
        throw new Error("torn report");
      },
    };
    assert.deepEqual(collector.collect(report).map((s) => s.trackId), ["track-1"]);
    assert.equal(collector.counters.malformed, 1);
  });

  test("a report that is not iterable is an ArgumentError", () => {
    const collector = new RtcStatsCollector();
    for (const bad of [undefined, null, 3, {}]) {
      assert.throws(() => collector.collect(bad as never), (e: unknown) => isArgumentError(e) && /report/.test((e as Error).message));
    }
  });

  test("a stream that disappears is forgotten: when it comes back it counts from its start again", () => {
    const c = new RtcStatsCollector();
    c.collect(outbound(1, 10));
    assert.equal(c.collect(outbound(1, 15))[0]!.stat.streams[0]!.primaryPackets, 5);
    assert.deepEqual(c.collect([]), []);
    assert.equal(c.counters.forgotten, 1);
    assert.equal(c.collect(outbound(1, 20))[0]!.stat.streams[0]!.primaryPackets, 20);
  });

  test("packets lost that shrink (late packets) hand out nothing until the highest count is passed", () => {
    const c = new RtcStatsCollector();
    const withLoss = (sent: number, lost: number) => [
      ...outbound(1, sent, { remoteId: "R1" }),
      { id: "R1", type: "remote-inbound-rtp", timestamp: 1000, ssrc: 1, kind: "audio", localId: "OT1", packetsLost: lost, roundTripTime: 0.05, jitter: 0.002 },
    ];
    const lost = [withLoss(10, 3), withLoss(20, 1), withLoss(30, 5)].map((r) => c.collect(r)[0]!.stat.streams[0]!.packetsLost);
    assert.deepEqual(lost, [3, 0, 2]);
    const st = c.collect(withLoss(40, 5))[0]!.stat.streams[0]!;
    assert.equal(st.rtt, 50);
    assert.equal(st.jitter, 2000);
  });

  test("retransmissions are taken out of packetsSent and bytesSent, headers go into the primary bytes", () => {
    const [s] = new RtcStatsCollector().collect(outbound(1, 100, { retransmittedPacketsSent: 7, retransmittedBytesSent: 700 }));
    const st = s!.stat.streams[0]!;
    // 100 sent, 7 of them retransmissions; payload 10 000 - 700, headers 1200
    assert.deepEqual([st.primaryPackets, st.primaryBytes, st.retransmitPackets, st.retransmitBytes], [93, 10_000n - 700n + 1200n, 7, 700n]);
  });

  test("options.trackId maps a stream to a track id; undefined or a throw keeps the default", () => {
    const mapped = new RtcStatsCollector({ trackId: (i) => (i.ssrc === 1 ? `TR_${i.trackIdentifier}` : undefined) });
    assert.deepEqual(mapped.collect([...outbound(1, 1), ...outbound(2, 1)]).map((s) => s.trackId).sort(), ["TR_track-1", "track-2"]);
    const throwing = new RtcStatsCollector({
      trackId: () => {
        throw new Error("no");
      },
    });
    assert.deepEqual(throwing.collect(outbound(1, 1)).map((s) => s.trackId), ["track-1"]);
    assert.throws(() => new RtcStatsCollector({ trackId: "x" as never }), isArgumentError);
  });

  test("a window without packets scores POOR (MOS 2.064), as LiveKit's scorer does", () => {
    const c = new RtcStatsCollector();
    c.collect(outbound(1, 10, {}, 1000));
    const [s] = c.collect(outbound(1, 10, {}, 2000));
    assert.equal(s!.stat.score, Math.fround(2.064));
  });
});
