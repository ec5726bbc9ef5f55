import { suite, test } from "node:test";
import assert from "node:assert/strict";
import type { WasmExports } from "../../src/engine/wasm/abi.ts";
import { BUILDS, instantiate, stat, writeScratch } from "./harness.ts";

function worker(wasm: WasmExports, name: string): number {
  const bytes = new TextEncoder().encode(name);
  const ptr = wasm.inputPtr(bytes.length);
  new Uint8Array(wasm.memory.buffer).set(bytes, ptr);
  const w = wasm.workerCreate(ptr, bytes.length, 0, 0, -1);
  assert.ok(w >= 0);
  return w;
}

/** The slot of track id `fill` repeated to `bytes` bytes, then `suffix`, in `w`. */
function track(wasm: WasmExports, w: number, bytes: number, suffix: string, fill = 0x61): number {
  const tail = new TextEncoder().encode(suffix);
  const ptr = wasm.inputPtr(bytes + tail.length);
  assert.notEqual(ptr, 0);
  const u8 = new Uint8Array(wasm.memory.buffer);
  u8.fill(fill, ptr, ptr + bytes);
  u8.set(tail, ptr + bytes);
  const slot = wasm.trackSlot(w, 0, ptr, bytes + tail.length);
  assert.ok(slot >= 0, `trackSlot gave ${slot}`);
  return slot;
}

const KB = 1024;

for (const build of BUILDS) {
  suite(`engine heap [${build}]`, () => {
    test("600 KB ids freed by a closed worker are reused by 20 000 short ids without growing memory", () => {
      const wasm = instantiate(build);
      const big = worker(wasm, "big");
      for (let i = 0; i < 16; i++) track(wasm, big, 600 * KB, `#${i}`);
      wasm.workerClose(big);
      wasm.trimBuffers();
      const pages = wasm.memory.buffer.byteLength;
      assert.ok(wasm.heapFreeBytes() >= 16 * 600 * KB, `${wasm.heapFreeBytes()} bytes free`);
      const small = worker(wasm, "small");
      for (let i = 0; i < 20_000; i++) track(wasm, small, 16, `#${i}`);
      assert.equal(wasm.slotCount(), 20_000);
      assert.equal(wasm.memory.buffer.byteLength, pages, "memory grew although 9.6 MB were free");
    });

    test("a track id of at most META.INLINE_BYTES bytes lives in its slot's meta; a longer one in a block given back with the slot", async () => {
      const { META_U32, META } = await import("../../src/engine/wasm/layout.gen.ts");
      const wasm = instantiate(build);
      const w = worker(wasm, "w");
      const u32 = () => new Uint32Array(wasm.memory.buffer);
      for (const bytes of [1, META.INLINE_BYTES - 1, META.INLINE_BYTES, META.INLINE_BYTES + 1, 200]) {
        const slot = track(wasm, w, bytes - 2, `#${bytes}`.slice(0, 2).padEnd(2, "!"));
        const meta = wasm.slotMetaPtr(slot);
        const ptr = u32()[(meta >>> 2) + META_U32.TRACK_PTR]!;
        if (bytes <= META.INLINE_BYTES) assert.equal(ptr, meta + META.INLINE, `${bytes} bytes`);
        else assert.ok(ptr < meta || ptr >= meta + META.SIZE, `${bytes} bytes`);
        assert.equal(u32()[(meta >>> 2) + META_U32.TRACK_BYTES], bytes);
        // found again by its bytes (the id is compared where it lives)
        assert.equal(track(wasm, w, bytes - 2, `#${bytes}`.slice(0, 2).padEnd(2, "!")), slot);
      }
      // tracks come and go: after the first round has grown the tables, the heap comes back to
      // where it was each time, for inline and block ids alike
      let free = -1;
      for (let round = 0; round < 4; round++) {
        const other = worker(wasm, `other${round}`);
        for (let i = 0; i < 1000; i++) track(wasm, other, i % 2 === 0 ? 12 : 30, `#${i}`);
        wasm.workerFree(other);
        if (round === 0) free = wasm.heapFreeBytes();
        else assert.equal(wasm.heapFreeBytes(), free, `round ${round}`);
      }
    });

    test("a block freed between two free neighbours merges with both, so a larger id fits in the three", () => {
      const wasm = instantiate(build);
      const w = worker(wasm, "w");
      // the input buffer first, so that it sits below the three ids and never moves
      const input = wasm.inputPtr(1 << 20);
      // and a first track, so that the slot block and the track table exist before the ids
      track(wasm, w, 16, "first");
      const a = track(wasm, w, 300 * KB, "a");
      const b = track(wasm, w, 300 * KB, "b");
      const c = track(wasm, w, 300 * KB, "c");
      track(wasm, w, 16, "keeps the three apart from the top of the heap");
      wasm.workerSlotRelease(w, a);
      wasm.workerSlotRelease(w, c);
      wasm.workerSlotRelease(w, b);
      const pages = wasm.memory.buffer.byteLength;
      assert.equal(wasm.inputPtr(850 * KB), input);
      new Uint8Array(wasm.memory.buffer).fill(0x7a, input, input + 850 * KB);
      // 850 KB fits only in the merged 900 KB
      assert.ok(wasm.trackSlot(w, 0, input, 850 * KB) >= 0);
      assert.equal(wasm.memory.buffer.byteLength, pages);
    });

    test("trimBuffers() gives an 8 MiB input buffer back: 7 MB of ids then fit without growing memory", () => {
      const wasm = instantiate(build);
      const w = worker(wasm, "w");
      const ptr = wasm.inputPtr(8 << 20);
      assert.notEqual(ptr, 0);
      wasm.trimBuffers();
      const pages = wasm.memory.buffer.byteLength;
      assert.ok(wasm.heapFreeBytes() >= 8 << 20);
      for (let i = 0; i < 12; i++) track(wasm, w, 600 * KB, `#${i}`);
      assert.equal(wasm.memory.buffer.byteLength, pages);
    });

    test("the input buffer keeps its contents when it grows, and its address until it must move", () => {
      const wasm = instantiate(build);
      const a = wasm.inputPtr(100);
      new Uint8Array(wasm.memory.buffer).set([1, 2, 3], a);
      assert.equal(wasm.inputPtr(50), a);
      const b = wasm.inputPtr(1 << 20);
      assert.deepEqual([...new Uint8Array(wasm.memory.buffer, b, 3)], [1, 2, 3]);
      wasm.trimBuffers();
      assert.notEqual(wasm.inputPtr(10), 0);
    });

    test("the output buffer of one big drain goes back to the heap once drains are small again", () => {
      const wasm = instantiate(build);
      const w = worker(wasm, "w");
      writeScratch(wasm, stat({ score: 1, streams: [{ primaryPackets: 5 }] }));
      for (let i = 0; i < 3000; i++) wasm.foldScratch(track(wasm, w, 300, `#${i}`));
      wasm.trimBuffers();
      const length = wasm.drainEncode(w, 1_700_000_000, 0, 0);
      assert.ok(length > 900 * KB, `drained ${length} bytes`);
      // the next drain releases the quiet tracks; the one after starts from a small buffer
      assert.equal(wasm.drainEncode(w, 1_700_000_010, 0, 0), 0);
      const free = wasm.heapFreeBytes();
      const v = worker(wasm, "v");
      wasm.foldScratch(track(wasm, v, 8, "x"));
      assert.ok(wasm.drainEncode(v, 1_700_000_020, 0, 0) > 0);
      assert.ok(wasm.heapFreeBytes() - free > 900 * KB, `${wasm.heapFreeBytes() - free} bytes came back`);
    });
  });
}

for (const build of BUILDS) {
  suite(`routerFree() [${build}]`, () => {
    test("frees every worker of a stopped service with their tracks and routes, and nothing of another", () => {
      const wasm = instantiate(build);
      const enc = new TextEncoder();
      const routed = (router: number, pid: string): number => {
        const bytes = enc.encode(`RM${pid}`);
        const ptr = wasm.inputPtr(bytes.length);
        new Uint8Array(wasm.memory.buffer).set(bytes, ptr);
        const w = wasm.workerCreate(ptr, 2, pid.length, 0, router);
        assert.ok(w >= 0);
        return w;
      };
      const stopped = wasm.routerCreate();
      const running = wasm.routerCreate();
      const kept = routed(running, "K");
      track(wasm, kept, 8, "kept");
      const workers = Array.from({ length: 50 }, (_, i) => routed(stopped, `P${i}`));
      for (const w of workers) for (let t = 0; t < 4; t++) track(wasm, w, 64, `#${t}`);
      assert.equal(wasm.slotCount(), 1 + 200);
      wasm.trimBuffers();
      const free0 = wasm.heapFreeBytes();
      wasm.routerFree(stopped);
      assert.equal(wasm.slotCount(), 1);
      for (const w of workers) assert.equal(wasm.workerPending(w), 0);
      assert.ok(track(wasm, kept, 8, "kept") >= 0, "the other service's worker is open");
      // the 200 track ids of 64+ bytes and the 50 keys came back (slot blocks and tables stay)
      const back = wasm.heapFreeBytes() - free0;
      assert.ok(back >= 200 * 64 + 50 * 4, `${back} bytes came back`);
      // the index is reused, with no routes left: a batch for the old participants is dropped
      assert.equal(wasm.routerCreate(), stopped);
      const msg = [0x2a, 2, ...enc.encode("RM"), 0x3a, 2, ...enc.encode("P1"), 0x42, 1, 0x54];
      const batch = Uint8Array.from([msg.length, ...msg]);
      const ptr = wasm.inputPtr(batch.length);
      new Uint8Array(wasm.memory.buffer).set(batch, ptr);
      assert.equal(wasm.ingestBatch(ptr, batch.length, stopped, 0, 0, 0, 0, 0), 0);
      assert.equal(new DataView(wasm.memory.buffer).getUint32(wasm.batchResultPtr() + 20, true), 1, "dropped");
      // the freed worker indices are handed out again
      assert.ok(workers.includes(routed(stopped, "new")));
      wasm.routerFree(stopped);
      wasm.routerFree(stopped);
      wasm.routerFree(-1);
      wasm.routerFree(1000);
      assert.equal(wasm.routerCreate(), stopped, "a double free did not thread the index twice");
      assert.notEqual(wasm.routerCreate(), stopped);
    });
  });
}
