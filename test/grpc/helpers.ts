/**
 * Client-side helpers for the gRPC tests: a raw IngestStats client from the package's service
 * definition, and encoded batches with known ids.
 */
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { AnalyticsStatSchema, AnalyticsStatsSchema } from "../../src/index.ts";
import { analyticsRecorderServiceDefinition } from "../../src/grpc/index.ts";

type IngestStatsCall = (metadata: grpc.Metadata, cb: grpc.requestCallback<unknown>) => grpc.ClientWritableStream<Uint8Array>;

/** A generic client for `address` built from {@link analyticsRecorderServiceDefinition}. */
export function ingestClient(address: string): grpc.Client {
  const Client = grpc.makeGenericClientConstructor(analyticsRecorderServiceDefinition, "AnalyticsRecorderService");
  return new Client(address, grpc.credentials.createInsecure());
}

/** Writes `messages` on one IngestStats stream, half-closes it and resolves with the outcome. */
export function sendStream(
  client: grpc.Client,
  messages: readonly Uint8Array[],
  metadata = new grpc.Metadata(),
): Promise<{ error: grpc.ServiceError | null; value: unknown }> {
  return new Promise((resolve) => {
    const call = (client as unknown as Record<string, IngestStatsCall>)["IngestStats"]!.call(client, metadata, (error, value) =>
      resolve({ error, value }),
    );
    call.on("error", () => {});
    for (const m of messages) call.write(m);
    call.end();
  });
}

/** One encoded AnalyticsStats holding a stat per id (room RM_1, score 1). */
export function encodedBatch(ids: readonly string[], init: MessageInitShape<typeof AnalyticsStatSchema> = {}): Uint8Array {
  return toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: ids.map((id) => ({ roomId: "RM_1", score: 1, ...init, id })) }));
}
