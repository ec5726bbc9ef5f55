import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generate, parseLayout, render } from "../../scripts/gen-abi.mjs";
import * as abi from "../../src/engine/wasm/abi.ts";
import { checkAbi } from "../../src/engine/wasm/instance.ts";
import { LIMITS } from "../../src/limits.ts";
import { STAT_ID_LENGTH } from "../../src/reporters/stat-id.ts";
import { isWasmError } from "../../src/errors.ts";
import { BUILDS, instantiate } from "./harness.ts";

const LAYOUT = readFileSync(new URL("../../assembly/layout.ts", import.meta.url), "utf8");
const HOST_GEN = "src/engine/wasm/layout.gen.ts";

suite("scripts/gen-abi.mjs", () => {
  test("the committed layout.gen.ts and layout-hash.gen.ts are what assembly/layout.ts generates", () => {
    assert.deepEqual(generate({ check: true }), [], "stale: run npm run build:wasm");
  });

  test("every host record is generated from layout.ts, with the offsets the host has always used", () => {
    const { records } = parseLayout(LAYOUT);
    assert.deepEqual(records.map((r) => r.name), ["SLOT", "SCRATCH", "INFO", "META", "DRAIN_ENTRY", "BATCH", "STATUS", "IDS", "EXT", "PSCRATCH", "PSTATUS"]);
    // the offsets the host relied on before the generator (a change here is an ABI change)
    assert.equal(abi.SLOT.SIZE, 96);
    assert.equal(abi.SLOT.LAYER_BYTES, 88);
    assert.equal(abi.SCRATCH.LAYERS, 16 + 64 * 64);
    assert.equal(abi.SCRATCH.MAX_LAYERS, 64 * 32);
    assert.equal(abi.SCRATCH.LAYER_BYTES, 16);
    assert.equal(abi.META.TRACK_BYTES, 12);
    assert.equal(abi.META.SIZE, 40);
    assert.equal(abi.DRAIN_ENTRY.SIZE, 16);
    assert.equal(abi.BATCH.LISTED, 36);
    // ABI 10: BATCH gained late and taken, INFO the time stamp (a windowed ingestBatch)
    assert.equal(abi.BATCH.INVALID_SLOTS, 52);
    assert.equal(abi.INFO.SIZE, 48);
    assert.equal(abi.STATUS.OUT_OF_MEMORY, -20);
    // ABI 11: the pool of stamped ids, each the 12 characters after "AS_" of stat-id.ts's ids
    assert.equal(abi.IDS.CHARS, STAT_ID_LENGTH - 3);
    assert.equal(abi.IDS.SIZE, abi.IDS.COUNT * abi.IDS.CHARS);
  });

  test("within each record the byte offsets only grow, and stay inside the record's SIZE", () => {
    for (const r of parseLayout(LAYOUT).records) {
      const size = r.fields.find((f) => f.key === "SIZE");
      if (size === undefined) continue;
      for (const f of r.fields) {
        if (f.type !== "usize" || f.key === "SIZE") continue;
        assert.ok(f.value < size.value, `${f.name} = ${f.value} is outside ${r.name} (${size.value} bytes)`);
      }
    }
  });

  test("the word indices are the byte offsets over 4 (U32) and 8 (U64), and U64 names only 8-byte fields", () => {
    for (const [name, u32] of [["SLOT", abi.SLOT_U32], ["SCRATCH", abi.SCRATCH_U32], ["INFO", abi.INFO_U32], ["META", abi.META_U32], ["DRAIN_ENTRY", abi.DRAIN_ENTRY_U32], ["BATCH", abi.BATCH_U32]] as const) {
      const bytes = abi[name] as Record<string, number>;
      for (const [key, index] of Object.entries(u32)) assert.equal(index * 4, bytes[key], `${name}_U32.${key}`);
    }
    assert.deepEqual(abi.SLOT_U64, { PRIMARY_BYTES: 6, RETRANSMIT_BYTES: 7, PADDING_BYTES: 8, LAYER_BYTES: 11 });
    assert.deepEqual(abi.SCRATCH_U64, { STREAM_PRIMARY_BYTES: 5, STREAM_RETRANSMIT_BYTES: 6, STREAM_PADDING_BYTES: 7, LAYER_BYTES: 2 });
    assert.equal(abi.SLOT_U32.PRIMARY_PACKETS, 2);
  });

  test("the host's limits are the module's: streams, layers and the batch message bound", () => {
    assert.equal(abi.SCRATCH.MAX_STREAMS_PER_STAT, LIMITS.maxStreamsPerStat);
    assert.equal(abi.SCRATCH.MAX_LAYERS_PER_STREAM, LIMITS.maxLayersPerStream);
    assert.equal(abi.BATCH.MAX_MESSAGE_BYTES, LIMITS.maxMessageBytes);
  });

  test("moving one field changes the layout hash in both generated files", () => {
    const moved = LAYOUT.replace("SLOT_SCORE: usize = SLOT_COUNT + 4;", "SLOT_SCORE: usize = SLOT_COUNT + 8;");
    assert.notEqual(moved, LAYOUT);
    const before = render(LAYOUT);
    const after = render(moved);
    const hashOf = (text: string) => /LAYOUT_HASH(?:: u32)? = (0x[0-9a-f]+)/.exec(text)![1];
    assert.notEqual(hashOf(after[HOST_GEN]!), hashOf(before[HOST_GEN]!));
    assert.equal(hashOf(after[HOST_GEN]!), hashOf(after["assembly/layout-hash.gen.ts"]!));
    assert.match(after[HOST_GEN]!, /SCORE: 8,/);
  });

  test("an expression it cannot evaluate is an error naming the line", () => {
    assert.throws(() => parseLayout("// @record X y\n@inline export const X_A: usize = foo();\n"), /layout\.ts:2: unsupported expression/);
  });
});

suite("checkAbi()", () => {
  for (const build of BUILDS) {
    test(`accepts the ${build} build, whose abiVersion() and abiLayoutHash() are the host's`, () => {
      const wasm = instantiate(build);
      assert.equal(wasm.abiVersion(), abi.ABI_VERSION);
      assert.equal(wasm.abiLayoutHash() >>> 0, abi.LAYOUT_HASH);
      checkAbi(wasm);
    });
  }

  test("refuses a module built from another layout, another version, or without the exports", () => {
    const expectMismatch = (exports: unknown, pattern: RegExp) =>
      assert.throws(() => checkAbi(exports as Parameters<typeof checkAbi>[0]), (err: unknown) => {
        assert.ok(isWasmError(err));
        assert.equal(err.code, "abi_mismatch");
        assert.match(err.message, pattern);
        return true;
      });
    expectMismatch({ abiVersion: () => abi.ABI_VERSION, abiLayoutHash: () => abi.LAYOUT_HASH ^ 1 }, /layout hash 0x[0-9a-f]+, host expects/);
    expectMismatch({ abiVersion: () => abi.ABI_VERSION }, /layout hash none/);
    expectMismatch({ abiVersion: () => abi.ABI_VERSION - 1, abiLayoutHash: () => abi.LAYOUT_HASH }, /abi version \d+, host expects/);
    expectMismatch({}, /abi version undefined/);
  });
});
