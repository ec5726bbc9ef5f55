/**
 * Stats per second through one Redis stream, end to end:
 * `node --import tsx bench/redis-stream.ts [--participants N] [--windows N] [--collectors N]`.
 *
 * Starts a redis-server (append-only file, fsync always, as a fleet would run it) on a free port
 * of 127.0.0.1, and N `statsworker collect` processes in one group writing NDJSON files (each
 * write synced before its XACK). In this process a wasm TelemetryService of N participants x 4
 * tracks (2 stats per track per window) flushes W windows back to back into a
 * RedisStreamReporter. Prints how long the node took to get every batch acknowledged by Redis,
 * and how long until the collectors had written and acknowledged every entry, as stats/s; then
 * the reporter alone: as many stats, pre-encoded as 4-stat worker batches, into reportBytes.
 * Stat generation is outside the timing; collector start-up too.
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadEngine } from "../src/engine/load-engine.ts";
import { AnalyticsStatsSchema, type AnalyticsStat } from "../src/gen/livekit/livekit_analytics_pb.ts";
import { RedisStreamReporter } from "../src/redis/redis-stream-reporter.ts";
import { SyntheticSfu } from "../src/sim/synthetic-sfu.ts";
import { TelemetryService } from "../src/telemetry-service.ts";
import { startCli, testClient, waitUntil, type CliProcess } from "../test/redis/helpers.ts";
import { startRedis } from "../test/redis/redis-server.ts";

const { values } = parseArgs({
  options: {
    participants: { type: "string", default: "2000" },
    windows: { type: "string", default: "10" },
    collectors: { type: "string", default: "1" },
  },
});
const participants = Number(values.participants);
const windows = Number(values.windows);
const collectorCount = Number(values.collectors);

const redis = await startRedis({ persistent: true });
const dir = await mkdtemp(join(os.tmpdir(), "statsworker-bench-redis-"));
const client = await testClient(redis.url);
const stream = "bench:stats";
const collectors: CliProcess[] = [];
try {
  for (let i = 0; i < collectorCount; i++) {
    collectors.push(
      startCli(["collect", "--redis", redis.url, "--stream", stream, "--group", "g", "--consumer", `c${i}`, "--out", join(dir, `c${i}.ndjson`)]),
    );
  }
  // started when every collector is registered in the group (it has issued its first read)
  await waitUntil(async () => {
    const consumers = (await client.xInfoConsumers(stream, "g").catch(() => [])) as unknown[];
    return consumers.length === collectorCount;
  }, "the collectors to join the group", 60_000);

  // generation, not timed
  const sfu = new SyntheticSfu({ participants, participantsPerRoom: 10, tracks: 4, maxTracks: 4, seed: 1, invalidRate: 0 });
  const perWindow: Array<Array<{ p: (typeof sfu.participants)[number]; trackId: string; direction: number; stat: AnalyticsStat }>> = [];
  for (let w = 0; w < windows; w++) {
    const events = [];
    for (const p of sfu.participants) {
      for (const track of p.tracks) {
        for (let k = 0; k < 2; k++) {
          const s = sfu.stat(p, track);
          s.timeStamp = timestampFromMs(Date.UTC(2026, 0, 1) + w * 10_000 + k);
          events.push({ p, trackId: track.trackId, direction: track.direction, stat: s });
        }
      }
    }
    perWindow.push(events);
  }

  const engine = await loadEngine("wasm");
  const reporter = new RedisStreamReporter({ url: redis.url, stream, node: "ND_bench" });
  const service = new TelemetryService({ engine, reporter });
  for (const p of sfu.participants) service.participantJoined({ sid: p.roomId, name: p.roomName }, { sid: p.participantId, identity: p.identity });

  const t0 = performance.now();
  for (const events of perWindow) {
    for (const e of events) service.trackStats(e.p.roomId, e.p.participantId, e.trackId, e.direction, e.stat);
    service.flush();
    // let the reporter send between windows, as the 10 s between real windows would
    await new Promise((resolve) => setImmediate(resolve));
  }
  await reporter.flush();
  const tNode = performance.now() - t0;
  const statsOut = reporter.counters.sentStats;

  await waitUntil(async () => {
    const info = (await client.xInfoGroups(stream)) as Array<Record<string, unknown>>;
    const g = info[0]!;
    return Number(g["pending"]) === 0 && Number(g["lag"]) === 0;
  }, "the collectors to acknowledge everything", 600_000);
  const tAll = performance.now() - t0;
  await reporter.close();
  await service.stop();

  const entries = await client.xLen(stream);

  // The stream alone: the same number of stats as pre-encoded 4-stat worker batches straight into
  // reportBytes (no engine), until Redis has acknowledged them all.
  const raw = new RedisStreamReporter({ url: redis.url, stream: "bench:raw", node: "ND_bench" });
  const batches: Uint8Array[] = [];
  for (const events of perWindow) {
    for (let i = 0; i + 4 <= events.length; i += 8) {
      // the first stat of each track's two, as a worker's window batch of its 4 tracks would be
      const stats = [events[i]!, events[i + 2]!, events[i + 4]!, events[i + 6]!].map((e) => e.stat);
      batches.push(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats })));
    }
  }
  const perFlush = sfu.participants.length * 4;
  const t2 = performance.now();
  for (let i = 0; i < batches.length; i += perFlush) {
    for (let j = i; j < Math.min(batches.length, i + perFlush); j++) raw.reportBytes(batches[j]!);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await raw.flush();
  const tRaw = performance.now() - t2;
  await raw.close();
  let fileBytes = 0;
  for (let i = 0; i < collectorCount; i++) fileBytes += (await stat(join(dir, `c${i}.ndjson`))).size;
  const rate = (n: number, ms: number): string => `${((n / ms) * 1000 / 1e3).toFixed(1)} k stats/s`;
  console.log(`node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, redis-server ${redis.port}`);
  console.log(`${participants} participants x 4 tracks x ${windows} windows: ${statsOut} stats in ${entries} stream entries, ${reporter.counters.bytesSent} bytes`);
  console.log(`reporter alone, engine bytes -> redis (acknowledged): ${tRaw.toFixed(0)} ms, ${rate(raw.counters.sentStats, tRaw)}`);
  console.log(`node: ingest + flush + redis (acknowledged): ${tNode.toFixed(0)} ms, ${rate(statsOut, tNode)}`);
  console.log(`node -> redis -> ${collectorCount} collector(s) (written, synced, acked): ${tAll.toFixed(0)} ms, ${rate(statsOut, tAll)}; ${fileBytes} bytes of NDJSON`);
} finally {
  for (const c of collectors) c.child.kill("SIGTERM");
  await Promise.all(collectors.map((c) => c.exited));
  client.destroy();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
