// The hand-written IngestStats definition against LiveKit's own proto: same method, and bytes
// that reach a server built from that proto unchanged.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, suite, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { AnalyticsStatsSchema } from "../../src/index.ts";
import { INGEST_STATS_PATH, analyticsRecorderServiceDefinition } from "../../src/grpc/index.ts";
import { ANALYTICS_PROTO, LivekitRecorder, livekitService, methodPath } from "./livekit-recorder.ts";

suite("analyticsRecorderServiceDefinition", () => {
  test("the vendored proto is LiveKit's file with its licence header", () => {
    const text = readFileSync(ANALYTICS_PROTO, "utf8");
    assert.match(text, /^\/\/ Copyright 2023 LiveKit, Inc\.\n\/\/\n\/\/ Licensed under the Apache License, Version 2\.0/);
    assert.match(text, /package livekit;/);
  });

  test("IngestStats has the path and stream shape of LiveKit's proto", () => {
    const method = livekitService().methods["IngestStats"]!;
    const ours = analyticsRecorderServiceDefinition.IngestStats;
    assert.equal(INGEST_STATS_PATH, methodPath(method));
    assert.equal(ours.path, "/livekit.AnalyticsRecorderService/IngestStats");
    assert.equal(ours.requestStream, method.requestStream === true);
    assert.equal(ours.responseStream, method.responseStream === true);
    assert.equal(method.requestType, "livekit.AnalyticsStats");
    assert.equal(method.responseType, "google.protobuf.Empty");
  });

  test("serializers pass bytes through without copying or decoding, and Empty is zero bytes", () => {
    const ours = analyticsRecorderServiceDefinition.IngestStats;
    const backing = new Uint8Array([9, 9, 0x0a, 0x00, 9]);
    const view = backing.subarray(2, 4);
    const framed = ours.requestSerialize(view);
    assert.deepEqual([...framed], [0x0a, 0x00]);
    backing[3] = 0x01;
    assert.equal(framed[1], 0x01, "the Buffer shares the caller's memory");
    assert.equal(ours.responseSerialize({}).length, 0);
    assert.deepEqual(ours.responseDeserialize(Buffer.from([0x08, 0x01])), {}, "unknown fields in Empty are ignored");
  });

  suite("a client from the definition against a server from LiveKit's proto", () => {
    const recorder = new LivekitRecorder();
    let client: grpc.Client;
    before(async () => {
      await recorder.start();
      const Client = grpc.makeGenericClientConstructor(analyticsRecorderServiceDefinition, "AnalyticsRecorderService");
      client = new Client(recorder.address, grpc.credentials.createInsecure());
    });
    after(() => {
      client.close();
      recorder.kill();
    });

    test("two messages on one stream arrive decoded and the stream is answered with Empty", async () => {
      const batch = (id: string) =>
        toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: [{ id, roomId: "RM_1", score: 2.5, streams: [{ primaryBytes: 2n ** 63n }] }] }));
      const answer = await new Promise<unknown>((resolve, reject) => {
        const call = (client as unknown as Record<string, (cb: grpc.requestCallback<unknown>) => grpc.ClientWritableStream<Uint8Array>>)["IngestStats"]!(
          (err, value) => (err ? reject(err) : resolve(value)),
        );
        call.write(batch("AS_a"));
        call.write(batch("AS_b"));
        call.end();
      });
      assert.deepEqual(answer, {});
      assert.deepEqual(recorder.stored.map((s) => s.id), ["AS_a", "AS_b"]);
      assert.equal(recorder.stored[0]!.streams[0]!.primaryBytes, 2n ** 63n);
      assert.equal(recorder.received.length, 2);
    });
  });
});
