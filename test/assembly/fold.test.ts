import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { STATUS } from "../../src/engine/wasm/abi.ts";
import { BUILDS, foldBoth, instantiate, stat, view, writeScratch } from "./harness.ts";
import { SCRATCH } from "../../src/engine/wasm/abi.ts";

const U31 = 2 ** 31;
const U63 = 2n ** 63n;

for (const build of BUILDS) {
  suite(`foldScratch() and decodeFold() fold [${build}]`, () => {
    test("two stats sum their counters and count both (R8, R10)", () => {
      const s = stat({ score: 4, streams: [{ primaryPackets: 1, primaryBytes: 28n, retransmitPackets: 2, retransmitBytes: 3n,
        paddingPackets: 4, paddingBytes: 5n, packetsLost: 6, frames: 7, nacks: 8, plis: 9, firs: 10 }] });
      const { slot, results } = foldBoth(build, [s, s]);
      assert.deepEqual(results, [1, 1]);
      assert.equal(slot.count, 2);
      assert.equal(slot.score, 8);
      assert.equal(slot.primaryPackets, 2);
      assert.equal(slot.primaryBytes, 56n);
      assert.equal(slot.retransmitPackets, 4);
      assert.equal(slot.retransmitBytes, 6n);
      assert.equal(slot.paddingPackets, 8);
      assert.equal(slot.paddingBytes, 10n);
      assert.equal(slot.packetsLost, 12);
      assert.equal(slot.frames, 14);
      assert.equal(slot.nacks, 16);
      assert.equal(slot.plis, 18);
      assert.equal(slot.firs, 20);
      assert.equal(slot.layerPresent, 0);
    });

    test("rtt and jitter are the unsigned maximum over all streams (R8)", () => {
      const { slot } = foldBoth(build, [
        stat({ streams: [{ rtt: 10, jitter: 0xffff_fff0 }, { rtt: 30, jitter: 5 }] }),
        stat({ streams: [{ rtt: 20, jitter: 7 }] }),
      ]);
      assert.equal(slot.rtt, 30);
      assert.equal(slot.jitter, 0xffff_fff0);
    });

    test("u32 counters wrap around: 3 x (2^31 - 1) packets give 2147483645", () => {
      const s = stat({ streams: [{ primaryPackets: U31 - 1 }] });
      const { slot } = foldBoth(build, [s, s, s]);
      assert.equal(slot.primaryPackets, 2147483645);
    });

    test("u64 counters wrap around: 3 x (2^63 - 1) bytes give 9223372036854775805", () => {
      const s = stat({ streams: [{ paddingBytes: U63 - 1n }] });
      const { slot } = foldBoth(build, [s, s, s]);
      assert.equal(slot.paddingBytes, 9223372036854775805n);
    });

    test("layers 0, 2, 2, 1 keep layer 2 with its packets, frames and bytes summed (R9)", () => {
      const { slot } = foldBoth(build, [
        stat({ streams: [{ videoLayers: [{ layer: 0, packets: 100, frames: 10, bytes: 1000n }, { layer: 2, packets: 1, frames: 2, bytes: 3n }] }] }),
        stat({ streams: [{ videoLayers: [{ layer: 2, packets: 10, frames: 20, bytes: 30n }] }, { videoLayers: [{ layer: 1, packets: 7, frames: 7, bytes: 7n }] }] }),
      ]);
      assert.equal(slot.layerPresent, 1);
      assert.equal(slot.layer, 2);
      assert.equal(slot.layerPackets, 11);
      assert.equal(slot.layerFrames, 22);
      assert.equal(slot.layerBytes, 33n);
    });

    test("a higher layer arriving later replaces the accumulated lower one", () => {
      const { slot } = foldBoth(build, [
        stat({ streams: [{ videoLayers: [{ layer: 1, packets: 5, frames: 5, bytes: 5n }, { layer: 1, packets: 5, frames: 5, bytes: 5n }] }] }),
        stat({ streams: [{ videoLayers: [{ layer: 3, packets: 1, frames: 1, bytes: 1n }] }] }),
      ]);
      assert.deepEqual([slot.layer, slot.layerPackets, slot.layerFrames, slot.layerBytes], [3, 1, 1, 1n]);
    });

    test("negative layer indices compare signed: -1 beats -5 in either order (Q1)", () => {
      for (const order of [[-5, -1], [-1, -5]]) {
        const { slot } = foldBoth(build, order.map((layer) => stat({ streams: [{ videoLayers: [{ layer, packets: 1 }] }] })));
        assert.equal(slot.layer, -1);
        assert.equal(slot.layerPackets, 1);
      }
    });

    test("a layer index of 0 with all-zero counters still counts as present", () => {
      const { slot } = foldBoth(build, [stat({ streams: [{ videoLayers: [{}] }] })]);
      assert.equal(slot.layerPresent, 1);
      assert.equal(slot.layer, 0);
    });

    test("u32 counters of 2^31 - 1 are valid and 2^31 invalid (R7)", () => {
      const fields = ["primaryPackets", "retransmitPackets", "paddingPackets", "packetsLost", "frames", "nacks", "plis", "firs"] as const;
      for (const f of fields) {
        assert.deepEqual(foldBoth(build, [stat({ streams: [{ [f]: U31 - 1 }] })]).results, [1], f);
        assert.deepEqual(foldBoth(build, [stat({ streams: [{ [f]: U31 }] })]).results, [0], f);
      }
    });

    test("u64 counters of 2^63 - 1 are valid and 2^63 invalid (R7)", () => {
      for (const f of ["primaryBytes", "retransmitBytes", "paddingBytes"] as const) {
        assert.deepEqual(foldBoth(build, [stat({ streams: [{ [f]: U63 - 1n }] })]).results, [1], f);
        assert.deepEqual(foldBoth(build, [stat({ streams: [{ [f]: U63 }] })]).results, [0], f);
      }
    });

    test("layer packets or frames of 2^31 and layer bytes of 2^63 make the stat invalid (R7)", () => {
      for (const l of [{ packets: U31 }, { frames: U31 }, { bytes: U63 }]) {
        assert.deepEqual(foldBoth(build, [stat({ streams: [{ videoLayers: [{ layer: 0 }, l] }] })]).results, [0]);
      }
      assert.deepEqual(foldBoth(build, [stat({ streams: [{ videoLayers: [{ packets: U31 - 1, frames: U31 - 1, bytes: U63 - 1n }] }] })]).results, [1]);
    });

    test("rtt, jitter, ssrc, layer and score are not checked (R7)", () => {
      const s = stat({ score: -1e30, streams: [{ ssrc: 0xffff_ffff, rtt: 0xffff_ffff, jitter: 0xffff_ffff, videoLayers: [{ layer: -(2 ** 31) }] }] });
      assert.deepEqual(foldBoth(build, [s]).results, [1]);
    });

    test("a stat with no streams is valid and adds its score", () => {
      const { slot, results } = foldBoth(build, [stat({ score: 2.5 })]);
      assert.deepEqual(results, [1]);
      assert.equal(slot.count, 1);
      assert.equal(slot.score, 2.5);
    });

    test("an invalid stat is counted but adds nothing: score, streams and layers skipped (R7, R10)", () => {
      const { slot, results } = foldBoth(build, [
        stat({ score: 3, streams: [{ primaryPackets: 5, rtt: 9, videoLayers: [{ layer: 1, packets: 1 }] }] }),
        stat({ score: 100, streams: [{ primaryPackets: 7, rtt: 99, videoLayers: [{ layer: 5, packets: 1 }] }, { frames: U31 }] }),
      ]);
      assert.deepEqual(results, [1, 0]);
      assert.equal(slot.count, 2);
      assert.equal(slot.score, 3);
      assert.equal(slot.primaryPackets, 5);
      assert.equal(slot.rtt, 9);
      assert.equal(slot.layer, 1);
    });

    test("all stats invalid leaves every field 0 except count (R11)", () => {
      const { slot } = foldBoth(build, [stat({ score: 1, streams: [{ nacks: U31 }] }), stat({ streams: [{ paddingBytes: U63 }] })]);
      assert.equal(slot.count, 2);
      assert.equal(slot.score, 0);
      assert.equal(slot.nacks, 0);
      assert.equal(slot.paddingBytes, 0n);
    });

    test("the score is a float32 sum: 2^24 + 1 + 1 stays 16777216 (R10)", () => {
      const { slot } = foldBoth(build, [stat({ score: 2 ** 24 }), stat({ score: 1 }), stat({ score: 1 })]);
      assert.equal(slot.score, 16777216);
    });

    test("a NaN score propagates, and so do infinities (R10)", () => {
      assert.ok(Number.isNaN(foldBoth(build, [stat({ score: 1 }), stat({ score: NaN }), stat({ score: 2 })]).slot.score));
      assert.equal(foldBoth(build, [stat({ score: 1 }), stat({ score: Infinity })]).slot.score, Infinity);
      assert.ok(Number.isNaN(foldBoth(build, [stat({ score: -Infinity }), stat({ score: Infinity })]).slot.score));
    });
  });

  suite(`validateScratch() [${build}]`, () => {
    test("returns 1 for a valid stat and 0 for an invalid one without touching any slot", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      writeScratch(wasm, stat({ streams: [{ primaryPackets: 1 }] }));
      assert.equal(wasm.validateScratch(), 1);
      writeScratch(wasm, stat({ streams: [{ primaryPackets: U31 }] }));
      assert.equal(wasm.validateScratch(), 0);
      assert.equal(view(wasm).getUint32(wasm.slotPtr(slot), true), 0);
    });

    test("counts over the scratch capacity are refused without folding", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      const s = wasm.scratchPtr();
      writeScratch(wasm, stat({}));
      view(wasm).setUint32(s + SCRATCH.STREAM_COUNT, 65, true);
      assert.equal(wasm.validateScratch(), STATUS.TOO_MANY_STREAMS);
      assert.equal(wasm.foldScratch(slot), STATUS.TOO_MANY_STREAMS);
      view(wasm).setUint32(s + SCRATCH.STREAM_COUNT, 0xffff_ffff, true);
      assert.equal(wasm.foldScratch(slot), STATUS.TOO_MANY_STREAMS);
      view(wasm).setUint32(s + SCRATCH.STREAM_COUNT, 64, true);
      view(wasm).setUint32(s + SCRATCH.LAYER_COUNT, SCRATCH.MAX_LAYERS + 1, true);
      assert.equal(wasm.foldScratch(slot), STATUS.TOO_MANY_LAYERS);
      assert.equal(view(wasm).getUint32(wasm.slotPtr(slot), true), 0);
      view(wasm).setUint32(s + SCRATCH.LAYER_COUNT, SCRATCH.MAX_LAYERS, true);
      assert.equal(wasm.foldScratch(slot), 1);
      assert.equal(view(wasm).getUint32(wasm.slotPtr(slot), true), 1);
    });

    test("foldScratch() into a slot that is not in use validates only", () => {
      const wasm = instantiate(build);
      writeScratch(wasm, stat({ score: 1 }));
      assert.equal(wasm.foldScratch(-1), 1);
      assert.equal(wasm.foldScratch(12345), 1);
    });
  });
}
