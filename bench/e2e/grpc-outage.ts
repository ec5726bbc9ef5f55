/**
 * How long an `AnalyticsRecorderReporter` with default options takes to catch up after its
 * recorder comes back: an `IngestStats` server on 127.0.0.1 is killed (`forceShutdown`) for each
 * outage length in turn while a batch is reported every 200 ms, then started again on the same
 * port; prints the time from the restart until everything queued was acknowledged, and checks
 * that nothing was lost.
 *
 * Run: `npm run bench:e2e:grpc-outage -- [--outages 3000,10000,20000]` (milliseconds).
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { parseArgs } from "node:util";
import { AnalyticsStatsSchema } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { AnalyticsRecorderReporter, analyticsRecorderServiceDefinition, ingestStatsHandler } from "../../src/grpc/index.ts";

const { values } = parseArgs({ options: { outages: { type: "string", default: "3000,10000,20000" } } });
const outages = values.outages.split(",").map(Number);

const stored = new Set<string>();
let port = 0;
let server: grpc.Server | undefined;

async function start(): Promise<void> {
  const s = new grpc.Server();
  s.addService(analyticsRecorderServiceDefinition, {
    IngestStats: ingestStatsHandler({ onStats: (stats) => void stats.forEach((st) => stored.add(st.id)) }),
  });
  port = await new Promise<number>((resolve, reject) =>
    s.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  server = s;
}

let next = 0;
const reported: string[] = [];
function report(reporter: AnalyticsRecorderReporter): void {
  const id = `AS_outage${String(next++).padStart(6, "0")}`;
  reported.push(id);
  reporter.reportBytes(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: [{ id, roomId: "RM_bench" }] })));
}

await start();
const reporter = new AnalyticsRecorderReporter({ address: `127.0.0.1:${port}` });
console.log(`grpc outage recovery, default options, Node ${process.version}`);
for (const downMs of outages) {
  report(reporter);
  await reporter.flush();
  server!.forceShutdown();
  const timer = setInterval(() => report(reporter), 200);
  await new Promise((resolve) => setTimeout(resolve, downMs));
  clearInterval(timer);
  await start();
  const restarted = performance.now();
  await reporter.flush();
  const c = reporter.counters;
  console.log(
    `  down ${String(downMs).padStart(6)} ms: caught up ${(performance.now() - restarted).toFixed(0).padStart(5)} ms after the restart; ` +
      `${c.retries} retries so far, ${c.dropped} dropped`,
  );
}
await reporter.close();
server!.forceShutdown();
const lost = reported.filter((id) => !stored.has(id));
console.log(`  reported ${reported.length}, stored ${stored.size} distinct, lost ${lost.length}`);
if (lost.length > 0) process.exitCode = 1;
