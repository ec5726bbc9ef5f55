/**
 * End to end over HTTP: `ingestBatch` -> wasm engine -> `HttpReporter` (protobuf) -> a receiver
 * in a child process on 127.0.0.1, against the same windows into a bare `reportBytes` sink in this
 * process. The two services run window by window in alternation, so a shared machine's load hits
 * both alike. Checks that every stat arrived exactly once (distinct ids = stats received = stats
 * reported, none dropped), and prints stats/s for both, their ratio and the JS heap growth.
 *
 * Run: `npm run bench:e2e -- [--windows N] [--shape w2|w3]` (defaults 50, w2).
 *
 * @module
 */
import { PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import { loadEngine } from "../../src/engine/load-engine.ts";
import type { TelemetryReporter } from "../../src/reporter.ts";
import { HttpReporter } from "../../src/reporters/http-reporter.ts";
import { TelemetryService } from "../../src/telemetry-service.ts";
import { type FlushCorpus, w2, w3 } from "../corpus.ts";
import { exactlyOnce, startReceiver } from "./harness.ts";

const { values } = parseArgs({
  options: { windows: { type: "string", default: "50" }, shape: { type: "string", default: "w2" } },
});
const windows = Number(values.windows);
const corpus: FlushCorpus = values.shape === "w3" ? w3() : w2();

async function newService(reporter: TelemetryReporter): Promise<TelemetryService> {
  const service = new TelemetryService({ engine: await loadEngine("wasm"), reporter });
  for (const p of corpus.participants) {
    service.participantJoined({ sid: p.roomId, name: p.roomName }, { sid: p.participantId, identity: p.identity });
  }
  return service;
}

const receiver = await startReceiver();
const url = receiver.url;

let sinkBytes = 0;
const bare = await newService({ report: () => {}, reportBytes: (b) => void (sinkBytes += b.length) });
const http = new HttpReporter({ url, node: "SFU_bench" });
const e2e = await newService(http);

// One warm-up window each, not timed.
for (const s of [bare, e2e]) {
  s.ingestBatch(corpus.windows[0]!.batch);
  s.flush();
}
await http.flush();

let bareMs = 0;
let e2eMs = 0;
let e2eSyncMs = 0;
for (let i = 0; i < windows; i++) {
  const batch = corpus.windows[i % corpus.windows.length]!.batch;
  let t = performance.now();
  bare.ingestBatch(batch);
  bare.flush();
  bareMs += performance.now() - t;

  t = performance.now();
  e2e.ingestBatch(batch);
  e2e.flush();
  e2eSyncMs += performance.now() - t;
  // A window every 10 s in production: delivery of one finishes long before the next.
  await http.flush();
  e2eMs += performance.now() - t;
}

// Heap in a pass of its own, as `npm run bench` accounts it: one full collection, then
// consecutive windows, the growth of the used heap over them. A full collection before every
// window would slow the timed code down (it did, by 2-3x here), and measured one by one it also
// counts what V8 allocates re-optimising code the collection discarded, not what a window costs.
// At most about 200 000 stats, so the young generation (16 MiB by default) does not fill up.
const heapWindows = Math.max(1, Math.min(10, windows, Math.floor(200_000 / corpus.statsPerWindow)));
let collections = 0;
const observer = new PerformanceObserver((list) => void (collections += list.getEntries().length));
globalThis.gc?.();
await new Promise((resolve) => setTimeout(resolve, 10));
observer.observe({ entryTypes: ["gc"] });
const heap0 = v8.getHeapStatistics().used_heap_size;
for (let i = 0; i < heapWindows; i++) {
  e2e.ingestBatch(corpus.windows[i % corpus.windows.length]!.batch);
  e2e.flush();
  await http.flush();
}
const heapGrowth = v8.getHeapStatistics().used_heap_size - heap0;
// gc entries arrive after the current task
await new Promise((resolve) => setTimeout(resolve, 10));
observer.disconnect();
const got = await receiver.counts();
receiver.stop();
await bare.stop();
await e2e.stop();

const c = http.counters;
const statsIn = windows * corpus.statsPerWindow;
const rate = (ms: number): string => `${((statsIn / ms) * 1000 / 1e6).toFixed(2)} M stats/s in (${(ms / windows).toFixed(2)} ms/window)`;
const exact = exactlyOnce(got, c);
console.log(`e2e http ${values.shape}: ${windows} windows, ${statsIn} stats in, ${corpus.statsPerWindow / 2} out per window, Node ${process.version}`);
console.log(`  bare reportBytes sink      ${rate(bareMs)}`);
console.log(`  HttpReporter -> child      ${rate(e2eMs)}`);
console.log(`    ingest + flush + stamp   ${(e2eSyncMs / windows).toFixed(2)} ms/window; the rest is the request and its answer`);
console.log(`  ratio                      ${(bareMs / e2eMs).toFixed(2)}x the bare sink`);
const heapNote = globalThis.gc === undefined ? " (run with --expose-gc)" : collections > 0 ? ` (NOT VALID: ${collections} collections ran)` : ", no collection in between";
console.log(`  JS heap growth             ${(heapGrowth / (heapWindows * corpus.statsPerWindow)).toFixed(1)} B per stat in, over ${heapWindows} more windows from a collected heap${heapNote}`);
console.log(`  delivered                  ${got.stats} stats in ${got.requests} requests (warm-up included), ${got.distinctIds} distinct ids; reporter: ${c.stats} stats, ${c.dropped} dropped`);
console.log(`  exactly once               ${exact ? "yes" : "NO"}`);
if (!exact) process.exitCode = 1;
