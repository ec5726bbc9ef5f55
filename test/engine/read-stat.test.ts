// The inputs users have: protobuf-es messages, plain init-shape objects and @livekit/protocol
// (protobuf-es v1) instances, read once and checked field by field, identically by both engines.
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import * as livekit from "@livekit/protocol";
import {
  AnalyticsStatSchema,
  StreamType,
  StatsWorker,
  TelemetryService,
  isArgumentError,
  isLimitError,
  loadEngine,
  type AnalyticsStat,
  type AnalyticsStatInput,
} from "../../src/index.ts";
import { CapturingReporter, ENGINE_KINDS } from "../helpers.ts";

const any = (v: unknown) => v as AnalyticsStatInput;

function newWorker(engine: Awaited<ReturnType<typeof loadEngine>>) {
  const out: AnalyticsStat[][] = [];
  const worker = new StatsWorker({
    engine,
    reporter: { report: (stats) => void out.push(stats) },
    roomId: "RM_1",
    roomName: "room",
    participantId: "PA_1",
    participantIdentity: "alice",
  });
  return { worker, out };
}

const summary = (s: AnalyticsStat) => {
  const st = s.streams[0]!;
  return { trackId: s.trackId, score: s.score, packets: st.primaryPackets, bytes: st.primaryBytes, rtx: st.retransmitBytes, layers: st.videoLayers.map((l) => [l.layer, l.packets, l.bytes, l.frames]) };
};

for (const kind of ENGINE_KINDS) {
  suite(`onTrackStat() inputs [${kind}]`, () => {
    test("a plain init-shape object is taken, omitted fields as their defaults", async () => {
      const { worker, out } = newWorker(await loadEngine(kind));
      worker.onTrackStat("plain", StreamType.UPSTREAM, { score: 1, streams: [{ primaryPackets: 5, videoLayers: [{ layer: 2, frames: 3 }] }] });
      worker.onTrackStat("message", StreamType.UPSTREAM, create(AnalyticsStatSchema, { score: 1, streams: [{ primaryPackets: 5, videoLayers: [{ layer: 2, frames: 3 }] }] }));
      worker.onTrackStat("empty", StreamType.UPSTREAM, {});
      worker.update();
      const got = Object.fromEntries(out[0]!.map((s) => [s.trackId, summary(s)]));
      assert.deepEqual({ ...got["plain"], trackId: "" }, { ...got["message"], trackId: "" });
      assert.deepEqual(got["plain"], { trackId: "plain", score: 1, packets: 5, bytes: 0n, rtx: 0n, layers: [[2, 0, 0n, 3]] });
      assert.deepEqual(got["empty"], { trackId: "empty", score: 0, packets: 0, bytes: 0n, rtx: 0n, layers: [] });
    });

    test("a @livekit/protocol AnalyticsStat instance is taken like a protobuf-es message", async () => {
      const { worker, out } = newWorker(await loadEngine(kind));
      const v1 = new livekit.AnalyticsStat({
        score: 3,
        kind: livekit.StreamType.DOWNSTREAM,
        streams: [new livekit.AnalyticsStream({ primaryPackets: 7, primaryBytes: 700n, retransmitBytes: 9n, videoLayers: [new livekit.AnalyticsVideoLayer({ layer: 1, packets: 2, bytes: 20n, frames: 1 })] })],
      });
      worker.onTrackStat("v1", StreamType.DOWNSTREAM, v1);
      worker.update();
      assert.deepEqual(summary(out[0]![0]!), { trackId: "v1", score: 3, packets: 7, bytes: 700n, rtx: 9n, layers: [[1, 2, 20n, 1]] });
    });

    test("TelemetryService.trackStats takes plain and @livekit/protocol objects too", async () => {
      const reporter = new CapturingReporter();
      const service = new TelemetryService({ engine: await loadEngine(kind), reporter });
      service.participantJoined({ sid: "RM_1", name: "room" }, { sid: "PA_1", identity: "alice" });
      service.trackStats("RM_1", "PA_1", "TR_1", StreamType.UPSTREAM, { score: 1, streams: [{ primaryPackets: 5 }] });
      service.trackStats("RM_1", "PA_1", "TR_1", StreamType.UPSTREAM, new livekit.AnalyticsStat({ score: 1, streams: [new livekit.AnalyticsStream({ primaryPackets: 6 })] }));
      service.flush();
      assert.equal(reporter.all.length, 1);
      assert.equal(reporter.all[0]!.streams[0]!.primaryPackets, 11);
      await service.stop();
    });

    test("a wrong type or an out-of-range value is an ArgumentError naming the field, and the window is intact", async () => {
      const { worker, out } = newWorker(await loadEngine(kind));
      worker.onTrackStat("t", StreamType.UPSTREAM, { streams: [{ primaryPackets: 1 }] });
      const cases: [unknown, string][] = [
        [{ streams: [{ primaryPackets: "7" }] }, "streams[0].primaryPackets"],
        [{ streams: [{ primaryPackets: 1.5 }] }, "streams[0].primaryPackets"],
        [{ streams: [{ primaryPackets: -1 }] }, "streams[0].primaryPackets"],
        [{ streams: [{ nacks: 2 ** 32 }] }, "streams[0].nacks"],
        [{ streams: [{}, { rtt: NaN }] }, "streams[1].rtt"],
        [{ streams: [{ primaryBytes: 100 }] }, "streams[0].primaryBytes"],
        [{ streams: [{ paddingBytes: 2n ** 64n }] }, "streams[0].paddingBytes"],
        [{ streams: [{ retransmitBytes: -1n }] }, "streams[0].retransmitBytes"],
        [{ streams: [{ frames: 1n }] }, "streams[0].frames"],
        [{ streams: [null] }, "streams[0]"],
        [{ streams: [{ videoLayers: [null] }] }, "streams[0].videoLayers[0]"],
        [{ streams: [{ videoLayers: [{ layer: 2 ** 31 }] }] }, "streams[0].videoLayers[0].layer"],
        [{ streams: [{ videoLayers: [{ bytes: 5 }] }] }, "streams[0].videoLayers[0].bytes"],
        [{ streams: [{ videoLayers: "x" }] }, "streams[0].videoLayers"],
        [{ streams: {} }, "streams"],
        [{ score: "1" }, "score"],
        [{ score: null }, "score"],
      ];
      for (const [bad, field] of cases) {
        assert.throws(
          () => worker.onTrackStat("t", StreamType.UPSTREAM, any(bad)),
          (e: unknown) => isArgumentError(e) && e.field === field && e.message.includes(field),
          `${JSON.stringify(bad, (_, v) => (typeof v === "bigint" ? `${v}n` : v))} should name ${field}`,
        );
      }
      worker.onTrackStat("t", StreamType.UPSTREAM, { streams: [{ primaryPackets: 2 }] });
      worker.update();
      assert.equal(out[0]!.length, 1);
      assert.equal(out[0]![0]!.streams[0]!.primaryPackets, 3);
    });

    test("the fields only livekit-current reads are checked in that profile, and ignored in the default one", async () => {
      const current = await loadEngine(kind, { profile: "livekit-current" });
      const reference = await loadEngine(kind);
      for (const [bad, field] of [
        [{ mime: 5 }, "mime"],
        [{ streams: [{ packetsOutOfOrder: -1 }] }, "streams[0].packetsOutOfOrder"],
        [{ streams: [{ startTime: { seconds: 5 } }] }, "streams[0].startTime.seconds"],
        [{ streams: [{ endTime: "now" }] }, "streams[0].endTime"],
      ] as const) {
        assert.throws(() => current.coalesce([any(bad)]), (e: unknown) => isArgumentError(e) && e.field === field, field);
        assert.ok(reference.coalesce([any(bad)]), `${field} is not read by the default profile`);
      }
    });

    test("engine.coalesce and engine.isValid check the same fields", async () => {
      const engine = await loadEngine(kind);
      assert.equal(engine.coalesce([{ score: 2 }, { score: 4, streams: [{ frames: 1 }] }])!.score, 3);
      assert.equal(engine.isValid({ streams: [{ frames: 2 ** 31 }] }), false);
      assert.throws(() => engine.isValid(any({ streams: [{ frames: "1" }] })), (e: unknown) => isArgumentError(e) && e.field === "streams[0].frames");
      assert.throws(() => engine.coalesce([any({ score: 1n })]), (e: unknown) => isArgumentError(e) && e.field === "score");
    });

    test("a getter-backed stat is read once: the limit check and the copy see the same arrays", async () => {
      const { worker, out } = newWorker(await loadEngine(kind));
      let streamReads = 0;
      let layerReads = 0;
      const long = Array.from({ length: 900 }, () => ({ primaryPackets: 1 }));
      const hostile = {
        score: 1,
        get streams() {
          streamReads++;
          // short to whoever asks first, long afterwards
          return streamReads === 1
            ? [
                {
                  primaryPackets: 1,
                  get videoLayers() {
                    layerReads++;
                    return layerReads === 1 ? [] : Array.from({ length: 5000 }, () => ({ layer: 1, packets: 1 }));
                  },
                },
              ]
            : long;
        },
      };
      worker.onTrackStat("hostile", StreamType.UPSTREAM, hostile);
      assert.equal(streamReads, 1);
      assert.equal(layerReads, 1);
      // the long array itself is refused as a whole
      assert.throws(() => worker.onTrackStat("long", StreamType.UPSTREAM, { streams: long }), (e: unknown) => isLimitError(e) && e.code === "too_many_streams");
      worker.onTrackStat("honest", StreamType.DOWNSTREAM, { streams: [{ primaryPackets: 7 }] });
      worker.update();
      const got = Object.fromEntries(out[0]!.map((s) => [s.trackId, s.streams[0]!]));
      assert.deepEqual(Object.keys(got).sort(), ["honest", "hostile"]);
      assert.equal(got["hostile"]!.primaryPackets, 1);
      assert.deepEqual(got["hostile"]!.videoLayers, []);
      assert.equal(got["honest"]!.primaryPackets, 7);
    });

    test("bytes out decode with @livekit/protocol's AnalyticsStats.fromBinary (the LiveKit recipe)", async () => {
      const batches: Uint8Array[] = [];
      const worker = new StatsWorker({
        engine: await loadEngine(kind),
        reporter: { report() {}, reportBytes: (b) => void batches.push(b.slice()) },
        roomId: "RM_1",
        roomName: "room",
        participantId: "PA_1",
        participantIdentity: "alice",
      });
      worker.onTrackStat("TR_1", StreamType.DOWNSTREAM, { score: 4, streams: [{ primaryPackets: 5, primaryBytes: 500n, videoLayers: [{ layer: 2, bytes: 50n }] }] });
      worker.update();
      const decoded = livekit.AnalyticsStats.fromBinary(batches[0]!);
      assert.equal(decoded.stats.length, 1);
      const s = decoded.stats[0]!;
      assert.equal(s.trackId, "TR_1");
      assert.equal(s.kind, livekit.StreamType.DOWNSTREAM);
      assert.equal(s.roomId, "RM_1");
      assert.equal(s.streams[0]!.primaryBytes, 500n);
      assert.equal(s.streams[0]!.videoLayers[0]!.layer, 2);
    });
  });
}

suite("onTrackStat() inputs: engines agree", () => {
  test("both engines refuse and accept the same hostile objects with the same errors", async () => {
    const engines = await Promise.all((["ts", "wasm"] as const).map((k) => loadEngine(k)));
    const inputs: unknown[] = [
      { streams: [{ primaryPackets: 2 ** 31, frames: 1 }] },
      { streams: [{ jitter: 2 ** 32 - 1, rtt: 0 }] },
      { streams: [{ videoLayers: [{ layer: -(2 ** 31) }, { layer: 2 ** 31 - 1 }] }] },
      { score: NaN },
      { score: Infinity, streams: [{}] },
      { streams: [{ primaryBytes: 2n ** 64n - 1n }] },
      { streams: [{ primaryBytes: 2n ** 64n }] },
      { streams: [undefined] },
      { streams: [{ videoLayers: [{ frames: 0.5 }] }] },
    ];
    for (const input of inputs) {
      const outcome = engines.map((e) => {
        try {
          const s = e.coalesce([any(input)])!;
          return { ok: true, score: Object.is(s.score, NaN) ? "NaN" : s.score, stream: s.streams[0] };
        } catch (err) {
          return { ok: false, name: (err as Error).name, message: (err as Error).message };
        }
      });
      assert.deepEqual(outcome[1], outcome[0]);
    }
  });
});
