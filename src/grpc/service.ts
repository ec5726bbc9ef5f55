/**
 * LiveKit's `livekit.AnalyticsRecorderService`, `IngestStats` method, as a grpc-js service
 * definition that moves bytes, not message objects.
 *
 * The method is the one in `proto/livekit/rpc/analytics.proto` (vendored from livekit/protocol):
 * `rpc IngestStats(stream livekit.AnalyticsStats) returns (google.protobuf.Empty)`. Requests are
 * encoded `AnalyticsStats` messages passed through as they are, so the engine's encoded batches go
 * on the wire without being decoded and re-encoded; the response, `google.protobuf.Empty`, is
 * zero bytes. `IngestEvents` and `IngestNodeRoomStates` are not part of this package: a server
 * built from this definition answers them `UNIMPLEMENTED`.
 *
 * @module
 */
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The full gRPC method path of `IngestStats`. */
export const INGEST_STATS_PATH = "/livekit.AnalyticsRecorderService/IngestStats";

// An empty google.protobuf.Empty: a message with no fields encodes to nothing.
const EMPTY = Buffer.alloc(0);

function asBuffer(bytes: Uint8Array): Buffer {
  // grpc-js frames Buffers; wrapping shares the memory instead of copying it.
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The `IngestStats` method: a client stream of encoded `AnalyticsStats` messages (bytes in,
 * bytes out, never decoded here) answered with one `google.protobuf.Empty`.
 */
export type IngestStatsMethod = MethodDefinition<Uint8Array, Record<string, never>>;

/**
 * The service definition for `grpc.Server.addService()` and `makeGenericClientConstructor()`:
 * `{ IngestStats }`, with pass-through serializers (see the module comment).
 */
export const analyticsRecorderServiceDefinition: ServiceDefinition<{ IngestStats: IngestStatsMethod }> = {
  IngestStats: {
    path: INGEST_STATS_PATH,
    requestStream: true,
    responseStream: false,
    originalName: "ingestStats",
    requestSerialize: asBuffer,
    requestDeserialize: (bytes: Buffer) => bytes,
    // Empty carries nothing; any bytes a peer sends in it are unknown fields, ignored as protobuf does.
    responseSerialize: () => EMPTY,
    responseDeserialize: () => ({}),
  },
};
