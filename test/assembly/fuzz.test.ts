import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { STATUS } from "../../src/engine/wasm-abi.ts";
import { BUILDS, checkAgainstProtobufEs, encode, instantiate, rng, tag, varint } from "./harness.ts";
import { corpus } from "./corpus.ts";

// Re-run a failure with FUZZ_SEED=<seed printed in the test output>.
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2026) >>> 0;
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 5000);

function mutate(random: () => number, seedInputs: Uint8Array[]): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  const src = seedInputs[int(seedInputs.length)]!;
  const b = Array.from(src);
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const at = int(b.length + 1);
    switch (int(8)) {
      case 0: if (b.length) b[int(b.length)] = int(256); break;
      case 1: if (b.length) b[int(b.length)]! ^= 1 << int(8); break;
      case 2: b.length = at; break;
      case 3: b.splice(at, 0, ...Array.from({ length: 1 + int(4) }, () => int(256))); break;
      case 4: b.splice(at, 1 + int(8)); break;
      case 5: return Uint8Array.from({ length: int(48) }, () => int(256));
      case 6: {
        // a random field: any field number, any wire type, a plausible value
        const wt = int(8);
        const field = [...tag(1 + int(24), wt)];
        if (wt === 0) field.push(...varint(BigInt(int(2 ** 30)) ** BigInt(1 + int(3))));
        else if (wt === 1) field.push(...Array.from({ length: 8 }, () => int(256)));
        else if (wt === 2) { const n = int(6); field.push(n, ...Array.from({ length: n }, () => int(256))); }
        else if (wt === 5) field.push(1, 2, 3, 4);
        b.splice(at, 0, ...field);
        break;
      }
      case 7: { const from = int(b.length + 1); b.splice(at, 0, ...b.slice(from, from + 1 + int(12))); break; }
    }
  }
  return Uint8Array.from(b);
}

for (const build of BUILDS) {
  suite(`decodeFold() fuzz [${build}]`, () => {
    test(`accepts and rejects ${INPUTS} mutated inputs as protobuf-es does, and folds accepted ones like the scratch path`, (t) => {
      t.diagnostic(`seed ${SEED} (FUZZ_SEED to re-run)`);
      console.log(`decodeFold fuzz [${build}]: seed ${SEED}, ${INPUTS} inputs`);
      const random = rng(SEED);
      const wasm = instantiate(build);
      const seedInputs = corpus().map(encode);
      const tally = new Map<number, number>();
      for (let i = 0; i < INPUTS; i++) {
        const input = mutate(random, seedInputs);
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
