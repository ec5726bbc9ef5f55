import {
  create,
  type DescField,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  ScalarType,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { ArgumentError } from "../errors.ts";
import {
  type ExportLogsServiceRequest,
  ExportLogsServiceRequestSchema,
} from "../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import type { AnyValue, KeyValue } from "../gen/opentelemetry/proto/common/v1/common_pb.ts";
import type { LogRecordSchema } from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import {
  type AnalyticsStat,
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
} from "../gen/livekit/livekit_analytics_pb.ts";
import type { QueuedBatch } from "./delivery.ts";
import { closePost, type FetchFunction, type HeadersOption, httpTarget, post, type PostOptions } from "./http-post.ts";
import { NetworkReporter, type NetworkReporterOptions } from "./network-reporter.ts";
import { concatBatches } from "./stamp.ts";

/** The `eventName` of every log record an {@link OtlpReporter} sends. */
export const OTLP_EVENT_NAME = "livekit.analytics.stat";

/** The instrumentation scope name of the log records. */
export const OTLP_SCOPE_NAME = "statsworker-wasm";

/** How an OTLP request body is encoded. */
export type OtlpFormat = "json" | "protobuf";

/** A resource attribute value. */
export type OtlpAttributeValue = string | number | boolean;

/**
 * Options of {@link OtlpReporter}: the request and resource, plus the bounds, coalescing and
 * retry delays of the delivery core ({@link NetworkReporterOptions}; `attemptTimeoutMs` is
 * `requestTimeoutMs` here).
 */
export interface OtlpReporterOptions extends Omit<NetworkReporterOptions, "attemptTimeoutMs"> {
  /**
   * The OTLP/HTTP logs endpoint, path included: a collector listens on
   * `http://host:4318/v1/logs`. Required.
   */
  url: string | URL;
  /**
   * `"protobuf"` (`application/x-protobuf`, the OTLP/HTTP default) or `"json"`
   * (`application/json`, OTLP's JSON mapping: lowerCamelCase names, enums as numbers, 64-bit
   * integers as strings). Default: `"protobuf"`.
   */
  format?: OtlpFormat;
  /**
   * Resource attributes, added to `service.name` (default `"statsworker"`) and, when `node` is
   * set, `livekit.node`; a key given here overrides those. Default: none.
   */
  resource?: Record<string, OtlpAttributeValue>;
  /** Extra request headers, or a function returning them per attempt. Default: none. */
  headers?: HeadersOption;
  /**
   * The `fetch` to call for every request. Default: in Node >= 20.16, Node's own `http`/`https`
   * client with a keep-alive connection of the reporter's own (closed by `close()`); elsewhere
   * `globalThis.fetch`.
   */
  fetch?: FetchFunction;
  /** Abort one request after this long, in milliseconds, and retry it. Default: `10_000`. */
  requestTimeoutMs?: number;
  /** Most bytes of a response body read; the rest is cancelled unread. Default: `4096`. */
  maxResponseBytes?: number;
}

/**
 * A reporter that exports every coalesced stat as one OpenTelemetry log record over OTLP/HTTP
 * (`/v1/logs`), in protobuf or JSON, through Node's HTTP client or `fetch`: it runs in browsers too.
 *
 * Each record has `eventName` `"livekit.analytics.stat"`, `timeUnixNano` the stat's
 * `time_stamp` (`observedTimeUnixNano` when it was sent), and one attribute per field of the stat,
 * named after the proto field (`room_id`, `participant_id`, `track_id`, `kind` as
 * `"UPSTREAM"`/`"DOWNSTREAM"`, `score`, `node`, `id`, ...); `streams` is an array of key-value
 * lists with every stream field, its `video_layers` likewise, so no value is lost. Integers are
 * OTLP int values; a uint64 at or above 2^63, which a signed OTLP int cannot hold, is sent as its
 * decimal string. Timestamps inside streams are int nanoseconds since the epoch.
 *
 * Batches share the delivery core of the other network reporters (stamping of `node` and `AS_`
 * ids, bounds, coalescing into one request of up to `maxGroupBytes` of stats, retries with
 * `Retry-After`, no redirects, `flush()`, `close(deadlineMs)`, counters); `bytesSent` counts OTLP
 * request bytes.
 */
export class OtlpReporter extends NetworkReporter {
  readonly #format: OtlpFormat;
  readonly #post: PostOptions;
  readonly #resource: KeyValue[];

  /**
   * @param options see {@link OtlpReporterOptions}; `url` is required
   * @throws {ArgumentError} on a missing url, a bad format or resource value, a bad bound or
   *   delay, or when no `fetch` is available
   */
  constructor(options: OtlpReporterOptions) {
    const target = httpTarget("otlp", options);
    super("otlp", target.core);
    this.#format = target.format;
    this.#post = target.post;
    const resource: Record<string, OtlpAttributeValue> = { "service.name": "statsworker" };
    if (options.node !== undefined) resource["livekit.node"] = options.node;
    Object.assign(resource, options.resource);
    this.#resource = Object.entries(resource).map(([key, value]) => ({
      key,
      value: resourceValue(key, value),
    })) as KeyValue[];
  }

  protected override send(group: readonly QueuedBatch[], signal: AbortSignal): Promise<number> {
    const bytes = group.length === 1 ? group[0]!.bytes : concatBatches(group.map((b) => b.bytes));
    const stats = fromBinary(AnalyticsStatsSchema, bytes).stats;
    const request = otlpLogsRequest(stats, this.#resource, BigInt(Date.now()) * 1_000_000n);
    const body =
      this.#format === "protobuf"
        ? toBinary(ExportLogsServiceRequestSchema, request)
        : new TextEncoder().encode(toJsonString(ExportLogsServiceRequestSchema, request, { enumAsInteger: true }));
    return post(this.#post, body, signal);
  }

  protected override closeTransport(): void {
    closePost(this.#post);
  }
}

/**
 * Builds the OTLP `ExportLogsServiceRequest` for a batch of stats: one resource, one scope, one
 * log record per stat (see {@link OtlpReporter} for the mapping).
 *
 * @param observedNanos `observedTimeUnixNano` of every record, in nanoseconds since the epoch
 */
export function otlpLogsRequest(
  stats: readonly AnalyticsStat[],
  resource: readonly KeyValue[],
  observedNanos: bigint,
): ExportLogsServiceRequest {
  const logRecords = stats.map(
    (stat) =>
      ({
        timeUnixNano: timestampNanos(stat.timeStamp),
        observedTimeUnixNano: observedNanos,
        eventName: OTLP_EVENT_NAME,
        attributes: attributesOf(AnalyticsStatSchema, stat as unknown as Record<string, unknown>),
      }) as MessageInitShape<typeof LogRecordSchema>,
  );
  return create(ExportLogsServiceRequestSchema, {
    resourceLogs: [{ resource: { attributes: [...resource] }, scopeLogs: [{ scope: { name: OTLP_SCOPE_NAME }, logRecords }] }],
  });
}

const INT64_MAX = (1n << 63n) - 1n;

/** One attribute per field of `message`, named after the proto field, read by reflection. */
function attributesOf(desc: DescMessage, message: Record<string, unknown>): KeyValue[] {
  const out: KeyValue[] = [];
  for (const field of desc.fields) {
    const value = valueOf(field, message[field.localName]);
    if (value !== undefined) out.push({ key: field.name, value } as KeyValue);
  }
  return out;
}

function valueOf(field: DescField, value: unknown): AnyValue | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar, value);
    case "enum": {
      const name = field.enum.values.find((v) => v.number === value)?.name;
      return name === undefined ? anyValue("intValue", BigInt(value as number)) : anyValue("stringValue", name);
    }
    case "message":
      if (value === undefined) return undefined;
      if (field.message.typeName === "google.protobuf.Timestamp") {
        return anyValue("intValue", timestampNanos(value as { seconds: bigint; nanos: number }));
      }
      return anyValue("kvlistValue", { values: attributesOf(field.message, value as Record<string, unknown>) });
    case "list":
      if (field.listKind !== "message") return undefined;
      return anyValue("arrayValue", {
        values: (value as Array<Record<string, unknown>>).map((item) =>
          anyValue("kvlistValue", { values: attributesOf(field.message, item) }),
        ),
      });
    default:
      return undefined;
  }
}

function scalarValue(scalar: ScalarType, value: unknown): AnyValue {
  switch (scalar) {
    case ScalarType.STRING:
      return anyValue("stringValue", value as string);
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return anyValue("doubleValue", value as number);
    case ScalarType.BOOL:
      return anyValue("boolValue", value as boolean);
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const big = value as bigint;
      // OTLP ints are signed 64-bit: a larger counter goes as its decimal string, not wrapped.
      return big > INT64_MAX ? anyValue("stringValue", big.toString()) : anyValue("intValue", big);
    }
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return anyValue("intValue", value as bigint);
    default:
      return anyValue("intValue", BigInt(value as number));
  }
}

function anyValue(kind: string, value: unknown): AnyValue {
  return { value: { case: kind, value } } as unknown as AnyValue;
}

function timestampNanos(ts: { seconds: bigint; nanos: number } | undefined): bigint {
  if (ts === undefined) return 0n;
  return ts.seconds * 1_000_000_000n + BigInt(ts.nanos);
}

function resourceValue(key: string, value: unknown): AnyValue {
  if (typeof value === "string") return anyValue("stringValue", value);
  if (typeof value === "boolean") return anyValue("boolValue", value);
  if (typeof value === "number" && Number.isFinite(value)) {
    return Number.isInteger(value) ? anyValue("intValue", BigInt(value)) : anyValue("doubleValue", value);
  }
  throw new ArgumentError(`resource attribute ${JSON.stringify(key)} must be a string, a finite number or a boolean, got ${String(value)}`);
}
