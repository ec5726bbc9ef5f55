import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { BATCH, STATUS, type WasmExports } from "../../src/engine/wasm/abi.ts";
import { BUILDS, instantiate, view } from "./harness.ts";

const enc = new TextEncoder();

function put(wasm: WasmExports, bytes: Uint8Array): number {
  const ptr = wasm.inputPtr(bytes.length);
  new Uint8Array(wasm.memory.buffer).set(bytes, ptr);
  return ptr;
}

function worker(wasm: WasmExports, room: string, pid: string, router: number): number {
  const w = wasm.workerCreate(put(wasm, enc.encode(room + pid)), room.length, pid.length, 0, router);
  assert.ok(w >= 0);
  return w;
}

function track(wasm: WasmExports, w: number, id: string, bucket = 0): number {
  const bytes = enc.encode(id);
  return wasm.trackSlot(w, bucket, put(wasm, bytes), bytes.length);
}

/** A size-delimited batch of one stat per (room, participant, track). */
function batch(stats: [string, string, string][]): Uint8Array {
  const out: number[] = [];
  for (const [room, pid, trackId] of stats) {
    const field = (no: number, text: string) => [(no << 3) | 2, text.length, ...enc.encode(text)];
    const msg = [...field(5, room), ...field(7, pid), ...field(8, trackId), 0x4d, 0, 0, 0x80, 0x3f];
    out.push(msg.length, ...msg);
  }
  return Uint8Array.from(out);
}

function ingest(wasm: WasmExports, bytes: Uint8Array, router: number): { status: number; statsIn: number; refused: number; dropped: number } {
  const status = wasm.ingestBatch(put(wasm, bytes), bytes.length, router, 0, 0, 0, 0, 0);
  const dv = view(wasm);
  const r = wasm.batchResultPtr();
  return { status, statsIn: dv.getUint32(r + BATCH.STATS_IN, true), refused: dv.getUint32(r + BATCH.REFUSED, true), dropped: dv.getUint32(r + BATCH.DROPPED, true) };
}

for (const build of BUILDS) {
  suite(`setBounds() [${build}]`, () => {
    test("no bound by default: 5 000 tracks in one worker", () => {
      const wasm = instantiate(build);
      const w = worker(wasm, "R", "P", -1);
      for (let i = 0; i < 5000; i++) assert.ok(track(wasm, w, `T${i}`) >= 0);
    });

    test("a worker at its track bound refuses new tracks, keeps its existing ones, and takes new ones once one is released", () => {
      const wasm = instantiate(build);
      wasm.setBounds(3, 0, 0);
      const w = worker(wasm, "R", "P", -1);
      const other = worker(wasm, "R", "Q", -1);
      const slots = ["a", "b", "c"].map((id) => track(wasm, w, id));
      assert.ok(slots.every((s) => s >= 0));
      assert.equal(track(wasm, w, "d"), STATUS.WORKER_TRACKS);
      assert.equal(track(wasm, w, "a", 1), STATUS.WORKER_TRACKS, "the other bucket is a new track too");
      assert.deepEqual(["a", "b", "c"].map((id) => track(wasm, w, id)), slots, "existing tracks are found");
      assert.ok(track(wasm, other, "d") >= 0, "another worker is not affected");
      wasm.workerSlotRelease(w, slots[1]!);
      assert.ok(track(wasm, w, "d") >= 0);
      assert.equal(track(wasm, w, "e"), STATUS.WORKER_TRACKS);
    });

    test("the id-bytes bound counts the bytes of the ids a worker holds", () => {
      const wasm = instantiate(build);
      wasm.setBounds(0, 0, 10);
      const w = worker(wasm, "R", "P", -1);
      assert.ok(track(wasm, w, "12345") >= 0);
      assert.ok(track(wasm, w, "abcde") >= 0);
      assert.equal(track(wasm, w, "x"), STATUS.WORKER_ID_BYTES);
      assert.ok(track(wasm, w, "12345") >= 0, "an existing id is not new");
      // a drain with no stats releases both quiet tracks and their bytes
      assert.equal(wasm.drainEncode(w, 0, 0, 0), 0);
      assert.equal(wasm.freedSlots(), 2);
      assert.ok(track(wasm, w, "0123456789") >= 0);
    });

    test("a router bound caps the tracks of all its workers together, not another router's", () => {
      const wasm = instantiate(build);
      wasm.setBounds(0, 4, 0);
      const router = wasm.routerCreate();
      const other = wasm.routerCreate();
      const a = worker(wasm, "R", "A", router);
      const b = worker(wasm, "R", "B", router);
      const c = worker(wasm, "R", "C", other);
      assert.ok(track(wasm, a, "1") >= 0);
      assert.ok(track(wasm, a, "2") >= 0);
      assert.ok(track(wasm, b, "1") >= 0);
      assert.ok(track(wasm, b, "2") >= 0);
      assert.equal(track(wasm, a, "3"), STATUS.ROUTER_TRACKS);
      assert.equal(track(wasm, b, "3"), STATUS.ROUTER_TRACKS);
      for (let i = 0; i < 4; i++) assert.ok(track(wasm, c, `${i}`) >= 0);
      wasm.workerClose(a);
      assert.ok(track(wasm, b, "3") >= 0, "closing a worker gives its tracks back to the router");
    });

    test("a flooding participant's batch stats over the bound are refused and counted; the others' are folded", () => {
      const wasm = instantiate(build);
      wasm.setBounds(8, 0, 0);
      const router = wasm.routerCreate();
      const flooder = worker(wasm, "R", "FLOOD", router);
      const honest = worker(wasm, "R", "OK", router);
      const stats: [string, string, string][] = [];
      for (let i = 0; i < 100; i++) {
        stats.push(["R", "FLOOD", `T${i}`]);
        if (i % 25 === 0) stats.push(["R", "OK", `T${i}`]);
      }
      stats.push(["R", "NOBODY", "T"]);
      const r = ingest(wasm, batch(stats), router);
      assert.equal(r.status, 0);
      assert.equal(r.refused, 92);
      assert.equal(r.statsIn, 8 + 4);
      assert.equal(r.dropped, 1);
      assert.equal(wasm.workerPending(flooder), 8);
      assert.equal(wasm.workerPending(honest), 4);
      // the flooder's accepted stats and the honest ones are all drained
      wasm.drainEncode(flooder, 0, 0, 0);
      assert.equal(wasm.drainCount(), 8);
      wasm.drainEncode(honest, 0, 0, 0);
      assert.equal(wasm.drainCount(), 4);
    });
  });
}

for (const build of BUILDS) {
  suite(`drainEncode() out of memory [${build}]`, () => {
    test("a drain that cannot get its output buffer leaves the window in place for the next drain", () => {
      const wasm = instantiate(build);
      const w = worker(wasm, "R", "P", -1);
      const slots: number[] = [];
      for (let i = 0; i < 2000; i++) slots.push(track(wasm, w, `TR_${"x".repeat(40)}_${i}`));
      for (const s of slots) {
        new DataView(wasm.memory.buffer).setUint32(wasm.slotPtr(s), 1, true);
      }
      wasm.trimBuffers();
      // the heap may not grow any more: the ~100 KB of output cannot be had
      wasm.setHeapLimit(1);
      const before = wasm.heapFreeBytes();
      assert.equal(wasm.drainEncode(w, 5, 0, 0), -1);
      assert.ok(wasm.heapFreeBytes() <= before + 1);
      for (const s of slots) assert.equal(view(wasm).getUint32(wasm.slotPtr(s), true), 1, "the window was reset");
      wasm.setHeapLimit(0);
      const length = wasm.drainEncode(w, 5, 0, 0);
      assert.ok(length > 0);
      assert.equal(wasm.drainCount(), 2000, "every stat of the window is drained");
      for (const s of slots) assert.equal(view(wasm).getUint32(wasm.slotPtr(s), true), 0);
    });

    test("a heap limit makes new tracks fail as out of memory, and lifting it brings them back", () => {
      const wasm = instantiate(build);
      const w = worker(wasm, "R", "P", -1);
      wasm.setHeapLimit(1);
      let refused = 0;
      for (let i = 0; i < 50_000 && refused === 0; i++) if (track(wasm, w, `T${i}`) === -1) refused = i;
      assert.ok(refused > 0, "the heap never ran out");
      wasm.setHeapLimit(0);
      assert.ok(track(wasm, w, "after") >= 0);
    });
  });
}
