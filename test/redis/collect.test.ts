// `statsworker collect` as a child process against a real redis-server: signals, what is
// acknowledged, usage errors.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, suite, test } from "node:test";
import { isUsageError } from "../../src/cli/args.ts";
import { collect as collectCommand } from "../../src/cli/collect.ts";
import { STATS_FIELD } from "../../src/redis/stream-entry.ts";
import { encodedBatch, killAll, readNdjson, startCli, testClient, waitUntil, type CliProcess } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

let redis: RedisServer;
let client: Awaited<ReturnType<typeof testClient>>;
let dir: string;
const procs: CliProcess[] = [];

before(async () => {
  redis = await startRedis();
  client = await testClient(redis.url);
  dir = await mkdtemp(join(tmpdir(), "statsworker-collect-"));
});
after(async () => {
  await killAll(procs);
  client.destroy();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
});

function collect(stream: string, out: string, extra: string[] = []): CliProcess {
  const p = startCli(["collect", "--redis", redis.url, "--stream", stream, "--group", "g", "--consumer", "c1", "--out", out, ...extra]);
  procs.push(p);
  return p;
}

/** The ids of the entries the group has delivered so far (up to its last-delivered-id), with their stat ids. */
async function deliveredStatIds(stream: string): Promise<Set<string>> {
  const groups = (await client.xInfoGroups(stream)) as Array<Record<string, unknown>>;
  const last = String(groups.find((g) => String(g["name"]) === "g")!["last-delivered-id"]);
  const entries = (await client.xRange(stream, "-", last)) as Array<{ id: unknown; message: Record<string, Buffer> }>;
  const { fromBinary } = await import("@bufbuild/protobuf");
  const { AnalyticsStatsSchema } = await import("../../src/gen/livekit/livekit_analytics_pb.ts");
  const ids = new Set<string>();
  for (const e of entries) for (const s of fromBinary(AnalyticsStatsSchema, e.message[STATS_FIELD]!).stats) ids.add(s.id);
  return ids;
}

async function pending(stream: string): Promise<number> {
  return Number(((await client.xPending(stream, "g")) as { pending: number }).pending);
}

suite("statsworker collect", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`on ${signal} finishes what it holds, acknowledges it and exits 0`, async () => {
      const stream = `collect:${signal}`;
      const out = join(dir, `${signal}.ndjson`);
      for (let b = 0; b < 5; b++) await client.xAdd(stream, "*", { [STATS_FIELD]: Buffer.from(encodedBatch(b, 4)) });
      const p = collect(stream, out);
      await waitUntil(async () => (await readNdjson(out)).length === 20, "the first 20 lines");
      // keep adding while the signal arrives, so the collector is likely mid-read when it stops
      let adding = true;
      let next = 5;
      const adder = (async () => {
        while (adding) await client.xAdd(stream, "*", { [STATS_FIELD]: Buffer.from(encodedBatch(next++, 4)) });
      })();
      await waitUntil(async () => (await readNdjson(out)).length > 40, "lines of entries added meanwhile");
      p.child.kill(signal);
      const code = await p.exited;
      adding = false;
      await adder;
      assert.equal(code, 0, p.stderr());
      assert.equal(await pending(stream), 0, "nothing left unacknowledged");
      // every entry the group handed to it is in the file, and nothing else
      const written = new Set((await readNdjson(out)).map((s) => s.id));
      assert.deepEqual(written, await deliveredStatIds(stream));
    });
  }

  test("appends to an existing file instead of replacing it", async () => {
    const stream = "collect:append";
    const out = join(dir, "append.ndjson");
    await client.xAdd(stream, "*", { [STATS_FIELD]: Buffer.from(encodedBatch(0, 2)) });
    let p = collect(stream, out);
    await waitUntil(async () => (await readNdjson(out)).length === 2, "2 lines");
    p.child.kill("SIGTERM");
    assert.equal(await p.exited, 0);
    await client.xAdd(stream, "*", { [STATS_FIELD]: Buffer.from(encodedBatch(1, 2)) });
    p = collect(stream, out);
    await waitUntil(async () => (await readNdjson(out)).length === 4, "4 lines");
    p.child.kill("SIGTERM");
    assert.equal(await p.exited, 0);
    assert.deepEqual((await readNdjson(out)).map((s) => s.id), ["AS_0_0", "AS_0_1", "AS_1_0", "AS_1_1"]);
  });

  test("writes to stdout with --out -", async () => {
    const stream = "collect:stdout";
    await client.xAdd(stream, "*", { [STATS_FIELD]: Buffer.from(encodedBatch(0, 3)) });
    const p = collect(stream, "-");
    await waitUntil(() => p.stdout().toString().split("\n").length === 4, "3 lines on stdout");
    p.child.kill("SIGTERM");
    assert.equal(await p.exited, 0);
    const ids = p.stdout().toString().trimEnd().split("\n").map((l) => (JSON.parse(l) as { id: string }).id);
    assert.deepEqual(ids, ["AS_0_0", "AS_0_1", "AS_0_2"]);
  });

  for (const [args, message] of [
    [["--stream", "s", "--group", "g", "--consumer", "c"], /--redis is required/],
    [["--redis", "http://127.0.0.1:1", "--stream", "s", "--group", "g", "--consumer", "c"], /--redis must be a redis:\/\//],
    [["--redis", "redis://127.0.0.1:1", "--stream", "s", "--consumer", "c"], /--group is required/],
    [["--redis", "redis://127.0.0.1:1", "--stream", "s", "--group", "g", "--consumer", "c", "--claim-idle-ms", "0"], /--claim-idle-ms must be/],
    [["--redis", "redis://127.0.0.1:1", "--stream", "s", "--group", "g", "--consumer", "c", "--bogus"], /bogus/],
  ] as const) {
    // in process: the usage error is what main turns into one stderr line and exit code 2
    test(`rejects ${args.join(" ")} as a usage error`, async () => {
      await assert.rejects(collectCommand([...args]), (err) => isUsageError(err) && message.test(err.message));
    });
  }
});
