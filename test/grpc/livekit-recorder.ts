/**
 * A stand-in for LiveKit's analytics recorder: a grpc-js server whose service definition is read
 * from the vendored LiveKit file `proto/livekit/rpc/analytics.proto` (parsed by protobufjs, not
 * taken from src/grpc), decoding every IngestStats message with protobuf-es. Tests stop it with
 * `forceShutdown()` and start it again on the same port to make outages.
 */
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { type AnalyticsStat, AnalyticsStatsSchema } from "../../src/gen/livekit/livekit_analytics_pb.ts";

/** The vendored LiveKit service file. */
export const ANALYTICS_PROTO = fileURLToPath(new URL("../../proto/livekit/rpc/analytics.proto", import.meta.url));

/** LiveKit's AnalyticsRecorderService as protobufjs parsed it from the vendored file. */
export function livekitService(): protobuf.Service {
  const parsed = protobuf.parse(readFileSync(ANALYTICS_PROTO, "utf8"), { keepCase: true });
  return parsed.root.lookupService("livekit.AnalyticsRecorderService");
}

/** The gRPC path of a method, as protoc plugins build it: `/<package>.<Service>/<Method>`. */
export function methodPath(method: protobuf.Method): string {
  return `/${method.parent!.fullName.slice(1)}/${method.name}`;
}

/** How the recorder answers a stream once the client half-closes it. */
export type RecorderMode =
  | "ack" // store the stats and answer Empty
  | "hang" // never answer (a stuck server)
  | { status: grpc.status; details: string; trailers?: Record<string, string> }; // fail the stream, storing nothing

/** One received message. */
export interface Received {
  readonly stream: number;
  readonly stats: AnalyticsStat[];
}

/** A LiveKit-proto IngestStats server on 127.0.0.1 that records what it acknowledges. */
export class LivekitRecorder {
  port = 0;
  mode: RecorderMode = "ack";
  /** stats of acknowledged streams, in order */
  readonly stored: AnalyticsStat[] = [];
  /** when each stream started (Date.now()) */
  readonly streamStarts: number[] = [];
  /** every message seen, acknowledged or not */
  readonly received: Received[] = [];
  /** request metadata of every stream */
  readonly metadata: grpc.Metadata[] = [];
  streams = 0;
  acknowledged = 0;
  /** the server's max_receive_message_length; grpc-js's 4 MiB when undefined */
  maxReceiveBytes: number | undefined = undefined;
  #server: grpc.Server | undefined;

  /** Starts the server on `this.port` (a free one the first time) and resolves once bound. */
  async start(): Promise<this> {
    const service = livekitService();
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of service.methodsArray) {
      definition[method.name] = {
        path: methodPath(method),
        requestStream: method.requestStream === true,
        responseStream: method.responseStream === true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        // google.protobuf.Empty: no fields, zero bytes
        responseSerialize: () => Buffer.alloc(0),
        responseDeserialize: (b: Buffer) => b,
      };
    }
    const ingest = service.methods["IngestStats"]!;
    if (ingest.requestType !== "livekit.AnalyticsStats" || ingest.responseType !== "google.protobuf.Empty") {
      throw new Error(`unexpected IngestStats signature in ${ANALYTICS_PROTO}`);
    }
    implementation["IngestStats"] = ((call: grpc.ServerReadableStream<Buffer, unknown>, callback: grpc.sendUnaryData<Buffer>) => {
      const stream = ++this.streams;
      this.streamStarts.push(Date.now());
      this.metadata.push(call.metadata);
      const pending: AnalyticsStat[] = [];
      let failed = false;
      call.on("data", (bytes: Buffer) => {
        if (failed) return;
        try {
          const stats = fromBinary(AnalyticsStatsSchema, bytes).stats;
          this.received.push({ stream, stats });
          pending.push(...stats);
        } catch (err) {
          failed = true;
          callback({ code: grpc.status.INVALID_ARGUMENT, details: String(err) });
        }
      });
      call.on("end", () => {
        if (failed) return;
        const mode = this.mode;
        if (mode === "hang") return;
        if (mode === "ack") {
          this.stored.push(...pending);
          this.acknowledged++;
          callback(null, Buffer.alloc(0));
        } else {
          const metadata = new grpc.Metadata();
          for (const [k, v] of Object.entries(mode.trailers ?? {})) metadata.set(k, v);
          callback({ code: mode.status, details: mode.details, metadata });
        }
      });
      call.on("error", () => {});
    }) as grpc.handleClientStreamingCall<Buffer, Buffer>;
    const server = new grpc.Server(this.maxReceiveBytes === undefined ? {} : { "grpc.max_receive_message_length": this.maxReceiveBytes });
    server.addService(definition, implementation);
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.#server = server;
    return this;
  }

  /** The address a client dials. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Kills the server at once: open streams fail with UNAVAILABLE or CANCELLED. */
  kill(): void {
    this.#server?.forceShutdown();
    this.#server = undefined;
  }

  /** Kills and starts it again on the same port. */
  async restart(): Promise<void> {
    this.kill();
    await this.start();
  }

  /** The distinct stat ids acknowledged so far. */
  storedIds(): Set<string> {
    return new Set(this.stored.map((s) => s.id));
  }
}
