import { create, fromBinary, fromJsonString, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { after, suite, test } from "node:test";
import { isArgumentError } from "../../src/errors.ts";
import {
  type ExportLogsServiceRequest,
  ExportLogsServiceRequestSchema,
} from "../../src/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import type { AnyValue, KeyValue } from "../../src/gen/opentelemetry/proto/common/v1/common_pb.ts";
import { AnalyticsStatsSchema, StreamType } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { OTLP_EVENT_NAME, OtlpReporter, type OtlpReporterOptions } from "../../src/reporters/otlp-reporter.ts";
import { makeBatch, startServer, type TestServer } from "./helpers.ts";

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
});

/** A local OTLP/HTTP receiver: decodes /v1/logs bodies by their content type, as a collector does. */
async function receiver(): Promise<TestServer & { requests: ExportLogsServiceRequest[] }> {
  const requests: ExportLogsServiceRequest[] = [];
  const s = await startServer((req, res, body) => {
    if (req.url !== "/v1/logs" || req.method !== "POST") {
      res.writeHead(404).end();
      return "404";
    }
    const type = req.headers["content-type"];
    try {
      requests.push(
        type === "application/json"
          ? fromJsonString(ExportLogsServiceRequestSchema, body.toString("utf8"))
          : fromBinary(ExportLogsServiceRequestSchema, body),
      );
    } catch (err) {
      res.writeHead(400).end(String(err));
      return "bad";
    }
    res.writeHead(200, { "content-type": type }).end(type === "application/json" ? "{}" : "");
    return "ok";
  });
  cleanups.push(() => s.close());
  return Object.assign(s, { requests, url: s.url.replace(/\/stats$/, "/v1/logs") });
}

function reporter(options: OtlpReporterOptions): OtlpReporter {
  const r = new OtlpReporter(options);
  cleanups.push(() => r.close(0));
  return r;
}

/** Reads an AnyValue back as plain JS: strings, numbers, bigints, arrays and objects. */
function plain(value: AnyValue | undefined): unknown {
  const v = value?.value;
  switch (v?.case) {
    case "arrayValue":
      return v.value.values.map(plain);
    case "kvlistValue":
      return attrs(v.value.values);
    default:
      return v?.value;
  }
}

function attrs(list: readonly KeyValue[]): Record<string, unknown> {
  return Object.fromEntries(list.map((kv) => [kv.key, plain(kv.value)]));
}

suite("OtlpReporter", () => {
  for (const format of ["protobuf", "json"] as const) {
    test(`exports each stat as one ${format} log record with the stat's time, event name and every field as attributes`, async () => {
      const rx = await receiver();
      const r = reporter({ url: rx.url, format, node: "SFU_1", resource: { "deployment.environment": "test" } });
      const stats = makeBatch(7, 2);
      stats[0]!.streams[0]!.primaryBytes = 2n ** 64n - 1n; // a coalesced sum past int64
      r.reportBytes(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats })));
      r.report(makeBatch(8, 3));
      await r.flush();
      assert.equal(rx.requests.length, 1, "both batches coalesced into one request");
      assert.equal(rx.received[0]!.headers["content-type"], format === "json" ? "application/json" : "application/x-protobuf");
      const [resourceLogs] = rx.requests[0]!.resourceLogs;
      assert.deepEqual(attrs(resourceLogs!.resource!.attributes), {
        "service.name": "statsworker",
        "livekit.node": "SFU_1",
        "deployment.environment": "test",
      });
      const scope = resourceLogs!.scopeLogs[0]!;
      assert.equal(scope.scope?.name, "statsworker-wasm");
      const records = scope.logRecords;
      assert.equal(records.length, 5);
      const first = records[0]!;
      assert.equal(first.eventName, OTLP_EVENT_NAME);
      assert.equal(first.timeUnixNano, (1_700_000_000_000n + 70_000n) * 1_000_000n);
      assert.ok(first.observedTimeUnixNano > first.timeUnixNano);
      const a = attrs(first.attributes);
      assert.equal(a["room_id"], "RM_room");
      assert.equal(a["room_name"], "room ü");
      assert.equal(a["participant_id"], "PA_alice");
      assert.equal(a["track_id"], "TR_7_0");
      assert.equal(a["kind"], StreamType[StreamType.UPSTREAM]);
      assert.equal(a["node"], "SFU_1");
      assert.match(String(a["id"]), /^AS_[0-9A-Za-z]{12}$/);
      assert.equal(a["score"], 4.5);
      assert.equal(a["time_stamp"], first.timeUnixNano);
      const [stream] = a["streams"] as Array<Record<string, unknown>>;
      assert.equal(stream!["primary_packets"], 107n);
      assert.equal(stream!["primary_bytes"], (2n ** 64n - 1n).toString(), "a uint64 over int64 goes as a string");
      assert.equal(stream!["retransmit_bytes"], 2n ** 63n - 1n);
      assert.equal(stream!["rtt"], 42n);
      assert.deepEqual(stream!["video_layers"], [{ layer: 2n, packets: 50n, bytes: 9_000_000_000n, frames: 30n }]);
      assert.equal(attrs(records[3]!.attributes)["kind"], "DOWNSTREAM");
      assert.deepEqual(
        records.map((rec) => attrs(rec.attributes)["track_id"]),
        ["TR_7_0", "TR_7_1", "TR_8_0", "TR_8_1", "TR_8_2"],
      );
      const c = r.counters;
      assert.deepEqual([c.sent, c.sentStats, c.requests, c.bytesSent], [2, 5, 1, rx.received[0]!.body.length]);
    });
  }

  test("sends OTLP JSON with enums as numbers and lowerCamelCase names", async () => {
    const rx = await receiver();
    const r = reporter({ url: rx.url, format: "json" });
    r.report(makeBatch(1, 1));
    await r.flush();
    const json = JSON.parse(rx.received[0]!.body.toString("utf8")) as Record<string, unknown>;
    const record = (json["resourceLogs"] as any)[0].scopeLogs[0].logRecords[0];
    assert.equal(typeof record.timeUnixNano, "string");
    assert.equal(record.eventName, OTLP_EVENT_NAME);
    assert.ok(Array.isArray(record.attributes));
  });

  test("retries a 503 with Retry-After and delivers every record once", async () => {
    let n = 0;
    const requests: ExportLogsServiceRequest[] = [];
    const s = await startServer((_req, res, body) => {
      if (n++ < 2) {
        res.writeHead(503, { "retry-after": "0" }).end();
        return "503";
      }
      requests.push(fromBinary(ExportLogsServiceRequestSchema, body));
      res.writeHead(200).end();
      return "ok";
    });
    cleanups.push(() => s.close());
    const r = reporter({ url: s.url, initialRetryDelayMs: 5, minRetryDelayMs: 5 });
    r.report(makeBatch(1, 4));
    await r.flush();
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.resourceLogs[0]!.scopeLogs[0]!.logRecords.length, 4);
    assert.equal(r.counters.retries, 2);
  });

  test("rejects a missing url, an unknown format and a resource value that is not a scalar", () => {
    for (const options of [
      {},
      { url: "http://127.0.0.1:4318/v1/logs", format: "xml" },
      { url: "http://127.0.0.1:4318/v1/logs", resource: { bad: {} } },
      { url: "http://127.0.0.1:4318/v1/logs", resource: { bad: NaN } },
    ]) {
      assert.throws(() => new OtlpReporter(options as OtlpReporterOptions), (err: unknown) => isArgumentError(err), JSON.stringify(options));
    }
  });
});
