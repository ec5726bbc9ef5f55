import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { META, SLOT } from "../../src/engine/wasm/abi.ts";
import { BUILDS, decodeFold, encode, instantiate, readSlot, stat, view, writeScratch } from "./harness.ts";

for (const build of BUILDS) {
  suite(`allocSlot() [${build}]`, () => {
    test("hands out zeroed slots and counts the ones in use", () => {
      const wasm = instantiate(build);
      assert.equal(wasm.slotCount(), 0);
      const a = wasm.allocSlot();
      const b = wasm.allocSlot();
      assert.notEqual(a, b);
      assert.equal(wasm.slotCount(), 2);
      const dv = view(wasm);
      for (let i = 0; i < SLOT.SIZE; i++) assert.equal(dv.getUint8(wasm.slotPtr(a) + i), 0);
      // each slot's meta record right before it, the pairs side by side
      assert.equal(wasm.slotMetaPtr(a) + META.SIZE, wasm.slotPtr(a));
      assert.equal(wasm.slotPtr(b) - wasm.slotPtr(a), META.SIZE + SLOT.SIZE);
    });

    test("a freed slot is reused zeroed, and freeing twice or a bad index changes nothing", () => {
      const wasm = instantiate(build);
      const a = wasm.allocSlot();
      const b = wasm.allocSlot();
      writeScratch(wasm, stat({ score: 3, streams: [{ primaryPackets: 9 }] }));
      wasm.foldScratch(a);
      const addr = wasm.slotPtr(a);
      wasm.freeSlot(a);
      wasm.freeSlot(a);
      wasm.freeSlot(-1);
      wasm.freeSlot(1 << 30);
      assert.equal(wasm.slotCount(), 1);
      assert.equal(wasm.slotPtr(a), 0);
      const c = wasm.allocSlot();
      assert.equal(c, a);
      assert.equal(wasm.slotPtr(c), addr);
      assert.equal(readSlot(wasm, c).primaryPackets, 0);
      const d = wasm.allocSlot();
      assert.notEqual(d, a);
      assert.notEqual(d, b);
      assert.equal(wasm.slotCount(), 3);
    });

    test("resetSlot() zeroes one slot and leaves its neighbours alone", () => {
      const wasm = instantiate(build);
      const a = wasm.allocSlot();
      const b = wasm.allocSlot();
      writeScratch(wasm, stat({ score: 1, streams: [{ frames: 5 }] }));
      wasm.foldScratch(a);
      wasm.foldScratch(b);
      wasm.resetSlot(a);
      wasm.resetSlot(-5);
      assert.equal(readSlot(wasm, a).count, 0);
      assert.equal(readSlot(wasm, b).frames, 5);
    });

    test("100 000 slots get distinct addresses that never move while memory grows, and keep their values", () => {
      const wasm = instantiate(build);
      const n = 100_000;
      const pagesBefore = wasm.memory.buffer.byteLength >>> 16;
      const addr: number[] = [];
      for (let i = 0; i < n; i++) {
        const s = wasm.allocSlot();
        assert.equal(s, i);
        addr.push(wasm.slotPtr(s));
        writeScratch(wasm, stat({ score: 1, streams: [{ primaryPackets: i, primaryBytes: BigInt(i) * 1000n }] }));
        assert.equal(wasm.foldScratch(s), 1);
      }
      assert.ok(wasm.memory.buffer.byteLength >>> 16 > pagesBefore);
      assert.equal(new Set(addr).size, n);
      assert.equal(wasm.slotCount(), n);
      const bytes = encode(stat({ score: 2, streams: [{ primaryPackets: 1, primaryBytes: 1n }] }));
      for (let i = 0; i < n; i++) {
        assert.equal(wasm.slotPtr(i), addr[i]);
        assert.equal(decodeFold(wasm, bytes, i), 1);
      }
      for (let i = 0; i < n; i += 1) {
        const s = readSlot(wasm, i);
        if (s.count !== 2 || s.primaryPackets !== i + 1 || s.primaryBytes !== BigInt(i) * 1000n + 1n || s.score !== 3) {
          assert.fail(`slot ${i}: ${JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`);
        }
      }
    });
  });

  suite(`inputPtr() [${build}]`, () => {
    test("grows to the size asked for, keeps its contents, and never overlaps a slot", () => {
      const wasm = instantiate(build);
      const p1 = wasm.inputPtr(10);
      assert.notEqual(p1, 0);
      new Uint8Array(wasm.memory.buffer, p1, 4).set([1, 2, 3, 4]);
      const slot = wasm.allocSlot();
      const p2 = wasm.inputPtr(1 << 20);
      assert.notEqual(p2, 0);
      assert.deepEqual(Array.from(new Uint8Array(wasm.memory.buffer, p2, 4)), [1, 2, 3, 4]);
      assert.ok(p2 + (1 << 20) <= wasm.memory.buffer.byteLength);
      const s = wasm.slotPtr(slot);
      assert.ok(s + SLOT.SIZE <= p2 || s >= p2 + (1 << 20));
      assert.equal(wasm.inputPtr(100), p2);
      assert.equal(wasm.inputPtr(0), p2);
    });

    test("returns 0 instead of trapping when memory cannot grow that far", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      assert.equal(wasm.inputPtr(0xffff_ffff), 0);
      assert.equal(wasm.inputPtr(2 ** 31), 0);
      assert.notEqual(wasm.inputPtr(64), 0);
      assert.equal(wasm.allocSlot(), slot + 1);
    });

    test("allocSlot() returns -1 instead of trapping once memory is exhausted", () => {
      const wasm = instantiate(build);
      // fill memory up to the 1 GiB maximum with the input buffer, leaving less than a slot block
      const start = wasm.inputPtr(16);
      const ptr = wasm.inputPtr((1 << 30) - start - 32 * 1024);
      if (ptr === 0) return; // the machine cannot give 1 GiB: nothing to check
      assert.equal(ptr, start);
      assert.equal(wasm.allocSlot(), -1);
      assert.equal(wasm.slotCount(), 0);
    });
  });

  suite(`scratchPtr() and infoPtr() [${build}]`, () => {
    test("are fixed, 16-byte aligned and do not overlap", () => {
      const wasm = instantiate(build);
      const s = wasm.scratchPtr();
      const i = wasm.infoPtr();
      assert.equal(s % 16, 0);
      assert.equal(i % 16, 0);
      wasm.allocSlot();
      wasm.inputPtr(1 << 20);
      assert.equal(wasm.scratchPtr(), s);
      assert.equal(wasm.infoPtr(), i);
      assert.ok(i >= s + 16 + 64 * 64 + 64 * 32 * 24 || i + 32 <= s);
    });

    test("abiVersion() is the host's ABI_VERSION", async () => {
      const { ABI_VERSION } = await import("../../src/engine/wasm/abi.ts");
      assert.equal(instantiate(build).abiVersion(), ABI_VERSION);
    });
  });
}
