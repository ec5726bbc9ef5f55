// The library's network reporters ask their workers for batches the engine stamped as it encoded
// them (node and ids), and send those bytes as they are; every stat still arrives once, with the
// node and an id of its own, whoever stamped it.
import { fromBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { IDS } from "../../src/engine/wasm/abi.ts";
import { AnalyticsStatsSchema, StreamType } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { STAMP_REQUEST, isStampedBatch, type StampedBatch } from "../../src/reporter.ts";
import { HttpReporter } from "../../src/reporters/http-reporter.ts";
import { StatsWorker } from "../../src/stats-worker.ts";
import { TelemetryService } from "../../src/telemetry-service.ts";
import { ENGINE_KINDS, engine } from "../helpers.ts";
import { startServer } from "./helpers.ts";

const ID = /^AS_[0-9A-Za-z]{12}$/;

suite("stamped batches", () => {
  for (const kind of ENGINE_KINDS) {
    test(`[${kind}] a worker hands a reporter that asks for stamped batches the engine's stamped bytes and their stat count; others get one argument`, async () => {
      const calls: { bytes: Uint8Array; stamped: StampedBatch | undefined; args: number }[] = [];
      const asking = {
        [STAMP_REQUEST]: { node: "SFU_a" },
        report() {},
        reportBytes(bytes: Uint8Array, stamped?: StampedBatch) {
          calls.push({ bytes: bytes.slice(), stamped: isStampedBatch(stamped) ? { ...stamped } : undefined, args: arguments.length });
        },
      };
      const plain = {
        report() {},
        reportBytes(bytes: Uint8Array) {
          calls.push({ bytes: bytes.slice(), stamped: undefined, args: arguments.length });
        },
      };
      for (const reporter of [asking, plain]) {
        const worker = new StatsWorker({ engine: await engine(kind), reporter, roomId: "RM", roomName: "room", participantId: "PA", participantIdentity: "" });
        worker.onTrackStat("TR_1", StreamType.UPSTREAM, { score: 3 });
        worker.onTrackStat("TR_2", StreamType.DOWNSTREAM, { score: 4 });
        worker.update();
        worker.close();
      }
      assert.equal(calls.length, 2);
      const [stampedCall, plainCall] = calls;
      assert.equal(stampedCall!.stamped?.stats, 2);
      const stats = fromBinary(AnalyticsStatsSchema, stampedCall!.bytes).stats;
      assert.deepEqual(stats.map((s) => s.node), ["SFU_a", "SFU_a"]);
      for (const s of stats) assert.match(s.id, ID);
      assert.equal(plainCall!.args, 1);
      for (const s of fromBinary(AnalyticsStatsSchema, plainCall!.bytes).stats) {
        assert.equal(s.node, "");
        assert.equal(s.id, "");
      }
    });

    test(`[${kind}] HttpReporter delivers every stat of a service's flush once, with its node and an id of its own, a window past the engine's id pool included`, async () => {
      const server = await startServer();
      const reporter = new HttpReporter({ url: server.url, node: "SFU_http" });
      const service = new TelemetryService({ engine: await engine(kind), reporter });
      try {
        let sent = 0;
        for (let p = 0; p < 50; p++) {
          service.participantJoined({ sid: "RM", name: "room" }, { sid: `PA_${p}`, identity: "" });
          // one participant with more tracks in a window than the wasm engine's id pool holds
          const tracks = p === 7 ? IDS.COUNT + 5 : 4;
          for (let t = 0; t < tracks; t++) service.trackStats("RM", `PA_${p}`, `TR_${t}`, t & 1 ? StreamType.DOWNSTREAM : StreamType.UPSTREAM, { score: 2 });
          sent += tracks;
        }
        service.flush();
        await reporter.flush();
        const stats = server.accepted.flatMap((body) => fromBinary(AnalyticsStatsSchema, body).stats);
        assert.equal(stats.length, sent);
        const ids = new Set(stats.map((s) => s.id));
        assert.equal(ids.size, sent, "every id is unique");
        for (const s of stats) {
          assert.equal(s.node, "SFU_http");
          assert.match(s.id, ID);
        }
        assert.equal(reporter.counters.dropped, 0);
      } finally {
        await service.stop();
        await reporter.close();
        await server.close();
      }
    });
  }
});
