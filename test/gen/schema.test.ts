import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  AnalyticsStreamSchema,
  AnalyticsVideoLayerSchema,
  StreamType,
} from "../../src/index.ts";

const root = new URL("../../", import.meta.url).pathname;

suite("generated schema", () => {
  test("the committed src/gen matches a fresh `buf generate` of proto/", () => {
    const out = mkdtempSync(join(tmpdir(), "statsworker-gen-"));
    try {
      execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "-o", out], {
        cwd: root,
        stdio: "pipe",
        // buf finds protoc-gen-es on PATH, as under `npm run generate`
        env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env["PATH"] ?? ""}` },
      });
      const rel = "src/gen/livekit/livekit_analytics_pb.ts";
      assert.deepEqual(readdirSync(join(out, "src/gen/livekit")), readdirSync(join(root, "src/gen/livekit")));
      assert.equal(readFileSync(join(out, rel), "utf8"), readFileSync(join(root, rel), "utf8"), "run `npm run generate`");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test("field numbers and types are LiveKit's", () => {
    const shape = (schema: typeof AnalyticsStatSchema | typeof AnalyticsStreamSchema | typeof AnalyticsVideoLayerSchema) =>
      schema.fields.map((f) => `${f.number}:${f.name}:${f.fieldKind === "scalar" ? f.scalar : f.fieldKind}`).join(" ");
    assert.equal(shape(AnalyticsVideoLayerSchema), "1:layer:5 2:packets:13 3:bytes:4 4:frames:13");
    assert.equal(
      shape(AnalyticsStreamSchema),
      "1:ssrc:13 2:primary_packets:13 3:primary_bytes:4 4:retransmit_packets:13 5:retransmit_bytes:4 " +
        "6:padding_packets:13 7:padding_bytes:4 8:packets_lost:13 9:frames:13 10:rtt:13 11:jitter:13 12:nacks:13 " +
        "13:plis:13 14:firs:13 15:video_layers:list 17:start_time:message 18:end_time:message 19:packets_out_of_order:13",
    );
    assert.equal(
      shape(AnalyticsStatSchema),
      "1:analytics_key:9 2:kind:enum 3:time_stamp:message 4:node:9 5:room_id:9 6:room_name:9 7:participant_id:9 " +
        "8:track_id:9 9:score:2 10:streams:list 11:mime:9 12:min_score:2 13:median_score:2 14:id:9",
    );
    assert.equal(AnalyticsStatSchema.typeName, "livekit.AnalyticsStat");
    assert.equal(StreamType.UPSTREAM, 0);
    assert.equal(StreamType.DOWNSTREAM, 1);
  });
});

// Byte vectors written by hand the way Go's proto.Marshal (LiveKit's encoder) lays them out:
// fields in number order, proto3 defaults omitted, packed nothing (no repeated scalars here).
suite("wire interop", () => {
  test("an AnalyticsVideoLayer vector decodes field by field and re-encodes identically", () => {
    // layer=-1 (10-byte varint), packets=300, bytes=2^40, frames=7
    const bytes = Uint8Array.from([
      0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
      0x10, 0xac, 0x02,
      0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20,
      0x20, 0x07,
    ]);
    const m = fromBinary(AnalyticsVideoLayerSchema, bytes);
    assert.deepEqual([m.layer, m.packets, m.bytes, m.frames], [-1, 300, 2n ** 40n, 7]);
    assert.deepEqual(toBinary(AnalyticsVideoLayerSchema, m), bytes);
  });

  test("an AnalyticsStream vector with every field decodes field by field", () => {
    const v = (n: number) => {
      const out: number[] = [];
      while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
      out.push(n);
      return out;
    };
    const bytes = Uint8Array.from([
      0x08, ...v(0xdeadbeef), 0x10, ...v(2), 0x18, ...v(56), 0x20, ...v(3), 0x28, ...v(4), 0x30, ...v(5), 0x38, ...v(6),
      0x40, ...v(7), 0x48, ...v(8), 0x50, ...v(9), 0x58, ...v(10), 0x60, ...v(11), 0x68, ...v(12), 0x70, ...v(13),
      0x7a, 0x04, 0x08, 0x02, 0x10, 0x01, // video_layers { layer: 2, packets: 1 }
      0x8a, 0x01, 0x02, 0x08, 0x01, // start_time { seconds: 1 }
      0x92, 0x01, 0x02, 0x10, 0x05, // end_time { nanos: 5 }
      0x98, 0x01, 0x2a, // packets_out_of_order: 42
    ]);
    const m = fromBinary(AnalyticsStreamSchema, bytes);
    assert.equal(m.ssrc, 0xdeadbeef);
    assert.deepEqual(
      [m.primaryPackets, m.primaryBytes, m.retransmitPackets, m.retransmitBytes, m.paddingPackets, m.paddingBytes,
       m.packetsLost, m.frames, m.rtt, m.jitter, m.nacks, m.plis, m.firs],
      [2, 56n, 3, 4n, 5, 6n, 7, 8, 9, 10, 11, 12, 13],
    );
    assert.deepEqual([m.videoLayers[0]!.layer, m.videoLayers[0]!.packets], [2, 1]);
    assert.equal(m.startTime!.seconds, 1n);
    assert.equal(m.endTime!.nanos, 5);
    assert.equal(m.packetsOutOfOrder, 42);
    assert.deepEqual(toBinary(AnalyticsStreamSchema, m), bytes);
  });

  test("an AnalyticsStat vector with every field decodes field by field", () => {
    const s = (str: string) => [str.length, ...Buffer.from(str)];
    const bytes = Uint8Array.from([
      0x0a, ...s("key"), 0x10, 0x01, 0x1a, 0x06, 0x08, 0x80, 0xde, 0xbe, 0xd5, 0x06,
      0x22, ...s("node-1"), 0x2a, ...s("RM_x"), 0x32, ...s("room"), 0x3a, ...s("PA_y"), 0x42, ...s("TR_z"),
      0x4d, 0x00, 0x00, 0x90, 0x40, // score 4.5f
      0x52, 0x02, 0x08, 0x01, // streams { ssrc: 1 }
      0x5a, ...s("video/VP8"),
      0x65, 0x00, 0x00, 0x80, 0x3f, 0x6d, 0x00, 0x00, 0x00, 0x40, // min 1.0, median 2.0
      0x72, ...s("AS_abc"),
    ]);
    const m = fromBinary(AnalyticsStatSchema, bytes);
    assert.deepEqual(
      [m.analyticsKey, m.kind, m.timeStamp!.seconds, m.node, m.roomId, m.roomName, m.participantId, m.trackId, m.score,
       m.streams.length, m.streams[0]!.ssrc, m.mime, m.minScore, m.medianScore, m.id],
      ["key", StreamType.DOWNSTREAM, 1789898496n, "node-1", "RM_x", "room", "PA_y", "TR_z", 4.5, 1, 1, "video/VP8", 1, 2, "AS_abc"],
    );
    assert.deepEqual(toBinary(AnalyticsStatSchema, m), bytes);
  });

  test("an AnalyticsStats vector holds its stats in order", () => {
    const bytes = Uint8Array.from([0x0a, 0x02, 0x10, 0x01, 0x0a, 0x00, 0x0a, 0x05, 0x4d, 0x00, 0x00, 0x80, 0x3f]);
    const m = fromBinary(AnalyticsStatsSchema, bytes);
    assert.deepEqual(m.stats.map((x) => [x.kind, x.score]), [[1, 0], [0, 0], [0, 1]]);
    assert.deepEqual(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, m)), bytes);
  });
});
