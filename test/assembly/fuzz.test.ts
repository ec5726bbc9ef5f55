import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { STATUS } from "../../src/engine/wasm/abi.ts";
import { BUILDS, checkAgainstProtobufEs, encode, instantiate } from "./harness.ts";
import { Random } from "../../src/sim/random.ts";
import { mutateEncoded } from "../random-stats.ts";
import { corpus } from "./corpus.ts";

// Re-run a failure with FUZZ_SEED=<seed printed in the test output>.
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2026) >>> 0;
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 5000);


for (const build of BUILDS) {
  suite(`decodeFold() fuzz [${build}]`, () => {
    test(`accepts and rejects ${INPUTS} mutated inputs as protobuf-es does, and folds accepted ones like the scratch path`, (t) => {
      t.diagnostic(`seed ${SEED} (FUZZ_SEED to re-run)`);
      console.log(`decodeFold fuzz [${build}]: seed ${SEED}, ${INPUTS} inputs`);
      const random = new Random(SEED);
      const wasm = instantiate(build);
      const seedInputs = corpus().map(encode);
      const tally = new Map<number, number>();
      for (let i = 0; i < INPUTS; i++) {
        const input = mutateEncoded(random, seedInputs[random.int(0, seedInputs.length - 1)]!);
        const v = checkAgainstProtobufEs(wasm, input, `seed ${SEED} #${i}`);
        tally.set(v.status, (tally.get(v.status) ?? 0) + 1);
      }
      t.diagnostic(`status tally ${JSON.stringify(Object.fromEntries(tally))}`);
      // the corpus must keep reaching both outcomes, or the test proves little
      assert.ok((tally.get(1) ?? 0) > INPUTS / 20);
      assert.ok((tally.get(STATUS.TRUNCATED) ?? 0) > INPUTS / 20);
      assert.equal(wasm.slotCount(), 0);
    });
  });
}
