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
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadEngine } from "../../src/engine/load-engine.ts";
import type { TelemetryReporter } from "../../src/reporter.ts";
import { HttpReporter } from "../../src/reporters/http-reporter.ts";
import { TelemetryService } from "../../src/telemetry-service.ts";
import { type FlushCorpus, w2, w3 } from "../corpus.ts";

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

const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("receiver.ts", import.meta.url))], {
  stdio: ["ignore", "pipe", "inherit"],
});
const [portLine] = (await once(child.stdout!, "data")) as [Buffer];
const url = `http://127.0.0.1:${portLine.toString().trim()}/stats`;

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

// Heap growth in a pass of its own, each window from a collected heap: a full collection before
// every timed window would slow the timed code down (it did, by 2-3x here).
const heapWindows = Math.min(10, windows);
let heapGrowth = 0;
for (let i = 0; i < heapWindows; i++) {
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  e2e.ingestBatch(corpus.windows[i % corpus.windows.length]!.batch);
  e2e.flush();
  await http.flush();
  heapGrowth += process.memoryUsage().heapUsed - heap0;
}
const got = (await (await fetch(url)).json()) as { stats: number; requests: number; distinctIds: number };
child.kill("SIGTERM");
await bare.stop();
await e2e.stop();

const c = http.counters;
const statsIn = windows * corpus.statsPerWindow;
const rate = (ms: number): string => `${((statsIn / ms) * 1000 / 1e6).toFixed(2)} M stats/s in (${(ms / windows).toFixed(2)} ms/window)`;
const exact = got.stats === c.stats && got.distinctIds === c.stats && c.dropped === 0;
console.log(`e2e http ${values.shape}: ${windows} windows, ${statsIn} stats in, ${corpus.statsPerWindow / 2} out per window, Node ${process.version}`);
console.log(`  bare reportBytes sink      ${rate(bareMs)}`);
console.log(`  HttpReporter -> child      ${rate(e2eMs)}`);
console.log(`    ingest + flush + stamp   ${(e2eSyncMs / windows).toFixed(2)} ms/window; the rest is the request and its answer`);
console.log(`  ratio                      ${(bareMs / e2eMs).toFixed(2)}x the bare sink`);
console.log(`  JS heap growth             ${(heapGrowth / (heapWindows * corpus.statsPerWindow)).toFixed(1)} B per stat in, over ${heapWindows} more windows${globalThis.gc === undefined ? " (run with --expose-gc)" : ", each from a collected heap"}`);
console.log(`  delivered                  ${got.stats} stats in ${got.requests} requests (warm-up included), ${got.distinctIds} distinct ids; reporter: ${c.stats} stats, ${c.dropped} dropped`);
console.log(`  exactly once               ${exact ? "yes" : "NO"}`);
if (!exact) process.exitCode = 1;
