/**
 * End to end over HTTP: `ingestBatch` -> wasm engine -> `HttpReporter` (protobuf) -> a receiver
 * in a child process on 127.0.0.1, against the same windows into a bare `reportBytes` sink in this
 * process. Checks that every stat arrived exactly once (distinct ids = stats received = stats
 * reported) and prints stats/s for both and their ratio.
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
import { HttpReporter } from "../../src/reporters/http-reporter.ts";
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

let sinkStats = 0;
const bare = await run({ report: () => {}, reportBytes: (b) => void (sinkStats += b.length) });

const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("receiver.ts", import.meta.url))], {
  stdio: ["ignore", "pipe", "inherit"],
});
const [portLine] = (await once(child.stdout!, "data")) as [Buffer];
const url = `http://127.0.0.1:${portLine.toString().trim()}/stats`;
const http = new HttpReporter({ url, node: "SFU_bench" });
const e2e = await run(http);
const got = (await (await fetch(url)).json()) as { stats: number; requests: number; distinctIds: number };
child.kill("SIGTERM");

const c = http.counters;
const statsIn = windows * corpus.statsPerWindow;
const exact = got.stats === c.stats && got.distinctIds === c.stats && c.dropped === 0;
console.log(`e2e http ${values.shape}, ${windows} windows, ${statsIn} stats in, Node ${process.version}`);
console.log(`  bare reportBytes sink   ${((statsIn / bare.ms) * 1000 / 1e6).toFixed(2)} M stats/s in  (${(bare.ms / windows).toFixed(2)} ms/window)`);
console.log(`  HttpReporter -> child   ${((statsIn / e2e.ms) * 1000 / 1e6).toFixed(2)} M stats/s in  (${(e2e.ms / windows).toFixed(2)} ms/window)`);
console.log(`  ratio                   ${(bare.ms / e2e.ms).toFixed(2)}x of the bare sink`);
console.log(`  heap growth             ${e2e.heapPerStat.toFixed(1)} B/stat in (gc ${globalThis.gc === undefined ? "unavailable" : "before"})`);
console.log(`  delivered               ${got.stats} stats in ${got.requests} requests (incl. warm-up), ${got.distinctIds} distinct ids; reporter: ${c.stats} stats, ${c.dropped} dropped`);
console.log(`  exactly once            ${exact ? "yes" : "NO"}`);
if (!exact) process.exitCode = 1;
