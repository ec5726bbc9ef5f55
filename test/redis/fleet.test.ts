// A fleet end to end, every part a real process: `statsworker simulate --redis` nodes append to one
// stream of a real redis-server, `statsworker collect` consumers of one group write NDJSON. Faults:
// a collector SIGKILLed with entries pending, Redis killed and restarted (append-only file on).
// The check is always the same: de-duplicated by id, the collectors wrote exactly the stats the
// nodes reported (each node also writes them with --out), and nothing is left pending.
import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, suite, test } from "node:test";
import { AnalyticsStatSchema, type AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { killAll, readNdjson, startCli, testClient, waitUntil, type CliProcess } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

const WAIT_MS = 40_000;
let redis: RedisServer;
let client: Awaited<ReturnType<typeof testClient>>;
let dir: string;
const procs: CliProcess[] = [];

before(async () => {
  redis = await startRedis({ persistent: true });
  client = await testClient(redis.url);
  dir = await mkdtemp(join(tmpdir(), "statsworker-fleet-"));
});
after(async () => {
  await killAll(procs);
  client.destroy();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A fleet node: a realtime simulation of `windows` 50 ms windows, its reported stats also in `out`. */
function node(stream: string, seed: number, out: string, windows = 20): CliProcess {
  const p = startCli([
    "simulate", "--redis", redis.url, "--stream", stream, "--out", out, "--seed", String(seed),
    "--participants", "30", "--realtime", "--flush-interval", "50ms", "--windows", String(windows),
  ]);
  procs.push(p);
  return p;
}

function collector(stream: string, consumer: string, out: string, options: { readStdout?: boolean } = {}): CliProcess {
  const p = startCli(
    ["collect", "--redis", redis.url, "--stream", stream, "--group", "g", "--consumer", consumer, "--out", out, "--claim-idle-ms", "300"],
    options,
  );
  procs.push(p);
  return p;
}

/** A stat's content without the fields the reporter stamps. */
function content(stat: AnalyticsStat): string {
  return toJsonString(AnalyticsStatSchema, { ...stat, id: "", node: "" });
}

function parseLines(text: string): AnalyticsStat[] {
  return text.split("\n").filter((l) => l !== "").map((l) => fromJsonString(AnalyticsStatSchema, l));
}

async function collected(files: readonly string[], extra: AnalyticsStat[] = []): Promise<Map<string, AnalyticsStat>> {
  const byId = new Map<string, AnalyticsStat>();
  for (const stat of [...(await Promise.all(files.map(readNdjson))).flat(), ...extra]) {
    const seen = byId.get(stat.id);
    // a duplicate (at-least-once) must be the same stat
    if (seen !== undefined) assert.equal(content(seen), content(stat), `two different stats with id ${stat.id}`);
    byId.set(stat.id, stat);
  }
  return byId;
}

async function expectNodes(nodes: readonly CliProcess[]): Promise<void> {
  for (const n of nodes) {
    const code = await n.exited;
    assert.equal(code, 0, n.stderr());
    // the node's own count: everything reported was sent, nothing dropped
    assert.match(n.stderr() + n.stdout().toString(), /redis out .* 0 stats dropped/);
  }
}

/** Waits until the collectors hold as many distinct ids as the nodes reported stats, then compares. */
async function expectEverything(nodeOuts: readonly string[], files: readonly string[], extra: () => AnalyticsStat[] = () => []): Promise<void> {
  const reported = (await Promise.all(nodeOuts.map(async (f) => parseLines(await readFile(f, "utf8"))))).flat();
  assert.ok(reported.length > 0);
  await waitUntil(async () => (await collected(files, extra())).size >= reported.length, `${reported.length} distinct stats at the collectors`, WAIT_MS);
  const got = [...(await collected(files, extra())).values()].map(content).sort();
  assert.deepEqual(got, reported.map(content).sort());
}

async function stopCollectors(collectors: readonly CliProcess[], stream: string): Promise<void> {
  for (const c of collectors) c.child.kill("SIGTERM");
  for (const c of collectors) assert.equal(await c.exited, 0, c.stderr());
  const pending = (await client.xPending(stream, "g")) as { pending: number };
  assert.equal(Number(pending.pending), 0, "nothing left pending in the group");
}

suite("a fleet through one Redis stream", () => {
  test("two nodes into one stream, two collectors in a group: every stat comes out", async () => {
    const stream = "fleet:plain";
    const outs = [join(dir, "p-c1.ndjson"), join(dir, "p-c2.ndjson")];
    const collectors = [collector(stream, "c1", outs[0]!), collector(stream, "c2", outs[1]!)];
    const nodeOuts = [join(dir, "p-n1.ndjson"), join(dir, "p-n2.ndjson")];
    const nodes = [node(stream, 1, nodeOuts[0]!), node(stream, 2, nodeOuts[1]!)];
    await expectNodes(nodes);
    await expectEverything(nodeOuts, outs);
    await stopCollectors(collectors, stream);
  });

  test("a collector SIGKILLed with entries pending: a new consumer claims them and nothing is lost", async () => {
    const stream = "fleet:kill";
    // nobody reads c1's stdout: once the pipe is full its writes block, so it holds entries it
    // read but never acknowledged, as a collector that hangs or dies mid-write does
    const stuck = collector(stream, "c1", "-", { readStdout: false });
    const nodeOut = join(dir, "k-n1.ndjson");
    const n1 = node(stream, 3, nodeOut);
    await waitUntil(async () => {
      const range = (await client.xPendingRange(stream, "g", "-", "+", 10, { consumer: "c1" }).catch(() => [])) as Array<{ millisecondsSinceLastDelivery: number }>;
      return range.length > 0 && range[0]!.millisecondsSinceLastDelivery >= 300;
    }, "c1 to hold an entry unacknowledged for 300 ms", WAIT_MS);
    stuck.child.kill("SIGKILL");
    // whatever c1 managed to write before it died is output too; read before the exit event, on
    // which Node resumes (discards) a child's unread stdout
    const stuckText: Buffer[] = [];
    stuck.child.stdout!.on("data", (d: Buffer) => stuckText.push(d));
    await new Promise((resolve) => stuck.child.stdout!.once("close", resolve));
    await stuck.exited;
    const leftByC1 = (await client.xPendingRange(stream, "g", "-", "+", 1000, { consumer: "c1" })) as unknown[];
    assert.ok(leftByC1.length > 0, "c1 died with entries pending");

    const out = join(dir, "k-c3.ndjson");
    const fresh = collector(stream, "c3", out);
    await expectNodes([n1]);
    const partial = parseLines(
Buffer.concat(stuckText).toString("utf8").replace(/[^\n]*$/, ""));
    await expectEverything([nodeOut], [out], () => partial);
    await stopCollectors([fresh], stream);
    assert.match(fresh.stderr(), /claimed idle entries/);
  });

  test("two nodes and three collectors, one collector killed and Redis restarted mid-run: every stat comes out", async () => {
    const stream = "fleet:chaos";
    const outs = [join(dir, "x-c1.ndjson"), join(dir, "x-c2.ndjson"), join(dir, "x-c3.ndjson")];
    const collectors = outs.map((o, i) => collector(stream, `c${i + 1}`, o));
    const nodeOuts = [join(dir, "x-n1.ndjson"), join(dir, "x-n2.ndjson")];
    const nodes = [node(stream, 4, nodeOuts[0]!, 40), node(stream, 5, nodeOuts[1]!, 40)];
    await waitUntil(async () => (await readNdjson(outs[0]!)).length > 0, "c1 to write its first lines", WAIT_MS);
    collectors[0]!.child.kill("SIGKILL");
    await collectors[0]!.exited;
    await redis.kill();
    // the nodes notice and keep reporting into their queues
    await waitUntil(() => nodes.every((n) => /lost its redis connection/.test(n.stderr())), "both nodes to lose Redis", WAIT_MS);
    await redis.start();
    await expectNodes(nodes);
    // c1's file counts: what it wrote before it died is delivered (its unacknowledged rest is claimed)
    await expectEverything(nodeOuts, outs);
    await stopCollectors(collectors.slice(1), stream);
  });
});
