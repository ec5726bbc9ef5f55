/**
 * The server side of `IngestStats`: a grpc-js handler that decodes each `AnalyticsStats`
 * message, hands its stats to a callback and acknowledges the stream once they are all stored.
 *
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
import { type handleClientStreamingCall, type Metadata, status } from "@grpc/grpc-js";
import { type AnalyticsStat, AnalyticsStatsSchema } from "../gen/livekit/livekit_analytics_pb.ts";
import { type Logger, silentLogger } from "../logger.ts";

/** What {@link IngestStatsHandlerOptions.onStats} is told about the message it gets. */
export interface IngestStatsContext {
  /** the message as received: one encoded `AnalyticsStats` */
  readonly bytes: Uint8Array;
  /** the message's position in its stream, from 0 */
  readonly index: number;
  /** the request metadata of the stream (authorization, for instance) */
  readonly metadata: Metadata;
  /** the client's address, as grpc-js reports it */
  readonly peer: string;
}

/** A server's `IngestStats` implementation: encoded `AnalyticsStats` messages in, `Empty` out. */
export type IngestStatsImplementation = handleClientStreamingCall<Uint8Array, Record<string, never>>;

/** Options of {@link ingestStatsHandler}. */
export interface IngestStatsHandlerOptions {
  /**
   * Called once per received message with its decoded stats (possibly none), in stream order;
   * the next message is read only after the returned promise settles. Required.
   *
   * The stream is acknowledged (answered with `Empty`) only after every call for it has
   * resolved, so a sender that sees the answer knows its stats were stored. A call that throws or
   * rejects ends the stream with `UNAVAILABLE`, which a sender retries.
   */
  onStats(stats: AnalyticsStat[], context: IngestStatsContext): void | Promise<void>;
  /** Where refused and failed streams are logged. Default: {@link silentLogger}. */
  logger?: Logger;
}

/**
 * Returns an `IngestStats` implementation for `server.addService(analyticsRecorderServiceDefinition, { IngestStats })`.
 *
 * A message that is not a valid `AnalyticsStats` ends its stream with `INVALID_ARGUMENT`
 * (naming the message's index); the messages before it were already handed to `onStats`.
 * A stream the client cancels is dropped without an answer. Size bounds are the server's
 * (`grpc.max_receive_message_length`, 4 MiB by default in grpc-js).
 */
export function ingestStatsHandler(options: IngestStatsHandlerOptions): IngestStatsImplementation {
  const { onStats } = options;
  const logger = options.logger ?? silentLogger;
  return (call, callback) => {
    const peer = call.getPeer();
    let index = 0;
    const receive = async (): Promise<void> => {
      // Async iteration pulls one message at a time, so a slow onStats holds the client back
      // through HTTP/2 flow control instead of growing memory here.
      for await (const bytes of call as AsyncIterable<Uint8Array>) {
        let stats: AnalyticsStat[];
        try {
          stats = fromBinary(AnalyticsStatsSchema, bytes).stats;
        } catch (err) {
          logger.warn("ingest stats message refused", { peer, index, error: String(err) });
          callback({ code: status.INVALID_ARGUMENT, details: `cannot decode AnalyticsStats message ${index}: ${errorMessage(err)}` });
          return;
        }
        try {
          await onStats(stats, { bytes, index, metadata: call.metadata, peer });
        } catch (err) {
          logger.error("ingest stats handler failed", { peer, index, error: String(err) });
          callback({ code: status.UNAVAILABLE, details: `stats not stored: ${errorMessage(err)}` });
          return;
        }
        index++;
      }
      if (!call.cancelled) callback(null, {});
    };
    receive().catch((err: unknown) => {
      // The stream broke (the client went away mid-message); there is nobody left to answer.
      logger.debug("ingest stats stream ended early", { peer, index, error: String(err) });
    });
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
