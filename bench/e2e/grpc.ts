/**
 * End to end over gRPC: `ingestBatch` -> wasm engine -> `AnalyticsRecorderReporter` ->
 * `IngestStats` receiver in a child process on 127.0.0.1, against the same windows into a bare
 * `reportBytes` sink in this process. Checks that every stat arrived exactly once (distinct ids =
 * stats received = stats reported) and prints stats/s for both and their ratio.
 *
 * Run: `npm run bench:e2e:grpc -- [--windows N] [--shape w2|w3]` (defaults 50, w2).
 *
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadEngine } from "../../src/engine/load-engine.ts";
import { AnalyticsStatsSchema } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { AnalyticsRecorderReporter } from "../../src/grpc/index.ts";
import { concatBatches, stampBatch } from "../../src/reporters/stamp.ts";
import type { TelemetryReporter } from "../../src/reporter.ts";
import { TelemetryService } from "../../src/telemetry-service.ts";
import { type FlushCorpus, w2, w3 } from "../corpus.ts";

const { values } = parseArgs({ options: { windows: { type: "string", default: "50" }, shape: { type: "string", default: "w2" } } });
const windows = Number(values.windows);
const corpus: FlushCorpus = values.shape === "w3" ? w3() : w2();

async function run(reporter: TelemetryReporter & { flush?: () => Promise<void> }): Promise<{ ms: number; heapPerStat: number }> {
  const engine = await loadEngine("wasm");
  const service = new TelemetryService({ engine, reporter });
  for (const p of corpus.participants) {
    service.participantJoined({ sid: p.roomId, name: p.roomName }, { sid: p.participantId, identity: p.identity });
  }
  // one warm-up window, not timed
  service.ingestBatch(corpus.windows[0]!.batch);
  service.flush();
  await reporter.flush?.();
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < windows; i++) {
    service.ingestBatch(corpus.windows[i % corpus.windows.length]!.batch);
    service.flush();
    // a window every 10 s in production: delivery of one finishes long before the next
    await reporter.flush?.();
  }
  const ms = performance.now() - t0;
  const heapPerStat = (process.memoryUsage().heapUsed - heap0) / (windows * corpus.statsPerWindow);
  await service.stop();
  return { ms, heapPerStat };
}

let sinkBytes = 0;
let lastWindow: Uint8Array[] = [];
const bare = await run({ report: () => {}, reportBytes: (b) => void (sinkBytes += b.length, lastWindow.push(b.slice())) });
lastWindow = lastWindow.slice(-corpus.participants.length);
// What the receiver does before it can answer a window's stream: decode it with protobuf-es.
const windowBytes = concatBatches(lastWindow.map((b) => stampBatch(b, { node: "SFU_bench" }).bytes));
for (let i = 0; i < 10; i++) fromBinary(AnalyticsStatsSchema, windowBytes); // warm-up
const decodeStart = performance.now();
for (let i = 0; i < 10; i++) fromBinary(AnalyticsStatsSchema, windowBytes);
const decodeMs = (performance.now() - decodeStart) / 10;

const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("grpc-receiver.ts", import.meta.url))], {
  stdio: ["ignore", "pipe", "inherit"],
});
const [portLine] = (await once(child.stdout!, "data")) as [Buffer];
const reporter = new AnalyticsRecorderReporter({ address: `127.0.0.1:${portLine.toString().trim()}`, node: "SFU_bench" });
const e2e = await run(reporter);
child.kill("SIGUSR2");
const [countLine] = (await once(child.stdout!, "data")) as [Buffer];
const got = JSON.parse(countLine.toString()) as { stats: number; messages: number; streams: number; distinctIds: number };
child.kill("SIGTERM");
await reporter.close();

const c = reporter.counters;
const statsIn = windows * corpus.statsPerWindow;
const exact = got.stats === c.stats && got.distinctIds === c.stats && c.dropped === 0;
console.log(`e2e grpc ${values.shape}, ${windows} windows, ${statsIn} stats in, Node ${process.version}`);
console.log(`  bare reportBytes sink              ${((statsIn / bare.ms) * 1000 / 1e6).toFixed(2)} M stats/s in  (${(bare.ms / windows).toFixed(2)} ms/window)`);
console.log(`  AnalyticsRecorderReporter -> child ${((statsIn / e2e.ms) * 1000 / 1e6).toFixed(2)} M stats/s in  (${(e2e.ms / windows).toFixed(2)} ms/window)`);
console.log(`  ratio                              ${(bare.ms / e2e.ms).toFixed(2)}x of the bare sink`);
console.log(`  heap growth                        ${e2e.heapPerStat.toFixed(1)} B/stat in (gc ${globalThis.gc === undefined ? "unavailable" : "before"})`);
console.log(`  receiver-side decode               ${decodeMs.toFixed(2)} ms/window (protobuf-es fromBinary of one stamped window, ${windowBytes.length} bytes, warm, in this process)`);
console.log(`  delivered                          ${got.stats} stats in ${got.messages} messages on ${got.streams} streams (incl. warm-up), ${got.distinctIds} distinct ids; reporter: ${c.stats} stats, ${c.dropped} dropped`);
console.log(`  exactly once                       ${exact ? "yes" : "NO"}`);
if (!exact) process.exitCode = 1;
