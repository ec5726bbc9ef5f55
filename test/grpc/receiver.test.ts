// ingestStatsHandler on a real grpc-js server on 127.0.0.1, driven by a raw client.
import assert from "node:assert/strict";
import { after, before, suite, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import type { AnalyticsStat } from "../../src/index.ts";
import {
  analyticsRecorderServiceDefinition,
  ingestStatsHandler,
  type IngestStatsContext,
  type IngestStatsHandlerOptions,
} from "../../src/grpc/index.ts";
import { encodedBatch, ingestClient, sendStream } from "./helpers.ts";

suite("ingestStatsHandler()", () => {
  let server: grpc.Server;
  let client: grpc.Client;
  let onStats: IngestStatsHandlerOptions["onStats"] = () => {};

  before(async () => {
    server = new grpc.Server();
    server.addService(analyticsRecorderServiceDefinition, {
      IngestStats: ingestStatsHandler({ onStats: (stats, context) => onStats(stats, context) }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = ingestClient(`127.0.0.1:${port}`);
  });
  after(() => {
    client.close();
    server.forceShutdown();
  });

  test("hands every message's stats to onStats in order and answers Empty after the last one resolved", async () => {
    const seen: { ids: string[]; index: number; auth: unknown }[] = [];
    let resolvedAll = false;
    onStats = async (stats: AnalyticsStat[], context: IngestStatsContext) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen.push({ ids: stats.map((s) => s.id), index: context.index, auth: context.metadata.get("authorization")[0] });
      if (context.index === 2) resolvedAll = true;
    };
    const metadata = new grpc.Metadata();
    metadata.set("authorization", "Bearer t");
    const outcome = await sendStream(client, [encodedBatch(["AS_1", "AS_2"]), encodedBatch([]), encodedBatch(["AS_3"])], metadata);
    assert.equal(outcome.error, null);
    assert.deepEqual(outcome.value, {});
    assert.ok(resolvedAll, "answered before the last onStats resolved");
    assert.deepEqual(seen, [
      { ids: ["AS_1", "AS_2"], index: 0, auth: "Bearer t" },
      { ids: [], index: 1, auth: "Bearer t" },
      { ids: ["AS_3"], index: 2, auth: "Bearer t" },
    ]);
  });

  test("a message that is not an AnalyticsStats ends the stream with INVALID_ARGUMENT naming its index", async () => {
    const seen: string[] = [];
    onStats = (stats) => void seen.push(...stats.map((s) => s.id));
    const outcome = await sendStream(client, [encodedBatch(["AS_ok"]), new Uint8Array([0x0a, 0x05, 0x01])]);
    assert.equal(outcome.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(outcome.error!.details, /cannot decode AnalyticsStats message 1/);
    assert.deepEqual(seen, ["AS_ok"]);
  });

  test("an onStats that rejects ends the stream with UNAVAILABLE, which a sender retries", async () => {
    onStats = async () => {
      throw new Error("disk full");
    };
    const outcome = await sendStream(client, [encodedBatch(["AS_x"])]);
    assert.equal(outcome.error?.code, grpc.status.UNAVAILABLE);
    assert.match(outcome.error!.details, /stats not stored: disk full/);
  });

  test("a stream with no messages is answered Empty", async () => {
    onStats = () => assert.fail("no message was sent");
    const outcome = await sendStream(client, []);
    assert.equal(outcome.error, null);
  });

  test("methods this package does not implement answer UNIMPLEMENTED", async () => {
    const Client = grpc.makeGenericClientConstructor(
      {
        IngestEvents: {
          ...analyticsRecorderServiceDefinition.IngestStats,
          path: "/livekit.AnalyticsRecorderService/IngestEvents",
        },
      },
      "AnalyticsRecorderService",
    );
    const events = new Client(client.getChannel().getTarget().replace(/^dns:/, ""), grpc.credentials.createInsecure());
    try {
      const code = await new Promise<number | undefined>((resolve) => {
        const call = (events as unknown as Record<string, (cb: grpc.requestCallback<unknown>) => grpc.ClientWritableStream<Uint8Array>>)["IngestEvents"]!.call(
          events,
          (err) => resolve(err?.code),
        );
        call.on("error", () => {});
        call.end();
      });
      assert.equal(code, grpc.status.UNIMPLEMENTED);
    } finally {
      events.close();
    }
  });
});
