/**
 * Mutation fuzzing of the bytes paths (`StatsWorker.onTrackStatBytes`,
 * `TelemetryService.ingestBatch`) on both engines, differential against protobuf-es `fromBinary`
 * and the ts engine fed the decoded object (see mutate.ts for the oracle and the harness).
 *
 * Re-run a failure with SEED=<printed seed>; change the budget with FUZZ_INPUTS=<n>. Longer
 * runs that save failing inputs: `npm run fuzz -- --minutes N`.
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { AnalyticsStatSchema } from "../../src/index.ts";
import { Random } from "../../src/sim/random.ts";
import { FIXTURE_CONFIGS, FuzzHarness, Mutator, edgeInputs, loadFixtures, randomConfig, randomStat, seedCorpus } from "./mutate.ts";

const SEED = process.env["SEED"] !== undefined ? Number(process.env["SEED"]) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const INPUTS = process.env["FUZZ_INPUTS"] !== undefined ? Number(process.env["FUZZ_INPUTS"]) : 20_000;
// strict by default; FUZZ_STRICT=0 tolerates (and tallies) the KNOWN_ISSUES of mutate.ts in the
// random and edge runs, to look past an open issue for others. The fixtures are always strict.
const STRICT = process.env["FUZZ_STRICT"] !== "0";
console.log(`hardening fuzz seed: ${SEED} (re-run with SEED=${SEED}), ${INPUTS} inputs${STRICT ? "" : ", known issues tolerated"}`);

const hex = (bytes: Uint8Array) => {
  const h = Buffer.from(bytes.subarray(0, 256)).toString("hex");
  return bytes.length > 256 ? `${h}... (${bytes.length} bytes)` : h;
};

suite("bytes paths under malformed input", () => {
  test(
    "regression fixtures in test/fixtures/fuzz are handled as protobuf-es and the ts engine say (strict)",
    async (t) => {
      const harness = await FuzzHarness.create(true);
      const fixtures = await loadFixtures();
      t.diagnostic(`${fixtures.length} fixtures`);
      const failures: string[] = [];
      for (const { name, bytes } of fixtures) {
        for (const config of FIXTURE_CONFIGS) {
          try {
            harness.check(bytes, config);
          } catch (err) {
            failures.push(`fixture ${name}: ${(err as Error).message}`);
            break;
          }
        }
      }
      assert.deepEqual(failures, []);
    },
  );

  test("edge inputs (limits, varint lengths, group depths, wire types, 1 MiB) are accepted or rejected identically", async (t) => {
    const harness = await FuzzHarness.create(STRICT);
    for (const { name, bytes } of edgeInputs()) {
      for (const config of FIXTURE_CONFIGS) {
        try {
          harness.check(bytes, config);
        } catch (err) {
          assert.fail(`edge input "${name}": ${(err as Error).message}`);
        }
      }
    }
    t.diagnostic(`outcomes ${JSON.stringify(harness.tally)}`);
  });

  test(`${INPUTS} mutated inputs (truncation at every offset first) keep both engines exact and typed`, async (t) => {
    const harness = await FuzzHarness.create(STRICT);
    const r = new Random(SEED);
    const corpus = seedCorpus(r);
    const mutator = new Mutator(r, corpus);
    const started = performance.now();
    let i = 0;
    const run = (bytes: Uint8Array) => {
      try {
        harness.check(bytes, randomConfig(r), (n) => r.int(0, n - 1));
      } catch (err) {
        assert.fail(`seed ${SEED}, input #${i} (hex ${hex(bytes)}): ${(err as Error).message}`);
      }
      i++;
    };
    // truncation at every offset of a few rich stats (streams, layers, timestamps, later fields)
    const rich = new Random(SEED ^ 0x7f4a7c15);
    for (let k = 0; k < 4 && i < INPUTS; k++) {
      let stat = randomStat(rich, k === 3);
      while (stat.streams.length < 2) stat = randomStat(rich, k === 3);
      const bytes = toBinary(AnalyticsStatSchema, stat);
      for (let cut = 0; cut <= bytes.length && i < INPUTS; cut++) run(bytes.subarray(0, cut));
    }
    while (i < INPUTS) run(mutator.next());
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`${i} inputs in ${seconds.toFixed(1)} s; outcomes ${JSON.stringify(harness.tally)}`);
    console.log(`hardening fuzz: ${i} inputs in ${seconds.toFixed(1)} s; outcomes ${JSON.stringify(harness.tally)}`);
    // the mutator must keep reaching both sides, or the run proves little
    assert.ok((harness.tally["accepted"] ?? 0) > INPUTS / 10, "too few accepted inputs");
    assert.ok((harness.tally["rejected: protobuf-es"] ?? 0) > INPUTS / 10, "too few rejected inputs");
  });
});
