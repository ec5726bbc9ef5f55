// splitBatch(): pieces are valid AnalyticsStats, in order, within the bound, and nothing is lost.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { AnalyticsStatsSchema } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { splitBatch } from "../../src/reporters/split-batch.ts";
import { Random } from "../../src/sim/random.ts";
import { StatGen } from "../random-stats.ts";

suite("splitBatch()", () => {
  test("cuts random batches between stats into pieces within the bound that concatenate back to the input", () => {
    const seed = Number(process.env["SEED"] ?? Date.now() % 2 ** 32);
    console.log(`splitBatch seed ${seed}`);
    const random = new Random(seed);
    const gen = new StatGen(random, 0.1);
    for (let round = 0; round < 200; round++) {
      const stats = Array.from({ length: random.int(0, 30) }, () => gen.stat());
      const bytes = toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats }));
      const maxBytes = random.int(1, 2 * bytes.length + 1);
      const pieces = splitBatch(bytes, maxBytes);
      assert.deepEqual(Buffer.concat(pieces), Buffer.from(bytes), `seed ${seed} round ${round}`);
      const decoded = pieces.map((p) => fromBinary(AnalyticsStatsSchema, p).stats);
      assert.deepEqual(decoded.flat(), fromBinary(AnalyticsStatsSchema, bytes).stats);
      for (const [i, piece] of pieces.entries()) {
        // over the bound only when the piece is a single stat
        if (piece.length > maxBytes) assert.equal(decoded[i]!.length, 1, `seed ${seed} round ${round} piece ${i}`);
      }
      // greedy: no two neighbours would have fitted together
      for (let i = 1; i < pieces.length; i++) assert.ok(pieces[i - 1]!.length + pieces[i]!.length > maxBytes);
    }
  });

  test("returns bytes that do not walk as fields whole", () => {
    const truncated = new Uint8Array([0x0a, 0x05, 0x01, 0x02]);
    assert.deepEqual(splitBatch(truncated, 1), [truncated]);
    const group = new Uint8Array([0x0b, 0x0c, 0x0a, 0x00]);
    assert.deepEqual(splitBatch(group, 1), [group]);
  });
});
