// registerTelemetryMetrics: a real TelemetryService and reporter, scraped over HTTP on 127.0.0.1
// in Prometheus's text format, the way a Prometheus server reads it.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, suite, test } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { Registry, register as globalRegistry } from "prom-client";
import {
  AnalyticsStatSchema,
  StreamType,
  TelemetryService,
  callbackReporter,
  isArgumentError,
  loadEngine,
  type TelemetryCounters,
} from "../../src/index.ts";
import { newCounters } from "../../src/counters.ts";
import { registerTelemetryMetrics } from "../../src/prometheus/index.ts";
import { snakeCase } from "../../src/prometheus/register-telemetry-metrics.ts";
import { stat } from "../helpers.ts";

/** Parses Prometheus text format into `name{labels}` -> value, and the HELP / TYPE lines. */
function parseExposition(text: string): { samples: Map<string, number>; help: Map<string, string>; type: Map<string, string> } {
  const samples = new Map<string, number>();
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      (meta[1] === "HELP" ? help : type).set(meta[2]!, meta[3]!);
      continue;
    }
    const sample = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(sample, `not a sample line: ${JSON.stringify(line)}`);
    samples.set(sample[1]!, Number(sample[2]));
  }
  return { samples, help, type };
}

/** A service that has seen every kind of event each TelemetryCounters field counts. */
async function busyService() {
  let fail = false;
  const reporter = callbackReporter(() => {
    if (fail) throw new Error("reporter down");
  });
  const service = new TelemetryService({ engine: await loadEngine("ts"), reporter });
  service.participantJoined({ sid: "RM_1", name: "r" }, { sid: "PA_1", identity: "a" });
  service.participantJoined({ sid: "RM_1", name: "r" }, { sid: "PA_2", identity: "b" });
  service.trackStats("RM_1", "PA_1", "TR_1", StreamType.UPSTREAM, stat({ score: 4, streams: [{ primaryPackets: 1 }] }));
  service.trackStats("RM_1", "PA_1", "TR_2", StreamType.DOWNSTREAM, stat({ streams: [{ nacks: 2 ** 31 }] })); // invalid
  service.trackStats("RM_1", "PA_9", "TR_1", StreamType.UPSTREAM, stat()); // no worker: dropped
  service.trackStats("RM_1", "PA_2", "TR_1", StreamType.UPSTREAM, toBinary(AnalyticsStatSchema, stat({ score: 1 })));
  assert.throws(() => service.trackStats("RM_1", "PA_2", "TR_3", StreamType.UPSTREAM, new Uint8Array([0x0a, 0x05])));
  service.flush();
  fail = true;
  service.trackStats("RM_1", "PA_2", "TR_1", StreamType.UPSTREAM, stat());
  service.flush();
  return { service, reporter };
}

suite("registerTelemetryMetrics()", () => {
  let server: Server;
  let url: string;
  let scrape: Registry | undefined;
  let counters: TelemetryCounters;

  before(async () => {
    const { service, reporter } = await busyService();
    counters = { ...service.counters };
    scrape = registerTelemetryMetrics(service, { reporters: { callback: reporter } });
    server = createServer((_req, res) => {
      scrape!.metrics().then(
        (body) => {
          res.writeHead(200, { "content-type": scrape!.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("every TelemetryCounters field is a counter <prefix><snake_case>_total with the service's value", async () => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const { samples, type, help } = parseExposition(await res.text());
    const fields = Object.keys(newCounters()) as (keyof TelemetryCounters)[];
    assert.ok(fields.length >= 7);
    for (const field of fields) {
      const name = `statsworker_${snakeCase(field)}_total`;
      assert.equal(type.get(name), "counter", name);
      assert.equal(samples.get(name), counters[field], name);
      assert.doesNotMatch(help.get(name) ?? "", /^TelemetryCounters\./, `${name} has no help text of its own`);
    }
    // the names the issue spells out, literally, and that every kind of event happened
    assert.equal(samples.get("statsworker_stats_in_total"), 4);
    assert.equal(samples.get("statsworker_invalid_total"), 1);
    assert.equal(samples.get("statsworker_dropped_total"), 1);
    assert.equal(samples.get("statsworker_malformed_total"), 1);
    assert.equal(samples.get("statsworker_reporter_errors_total"), 1);
    assert.ok(samples.get("statsworker_stats_out_total")! >= 3);
    assert.ok(samples.get("statsworker_reports_total")! >= 2);
  });

  test("live workers are a gauge", async () => {
    const { samples, type } = parseExposition(await (await fetch(url)).text());
    assert.equal(type.get("statsworker_workers"), "gauge");
    assert.equal(samples.get("statsworker_workers"), 2);
  });

  test("a reporter's counters are exported with a reporter label; queued is a gauge", async () => {
    const { samples, type } = parseExposition(await (await fetch(url)).text());
    assert.equal(type.get("statsworker_reporter_batches_total"), "counter");
    assert.equal(samples.get('statsworker_reporter_batches_total{reporter="callback"}'), 3);
    assert.equal(samples.get('statsworker_reporter_failures_total{reporter="callback"}'), 1);
    assert.equal(samples.get('statsworker_reporter_sent_total{reporter="callback"}'), 2);
    assert.equal(type.get("statsworker_reporter_queued"), "gauge");
    assert.equal(samples.get('statsworker_reporter_queued{reporter="callback"}'), 0);
    const { help } = parseExposition(await (await fetch(url)).text());
    for (const [name, text] of help) {
      if (name.startsWith("statsworker_reporter_")) assert.doesNotMatch(text, /^Reporter counter /, `${name} has no help text of its own`);
    }
  });
});

suite("registerTelemetryMetrics() values and options", () => {
  test("values are read at scrape time, not at registration", async () => {
    const service = new TelemetryService({ engine: await loadEngine("ts"), reporter: callbackReporter(() => {}) });
    const registry = registerTelemetryMetrics(service);
    const read = async (name: string) => parseExposition(await registry.metrics()).samples.get(name);
    assert.equal(await read("statsworker_stats_in_total"), 0);
    assert.equal(await read("statsworker_workers"), 0);
    service.participantJoined({ sid: "RM", name: "r" }, { sid: "PA", identity: "p" });
    service.trackStats("RM", "PA", "TR", StreamType.UPSTREAM, stat());
    service.trackStats("RM", "PA", "TR", StreamType.UPSTREAM, stat());
    assert.equal(await read("statsworker_stats_in_total"), 2);
    assert.equal(await read("statsworker_workers"), 1);
    // scraping twice does not double the counter
    assert.equal(await read("statsworker_stats_in_total"), 2);
  });

  test("a given registry is used and returned; the prefix applies to every name", async () => {
    const service = new TelemetryService({ engine: await loadEngine("ts"), reporter: callbackReporter(() => {}) });
    const registry = new Registry();
    assert.equal(registerTelemetryMetrics(service, { registry, prefix: "sfu_" }), registry);
    const names = registry.getMetricsAsArray().map((m) => m.name);
    assert.ok(names.includes("sfu_stats_in_total") && names.includes("sfu_workers"), names.join(" "));
    assert.ok(names.every((n) => n.startsWith("sfu_")));
    assert.equal(globalRegistry.getSingleMetric("sfu_stats_in_total"), undefined);
  });

  test("registering the same names twice is an ArgumentError that leaves the registry as it was", async () => {
    const service = new TelemetryService({ engine: await loadEngine("ts"), reporter: callbackReporter(() => {}) });
    const registry = registerTelemetryMetrics(service);
    const before = registry.getMetricsAsArray().length;
    const reporter = callbackReporter(() => {});
    assert.throws(() => registerTelemetryMetrics(service, { registry, reporters: { r: reporter } }), (err) =>
      isArgumentError(err) && /statsworker_stats_in_total is already registered/.test(err.message),
    );
    assert.equal(registry.getMetricsAsArray().length, before);
    assert.equal(registry.getSingleMetric("statsworker_reporter_batches_total"), undefined);
  });

  test("bad arguments are ArgumentErrors naming the value", async () => {
    const service = new TelemetryService({ engine: await loadEngine("ts"), reporter: callbackReporter(() => {}) });
    assert.throws(() => registerTelemetryMetrics(service, { prefix: "9bad-" }), (err) => isArgumentError(err) && /"9bad-"/.test(err.message));
    assert.throws(() => registerTelemetryMetrics({} as TelemetryService), isArgumentError);
    assert.throws(
      () => registerTelemetryMetrics(service, { reporters: { broken: {} as never } }),
      (err) => isArgumentError(err) && /"broken"/.test(err.message),
    );
  });
});
