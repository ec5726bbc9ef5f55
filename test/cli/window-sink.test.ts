// The window sink writes what the workers reported in the output order of compareStats, from
// the encoded batches, whatever order they and their entries came in.
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, suite, test } from "node:test";
import { Output } from "../../src/cli/capture.ts";
import { compareStats } from "../../src/cli/order.ts";
import { WindowSink, type OutputFormat } from "../../src/cli/window-sink.ts";
import { type AnalyticsStat, AnalyticsStatSchema, AnalyticsStatsSchema, StreamType } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { Random } from "../../src/sim/random.ts";
import { parseNdjson, readDelimited } from "./helpers.ts";

const dir = await mkdtemp(join(tmpdir(), "window-sink-"));
after(() => rm(dir, { recursive: true, force: true }));

// ids that sort differently by UTF-8 bytes and by UTF-16 code units (U+FF21 and U+1F600), and
// long ones that share their first bytes, differ after a non-ASCII one or hold a NUL: the sink
// orders batches by the ids' first 6 bytes before it compares them in full
const IDS = [
  "a", "b", "ab", "Ａ", "😀", "a😀", "aＡ", "é", "öa", "éb",
  "RM_abcdefg", "RM_abcdefh", "RM_abcd", "RM_abcdé", "RM_ab\u0000c", "RM_ab", "RM_abcdefg😀", "RM_abcdefgＡ", "",
];

function stat(r: Random, room: string, participant: string, ms: number): AnalyticsStat {
  return create(AnalyticsStatSchema, {
    roomId: room,
    participantId: participant,
    trackId: `${r.pick(IDS)}${r.int(0, 3)}`,
    kind: r.chance(0.5) ? StreamType.UPSTREAM : StreamType.DOWNSTREAM,
    timeStamp: timestampFromMs(ms),
    score: r.int(0, 5),
    streams: [{ primaryPackets: r.int(0, 100), primaryBytes: BigInt(r.int(0, 1e6)) }],
  });
}

// `onThread`: once the format thread has loaded, so that it formats the window; otherwise at
// once, when the sink formats it itself (as in the first windows of a run)
async function run(format: OutputFormat, batches: AnalyticsStat[][], onThread: boolean): Promise<Buffer> {
  const path = join(dir, `out-${format}-${Math.random()}`);
  const output = new Output(path);
  const sink = new WindowSink(output, format);
  if (onThread) await sink.whenReady();
  for (const b of batches) sink.reporter.reportBytes!(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: b })));
  await sink.writeWindow();
  await sink.close();
  await output.close();
  assert.equal(sink.statsOut, batches.flat().length);
  if (onThread) assert.equal(sink.windowsOnThread, batches.length === 0 ? 0 : 1, "the thread formatted the window");
  return readFile(path);
}

suite("WindowSink", () => {
  for (const uniform of [true, false]) {
    test(`sorts ${uniform ? "one-worker batches" : "batches that mix workers and times"} like compareStats, in both formats`, async () => {
      const seed = (Math.random() * 2 ** 32) >>> 0;
      console.log(`WindowSink seed ${seed}`);
      const r = new Random(seed);
      for (let round = 0; round < 60; round++) {
        const batches: AnalyticsStat[][] = [];
        const seen = new Set<string>();
        for (let b = 0; b < r.int(1, 12); b++) {
          const room = r.pick(IDS.slice(0, -1));
          const participant = r.pick(IDS.slice(0, -1));
          if (uniform && seen.has(`${room}/${participant}`)) continue;
          seen.add(`${room}/${participant}`);
          const batch: AnalyticsStat[] = [];
          for (let i = 0; i < r.int(1, 6); i++) {
            batch.push(uniform ? stat(r, room, participant, 10_000) : stat(r, r.pick(IDS), r.pick(IDS), r.int(1, 3) * 10_000));
          }
          batches.push(batch);
        }
        const expected = batches.flat().sort(compareStats);
        // one round in ten on the format thread (waiting for it to load takes a while), the
        // others formatted by the sink itself, as before the thread has loaded
        const onThread = round % 10 === 0;
        const ndjson = await run("ndjson", batches, onThread);
        const delimited = await run("delimited", batches, onThread);
        const keys = (stats: AnalyticsStat[]) => stats.map((s) => toJsonString(AnalyticsStatSchema, s));
        // ties (same time, room, participant, kind, track) may come in either order
        assert.deepEqual(keys(parseNdjson(ndjson.toString("utf8"))).sort(), keys(expected).sort(), `seed ${seed}`);
        const order = (stats: AnalyticsStat[]) => stats.map((s) => `${Number(s.timeStamp!.seconds)}|${s.roomId}|${s.participantId}|${s.kind}|${s.trackId}`);
        assert.deepEqual(order(parseNdjson(ndjson.toString("utf8"))), order(expected), `seed ${seed}`);
        assert.deepEqual(order(readDelimited(delimited).map((x) => x.stat)), order(expected), `seed ${seed}`);
        // both formats write the same stats in the same order
        assert.deepEqual(keys(readDelimited(delimited).map((x) => x.stat)), keys(parseNdjson(ndjson.toString("utf8"))), `seed ${seed}`);
      }
    });
  }

  test("after discard() nothing reported is written", async () => {
    const path = join(dir, "discarded");
    const output = new Output(path);
    const sink = new WindowSink(output, "delimited");
    sink.discard();
    sink.reporter.reportBytes!(toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: [create(AnalyticsStatSchema, { roomId: "RM" })] })));
    await sink.writeWindow();
    await sink.close();
    await output.close();
    assert.equal((await readFile(path)).length, 0);
    assert.equal(sink.statsOut, 0);
  });
});
