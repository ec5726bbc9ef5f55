import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { BUILDS, instantiate, view } from "./harness.ts";
import type { WasmExports } from "../../src/engine/wasm/abi.ts";
import { Random } from "../../src/sim/random.ts";

// The engine's hash before the keyed one: FNV-1a over the id bytes from a seed of the worker
// (or router) index, then a 32-bit finalizer that is a bijection, so ids whose FNV-1a states
// collide collided in every table size.
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const fnv = (h: number, bytes: ArrayLike<number>): number => {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME) >>> 0;
  return h;
};
const oldTrackSeed = (worker: number, bucket: number) => ((FNV_OFFSET ^ Math.imul(worker, 0x9e3779b1)) + bucket) >>> 0;
const oldRouteSeed = (router: number, roomBytes: number) => (FNV_OFFSET ^ Math.imul(router, 0x9e3779b1) ^ roomBytes) >>> 0;

/** The 6 lowercase letters that spell `n` (0 <= n < 26^6) in base 26. */
function letters(n: number): Uint8Array {
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++, n = Math.floor(n / 26)) out[i] = 0x61 + (n % 26);
  return out;
}

/**
 * 2^blocks distinct ids of 6 * blocks letters whose FNV-1a states from `seed` are all equal: for
 * each block, two 6-letter strings that take the current state to the same next state (a
 * birthday search, about 10^5 tries), and every id picks one of the two per block.
 */
function fnvMulticollision(seed: number, blocks: number, r: Random): Uint8Array[] {
  const pairs: [Uint8Array, Uint8Array][] = [];
  let h = seed;
  for (let b = 0; b < blocks; b++) {
    const seen = new Map<number, number>();
    for (;;) {
      const n = r.int(0, 26 ** 6 - 1);
      const k = fnv(h, letters(n));
      const other = seen.get(k);
      if (other !== undefined && other !== n) {
        pairs.push([letters(other), letters(n)]);
        h = k;
        break;
      }
      seen.set(k, n);
    }
  }
  const ids: Uint8Array[] = [];
  for (let mask = 0; mask < 1 << blocks; mask++) {
    const id = new Uint8Array(6 * blocks);
    for (let b = 0; b < blocks; b++) id.set(pairs[b]![(mask >> b) & 1]!, 6 * b);
    ids.push(id);
  }
  return ids;
}

const SEED = Number(process.env["SEED"] ?? Date.now() % 1_000_000);
console.log(`hash tests seed ${SEED} (SEED=${SEED} replays)`);
const random = new Random(SEED);
// built once for both builds: the searches take most of the suite's time
const TRACK_IDS = fnvMulticollision(oldTrackSeed(0, 0), 11, random);
const ROOM = "RM_flood";
const ROUTE_START = fnv(oldRouteSeed(0, ROOM.length), new TextEncoder().encode(ROOM));
const PIDS = fnvMulticollision(ROUTE_START, 9, random).map((id) => new TextDecoder().decode(id));

function worker(wasm: WasmExports, room: string, pid: string, router: number): number {
  const bytes = new TextEncoder().encode(room + pid);
  const ptr = wasm.inputPtr(bytes.length);
  new Uint8Array(wasm.memory.buffer).set(bytes, ptr);
  const w = wasm.workerCreate(ptr, room.length, pid.length, 0, router);
  assert.ok(w >= 0);
  return w;
}

function put(wasm: WasmExports, bytes: Uint8Array): number {
  const ptr = wasm.inputPtr(bytes.length);
  new Uint8Array(wasm.memory.buffer).set(bytes, ptr);
  return ptr;
}

for (const build of BUILDS) {
  suite(`hashKey() and the track and route tables [${build}]`, () => {
    test("2 048 track ids that all collided under the old FNV-1a hash are inserted and found in linear probes", () => {
      const r = random;
      const ids = TRACK_IDS;
      // the input is the attack: one old hash for every id
      assert.equal(new Set(ids.map((id) => fnv(oldTrackSeed(0, 0), id))).size, 1);
      assert.equal(new Set(ids.map((id) => Buffer.from(id).toString("hex"))).size, ids.length);
      const wasm = instantiate(build);
      assert.equal(wasm.hashKey(r.u32(), r.u32(), r.u32(), r.u32()), 0);
      const w = worker(wasm, "RM", "PA", -1);
      assert.equal(w, 0);
      const before = wasm.hashProbes();
      const slots = ids.map((id) => wasm.trackSlot(w, 0, put(wasm, id), id.length));
      assert.ok(slots.every((s) => s >= 0));
      assert.equal(new Set(slots).size, ids.length);
      for (let i = 0; i < ids.length; i++) assert.equal(wasm.trackSlot(w, 0, put(wasm, ids[i]!), ids[i]!.length), slots[i]);
      const probes = wasm.hashProbes() - before;
      // 3 lookups or inserts per id; colliding ids would take about n/2 steps each (millions)
      assert.ok(probes < 3 * ids.length * 4, `${probes} probe steps for ${ids.length} ids`);
    });

    test("participants whose ids collided under the old route hash are routed in linear probes", () => {
      const r = random;
      const room = ROOM;
      const pids = PIDS;
      assert.equal(new Set(pids.map((p) => fnv(ROUTE_START, new TextEncoder().encode(p)))).size, 1);
      assert.equal(new Set(pids).size, pids.length);
      const wasm = instantiate(build);
      assert.equal(wasm.hashKey(r.u32(), r.u32(), r.u32(), r.u32()), 0);
      const router = wasm.routerCreate();
      const before = wasm.hashProbes();
      const workers = pids.map((pid) => worker(wasm, room, pid, router));
      // a batch of one stat per participant finds every worker through the route table
      const parts: number[] = [];
      const enc = new TextEncoder();
      for (const pid of pids) {
        const msg = [0x2a, room.length, ...enc.encode(room), 0x3a, pid.length, ...enc.encode(pid), 0x42, 1, 0x54];
        parts.push(msg.length, ...msg);
      }
      const batch = Uint8Array.from(parts);
      assert.equal(wasm.ingestBatch(put(wasm, batch), batch.length, router, 0, 0, 0, 0, 0), 0);
      const result = view(wasm);
      const at = wasm.batchResultPtr();
      assert.equal(result.getUint32(at + 12, true), pids.length, "every stat reached its worker");
      for (const w of workers) assert.equal(wasm.workerPending(w), 1);
      const probes = wasm.hashProbes() - before;
      // per participant: the replaced-route lookup, the insert, the batch lookup and its track
      assert.ok(probes < 4 * pids.length * 4, `${probes} probe steps for ${pids.length} participants`);
    });

    test("the key is set once, before the first table exists, and lookups work under it", () => {
      const wasm = instantiate(build);
      assert.equal(wasm.hashKey(1, 2, 3, 4), 0);
      assert.equal(wasm.hashKey(5, 6, 7, 8), 0, "no table yet: the key may still change");
      const w = worker(wasm, "R", "P", -1);
      const id = new TextEncoder().encode("TR_a");
      const slot = wasm.trackSlot(w, 1, put(wasm, id), id.length);
      assert.ok(slot >= 0);
      assert.equal(wasm.hashKey(9, 9, 9, 9), -1);
      assert.equal(wasm.trackSlot(w, 1, put(wasm, id), id.length), slot);
      assert.notEqual(wasm.trackSlot(w, 0, put(wasm, id), id.length), slot, "the bucket is part of the key");
    });

    test("two instances with different keys place the same ids differently, and both find them all", () => {
      const ids = Array.from({ length: 500 }, (_, i) => new TextEncoder().encode(`TR_${i}`));
      const order: number[][] = [];
      for (const k of [[1, 2, 3, 4], [4, 3, 2, 1]]) {
        const wasm = instantiate(build);
        wasm.hashKey(k[0]!, k[1]!, k[2]!, k[3]!);
        const w = worker(wasm, "R", "P", -1);
        const slots = ids.map((id) => wasm.trackSlot(w, 0, put(wasm, id), id.length));
        assert.deepEqual(ids.map((id) => wasm.trackSlot(w, 0, put(wasm, id), id.length)), slots);
        // the probes of a second round of lookups reveal where the ids sit
        const p0 = wasm.hashProbes();
        const steps = ids.map((id) => {
          const before = wasm.hashProbes();
          wasm.trackSlot(w, 0, put(wasm, id), id.length);
          return wasm.hashProbes() - before;
        });
        assert.ok(wasm.hashProbes() - p0 < ids.length * 4);
        order.push(steps);
      }
      assert.notDeepEqual(order[0], order[1]);
    });

    test("a worker's four newest tracks are found without the table, older ones through it, each in its own bucket", () => {
      const wasm = instantiate(build);
      const w = worker(wasm, "R", "P", -1);
      const ids = ["TR_a", "TR_b", "TR_c"].map((t) => new TextEncoder().encode(t));
      // the same ids in both buckets: six slots; the last four created are the newest
      const created: { bucket: number; id: Uint8Array; slot: number }[] = [];
      for (const id of ids) for (const bucket of [0, 1]) created.push({ bucket, id, slot: wasm.trackSlot(w, bucket, put(wasm, id), id.length) });
      assert.equal(new Set(created.map((c) => c.slot)).size, 6);
      created.forEach(({ bucket, id, slot }, i) => {
        const before = wasm.hashProbes();
        assert.equal(wasm.trackSlot(w, bucket, put(wasm, id), id.length), slot);
        const steps = wasm.hashProbes() - before;
        if (i >= created.length - 4) assert.equal(steps, 0, `track ${i} is among the newest four`);
        else assert.ok(steps >= 1, `track ${i} is looked up in the table`);
      });
    });

    test("ids of every length up to 40 that differ in one byte, at any offset, are told apart", () => {
      const wasm = instantiate(build);
      for (let n = 1; n <= 40; n++) {
        const base = Uint8Array.from({ length: n }, (_, i) => 0x41 + ((i * 7) % 26));
        for (let at = 0; at < n; at++) {
          // a fresh worker per pair: its two tracks are the newest, compared byte for byte
          const w = worker(wasm, "R", `P${n}_${at}`, -1);
          const other = base.slice();
          other[at] ^= 0x20;
          const a = wasm.trackSlot(w, 0, put(wasm, base), n);
          const b = wasm.trackSlot(w, 0, put(wasm, other), n);
          assert.ok(a >= 0 && b >= 0 && a !== b, `length ${n}, byte ${at}: ${a} ${b}`);
          assert.equal(wasm.trackSlot(w, 0, put(wasm, base), n), a, `length ${n}, byte ${at}`);
          assert.equal(wasm.trackSlot(w, 0, put(wasm, other), n), b, `length ${n}, byte ${at}`);
          wasm.workerFree(w);
        }
      }
    });

    test("a table that cannot get the memory to take a new key keeps its old one, and finds every id", () => {
      const key: [number, number, number, number] = [0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00d];
      const ids: Uint8Array[] = [];
      let target = -1;
      for (let n = 0; ids.length < 60; n++) {
        const id = new TextEncoder().encode(`TR_${n}`);
        const h = trackHashOf(key, 0, 0, id) & 1023;
        if (target < 0) target = h;
        if (h === target) ids.push(id);
      }
      const wasm = instantiate(build);
      assert.equal(wasm.hashKey(...key), 0);
      const w = worker(wasm, "R", "P", -1);
      const slots: number[] = [];
      let refused = 0;
      // Takes every free heap block of 16 bytes or more (as worker keys, which touch no track
      // table), with the heap kept from growing: then no table rebuild can get its memory.
      const starve = (): number[] => {
        wasm.setHeapLimit(1);
        const junk: number[] = [];
        for (let bytes = 1 << 20; bytes >= 16; bytes >>= 1) {
          for (;;) {
            const j = wasm.workerCreate(wasm.inputPtr(0), bytes, 0, 0, -1);
            if (j < 0) break;
            junk.push(j);
          }
        }
        return junk;
      };
      for (const id of ids) {
        const junk = starve();
        let slot = wasm.trackSlot(w, 0, put(wasm, id), id.length);
        if (slot === -1) {
          refused++;
          // while it is refused, every id already in (past the four compared without the table) is found
          slots.forEach((s, i) => assert.equal(wasm.trackSlot(w, 0, put(wasm, ids[i]!), ids[i]!.length), s, `id ${i} after a refused rebuild`));
        }
        for (const j of junk) wasm.workerFree(j);
        wasm.setHeapLimit(0);
        if (slot === -1) slot = wasm.trackSlot(w, 0, put(wasm, id), id.length);
        assert.ok(slot >= 0);
        slots.push(slot);
      }
      assert.ok(refused > 0, "no rebuild was refused");
      assert.equal(new Set(slots).size, ids.length);
      assert.deepEqual(ids.map((id) => wasm.trackSlot(w, 0, put(wasm, id), id.length)), slots);
    });
  });
}

// ── SipHash-1-3, the reference: ids that collide under a known key ────────────────────────────

const MASK64 = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & MASK64;

/** SipHash-1-3 of `message` under (k0, k1), as the reference defines it (c = 1, d = 3). */
function sipHash13(k0: bigint, k1: bigint, message: Uint8Array): bigint {
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & MASK64; v1 = rotl(v1, 13n) ^ v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK64; v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK64; v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK64; v1 = rotl(v1, 17n) ^ v2; v2 = rotl(v2, 32n);
  };
  const words = message.length >> 3;
  const dv = new DataView(message.buffer, message.byteOffset, message.byteLength);
  for (let i = 0; i < words; i++) {
    const m = dv.getBigUint64(i * 8, true);
    v3 ^= m; round(); v0 ^= m;
  }
  let last = BigInt(message.length & 0xff) << 56n;
  for (let i = words * 8; i < message.length; i++) last |= BigInt(message[i]!) << BigInt(8 * (i - words * 8));
  v3 ^= last; round(); v0 ^= last;
  v2 ^= 0xffn;
  round(); round(); round();
  return (v0 ^ v1 ^ v2 ^ v3) & MASK64;
}

const le64 = (x: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, x & MASK64, true);
  return b;
};

/** The engine's track-table hash of (worker, bucket, id) under instance key (a, b, c, d), epoch 0. */
function trackHashOf(key: [number, number, number, number], worker: number, bucket: number, id: Uint8Array): number {
  const k0 = BigInt(key[0]) | (BigInt(key[1]) << 32n);
  const k1 = BigInt(key[2]) | (BigInt(key[3]) << 32n);
  // the track table's key: kind 0, epoch 0, and its complement
  const t0 = sipHash13(k0, k1, le64(0n));
  const t1 = sipHash13(k0, k1, le64(~0n));
  const message = new Uint8Array(8 + id.length);
  message.set(le64(BigInt(worker >>> 0) | (BigInt(bucket) << 32n)));
  message.set(id, 8);
  return Number(sipHash13(t0, t1, message) & 0xffffffffn);
}

for (const build of BUILDS) {
  suite(`track table probe bound [${build}]`, () => {
    test("ids colliding under a known key probe long once, then the table rebuilds and lookups are short", () => {
      const key: [number, number, number, number] = [0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00d];
      // 60 ids whose hashes agree in their low 10 bits: one cluster in every table up to 1 024 entries
      const ids: Uint8Array[] = [];
      let target = -1;
      for (let n = 0; ids.length < 60; n++) {
        const id = new TextEncoder().encode(`TR_${n}`);
        const h = trackHashOf(key, 0, 0, id) & 1023;
        if (target < 0) target = h;
        if (h === target) ids.push(id);
      }
      const wasm = instantiate(build);
      assert.equal(wasm.hashKey(...key), 0);
      const w = worker(wasm, "R", "P", -1);
      const p0 = wasm.hashProbes();
      const slots = ids.map((id) => wasm.trackSlot(w, 0, put(wasm, id), id.length));
      assert.ok(slots.every((s) => s >= 0));
      const inserting = wasm.hashProbes() - p0;
      // the ids did collide in the module (its SipHash is the reference's): about n^2 steps
      assert.ok(inserting > 48 * 48, `${inserting} probe steps to insert colliding ids`);
      const p1 = wasm.hashProbes();
      assert.deepEqual(ids.map((id) => wasm.trackSlot(w, 0, put(wasm, id), id.length)), slots);
      const finding = wasm.hashProbes() - p1;
      // after the long probes the sparse table took a new key: the cluster is gone
      assert.ok(finding < ids.length * 4, `${finding} probe steps to find ${ids.length} ids`);
    });
  });
}
