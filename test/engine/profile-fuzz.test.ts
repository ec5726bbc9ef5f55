/**
 * The mutation fuzz differential of the bytes paths (see test/hardening/mutate.ts) with every
 * engine in the livekit-current profile: protobuf-es plus the ts engine are the oracle of both
 * engines' StatsWorker and ingestBatch, byte for byte and error for error.
 *
 * Re-run a failure with SEED=<printed seed>; change the budget with FUZZ_INPUTS=<n>.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { AnalyticsStatSchema } from "../../src/index.ts";
import { Random } from "../../src/sim/random.ts";
import { edgeInputs, seedCorpus, seedStat } from "../hardening/fuzz/corpus.ts";
import { FIXTURE_CONFIGS, FuzzHarness, randomConfig } from "../hardening/fuzz/harness.ts";
import { Mutator } from "../hardening/fuzz/mutator.ts";

const SEED = process.env["SEED"] !== undefined ? Number(process.env["SEED"]) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const INPUTS = process.env["FUZZ_INPUTS"] !== undefined ? Number(process.env["FUZZ_INPUTS"]) : 8_000;
console.log(`livekit-current fuzz seed: ${SEED} (re-run with SEED=${SEED}), ${INPUTS} inputs`);

suite("bytes paths under malformed input, livekit-current", () => {
  test("edge inputs are accepted or rejected identically", async () => {
    const harness = await FuzzHarness.create(true, "livekit-current");
    for (const { name, bytes } of edgeInputs()) {
      for (const config of FIXTURE_CONFIGS) {
        try {
          harness.check(bytes, config);
        } catch (err) {
          assert.fail(`edge input "${name}": ${(err as Error).message}`);
        }
      }
    }
  });

  test(`${INPUTS} mutated inputs keep both engines exact and typed`, async (t) => {
    const harness = await FuzzHarness.create(true, "livekit-current");
    const r = new Random(SEED);
    const mutator = new Mutator(r, seedCorpus(r));
    let i = 0;
    const run = (bytes: Uint8Array) => {
      try {
        harness.check(bytes, randomConfig(r), (n) => r.int(0, n - 1));
      } catch (err) {
        assert.fail(`seed ${SEED}, input #${i} (hex ${Buffer.from(bytes.subarray(0, 256)).toString("hex")}): ${(err as Error).message}`);
      }
      i++;
    };
    // truncation at every offset of a rich stat: streams with times, out-of-order packets, mime
    const rich = new Random(SEED ^ 0x7f4a7c15);
    let stat = seedStat(rich, true);
    while (stat.streams.length < 2) stat = seedStat(rich, true);
    const bytes = toBinary(AnalyticsStatSchema, stat);
    for (let cut = 0; cut <= bytes.length && i < INPUTS; cut++) run(bytes.subarray(0, cut));
    while (i < INPUTS) run(mutator.next());
    t.diagnostic(`outcomes ${JSON.stringify(harness.tally)}`);
    assert.ok((harness.tally["accepted"] ?? 0) > INPUTS / 10, "too few accepted inputs");
  });
});
