/**
 * The canonical-order fast path of decodeFold() against the generic decoder: two instances fed
 * the same inputs, one with the fast path (the default) and one with it off (setFastDecode(0)),
 * must agree on every status, error offset, info record, slot record, batch result and drained
 * output byte, in both profiles. Every input the generic decoder rejects must have been left to
 * it by the fast path (a miss), and inputs a canonical encoder wrote must not be.
 *
 * @module
 */
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, type StreamType } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { BATCH, INFO, type WasmExports } from "../../src/engine/wasm/abi.ts";
import { Random } from "../../src/sim/random.ts";
import { BUILDS, encode, instantiate, slotBytes, stat, tag, varint, type Build } from "./harness.ts";
import { corpus, realisticStat } from "./corpus.ts";
import { StatGen, mutateEncoded } from "../random-stats.ts";
import { Mutator } from "../hardening/fuzz/mutator.ts";
import { CLEAN_PARTICIPANT, PARTICIPANT, ROOM, edgeInputs, seedCorpus } from "../hardening/fuzz/corpus.ts";
import { fields } from "../hardening/fuzz/wire.ts";
import { loadFixtures } from "../hardening/fuzz/fixtures.ts";

// Re-run a failure with FAST_SEED=<seed printed in the test output>.
const SEED = Number(process.env.FAST_SEED ?? 0xfa57_2026) >>> 0;
const INPUTS = Number(process.env.FAST_INPUTS ?? 3000);

const PROFILES = [
  ["default", 0],
  ["livekit-current", 1],
] as const;

const enc = new TextEncoder();

function put(wasm: WasmExports, bytes: Uint8Array): number {
  const ptr = wasm.inputPtr(Math.max(bytes.length, 1));
  assert.ok(ptr !== 0, "inputPtr: out of memory");
  new Uint8Array(wasm.memory.buffer).set(bytes, ptr);
  return ptr;
}

/** What one instance made of one input. */
interface Outcome {
  status: number;
  info: string;
  slot: string;
}

/** One instance with the workers the fuzz corpora route to. */
class Side {
  readonly wasm: WasmExports;
  readonly router: number;
  readonly workers: number[];

  constructor(build: Build, profile: number, fast: boolean) {
    this.wasm = instantiate(build);
    this.wasm.setProfile(profile);
    this.wasm.setFastDecode(fast ? 1 : 0);
    this.router = this.wasm.routerCreate();
    this.workers = [PARTICIPANT, CLEAN_PARTICIPANT].map((pid) => {
      const key = enc.encode(ROOM + pid);
      const w = this.wasm.workerCreate(put(this.wasm, key), enc.encode(ROOM).length, enc.encode(pid).length, 0, this.router);
      assert.ok(w >= 0);
      return w;
    });
  }

  /** decodeFold() of `bytes` into the first worker's track "t" (bucket `bucket`). */
  feed(bytes: Uint8Array, bucket: number): Outcome {
    const id = enc.encode("t");
    const slot = this.wasm.trackSlot(this.workers[0]!, bucket, put(this.wasm, id), id.length);
    assert.ok(slot >= 0);
    const status = this.wasm.decodeFold(put(this.wasm, bytes), bytes.length, slot);
    // a rejected message has only its error offset in the info record (the ids there are whatever
    // the generic decoder last read, never looked at)
    const info = new Uint8Array(this.wasm.memory.buffer, this.wasm.infoPtr(), status < 0 ? 4 : INFO.SIZE);
    return { status, info: Buffer.from(info).toString("hex"), slot: Buffer.from(slotBytes(this.wasm, slot)).toString("hex") };
  }

  /** ingestBatch() of `messages` size-delimited: the batch result record's bytes. */
  batch(messages: readonly Uint8Array[]): string {
    const parts: number[] = [];
    for (const m of messages) parts.push(...varint(m.length), ...m);
    const bytes = Uint8Array.from(parts);
    this.wasm.ingestBatch(put(this.wasm, bytes), bytes.length, this.router, 0, 0, 0, 0, 0);
    return Buffer.from(new Uint8Array(this.wasm.memory.buffer, this.wasm.batchResultPtr(), BATCH.SIZE)).toString("hex");
  }

  /** Every worker's window encoded (drainEncode) and reset: the output bytes, in hex. */
  drain(): string[] {
    return this.workers.map((w) => {
      const length = this.wasm.drainEncode(w, 1_700_000_000, 5, 0);
      assert.ok(length >= 0);
      return Buffer.from(new Uint8Array(this.wasm.memory.buffer, this.wasm.outputPtr(), length)).toString("hex");
    });
  }
}

/** A fast and a generic instance, fed alike and compared after every step. */
class Pair {
  readonly fast: Side;
  readonly generic: Side;
  /** inputs fed, and how many of them the fast path decoded itself */
  fed = 0;
  hits = 0;

  constructor(build: Build, profile: number) {
    this.fast = new Side(build, profile, true);
    this.generic = new Side(build, profile, false);
  }

  /** Feeds `bytes` to both; asserts equal outcomes; returns whether the fast path decoded it. */
  feed(bytes: Uint8Array, label: string, bucket = 0): { hit: boolean; status: number } {
    const misses = this.fast.wasm.fastDecodeMisses();
    const a = this.fast.feed(bytes, bucket);
    const b = this.generic.feed(bytes, bucket);
    const hex = Buffer.from(bytes).toString("hex");
    assert.deepEqual(a, b, `${label}: fast and generic differ on ${hex}`);
    const hit = this.fast.wasm.fastDecodeMisses() === misses;
    // by construction: nothing the generic decoder rejects is decoded by the fast path
    if (b.status < 0) assert.equal(hit, false, `${label}: the fast path accepted ${hex}, which the generic decoder rejects (${b.status})`);
    this.fed++;
    if (hit) this.hits++;
    return { hit, status: b.status };
  }

  batch(messages: readonly Uint8Array[], label: string): void {
    assert.equal(this.fast.batch(messages), this.generic.batch(messages), `${label}: batch results differ`);
  }

  drain(label: string): void {
    assert.deepEqual(this.fast.drain(), this.generic.drain(), `${label}: drained outputs differ`);
  }

  /** The generic instance never tried the fast path. */
  checkGenericStayedGeneric(): void {
    assert.equal(this.generic.wasm.fastDecodeMisses(), 0);
  }
}

/** Feeds `inputs` one by one, then as batches of 16, draining now and then. */
function feedAll(pair: Pair, inputs: readonly { name: string; bytes: Uint8Array }[]): void {
  inputs.forEach(({ name, bytes }, i) => {
    pair.feed(bytes, name, i & 1);
    if (i % 32 === 31) pair.drain(`after ${name}`);
  });
  pair.drain("after the single inputs");
  for (let i = 0; i < inputs.length; i += 16) {
    const group = inputs.slice(i, i + 16);
    pair.batch(group.map((x) => x.bytes), `batch at ${group[0]!.name}`);
    pair.drain(`after batch at ${group[0]!.name}`);
  }
  pair.checkGenericStayedGeneric();
}

/** `message` with the top-level fields reordered by `order` (indices into its fields). */
function reordered(message: Uint8Array, order: (n: number) => number[]): Uint8Array {
  const b = Array.from(message);
  const f = fields(b)!;
  return Uint8Array.from(order(f.length).flatMap((i) => b.slice(f[i]!.start, f[i]!.end)));
}

/** `message` with its top-level field `fieldNo` (the first occurrence) replaced by `bytes`. */
function replaced(message: Uint8Array, fieldNo: number, bytes: readonly number[]): Uint8Array {
  const b = Array.from(message);
  const f = fields(b)!.find((x) => x.fieldNo === fieldNo)!;
  return Uint8Array.from([...b.slice(0, f.start), ...bytes, ...b.slice(f.end)]);
}

/** The top-level field `fieldNo` of `message` (its first occurrence), tag to end. */
function fieldOf(message: Uint8Array, fieldNo: number): number[] {
  const b = Array.from(message);
  const f = fields(b)!.find((x) => x.fieldNo === fieldNo)!;
  return b.slice(f.start, f.end);
}

for (const build of BUILDS) {
  for (const [profileName, profile] of PROFILES) {
    suite(`decodeFold() fast path [${build}, ${profileName}]`, () => {
      test("decodes protobuf-es encodings itself, the same as the generic decoder", () => {
        const pair = new Pair(build, profile);
        const inputs = corpus().map((s, i) => ({ name: `corpus ${i}`, bytes: encode(s) }));
        for (const { name, bytes } of inputs) assert.ok(pair.feed(bytes, name).hit, `${name} missed`);
        pair.drain("corpus");
        feedAll(pair, inputs);
      });

      test("leaves every kind of non-canonical input to the generic decoder, with the generic result", () => {
        const pair = new Pair(build, profile);
        const canonical = encode(realisticStat());
        assert.equal(pair.feed(canonical, "canonical").hit, true);
        const n = fields(Array.from(canonical))!.length;
        const cases: [string, Uint8Array][] = [
          ["two fields swapped", reordered(canonical, (k) => [1, 0, ...Array.from({ length: k - 2 }, (_, i) => i + 2)])],
          ["fields reversed", reordered(canonical, (k) => Array.from({ length: k }, (_, i) => k - 1 - i))],
          ["score repeated", Uint8Array.from([...canonical, ...fieldOf(canonical, 9)])],
          ["track id repeated", Uint8Array.from([...canonical, ...fieldOf(canonical, 8)])],
          ["a stream after the mime", Uint8Array.from([...canonical, ...fieldOf(canonical, 10)])],
          ["unknown varint field", Uint8Array.from([...canonical, ...tag(20, 0), 1])],
          ["unknown field in the middle", replaced(canonical, 5, [...fieldOf(canonical, 5), ...tag(20, 2), 0])],
          ["overlong kind", replaced(canonical, 2, [...tag(2, 0), 0x81, 0x00])],
          ["padded varint in a stream", Uint8Array.from([...tag(10, 2), 3, ...tag(2, 0), 0x85, 0x00])],
          ["a counter as an 11-byte varint", Uint8Array.from([...tag(10, 2), 12, ...tag(2, 0), ...Array(10).fill(0x81), 0x01])],
          ["kind as an 11-byte varint", replaced(canonical, 2, [...tag(2, 0), ...Array(10).fill(0x81), 0x01])],
          // 14 bytes, then the field again where a cursor moved by a wrong length would land
          ["kind as a 14-byte varint, then kind", replaced(canonical, 2, [...tag(2, 0), ...Array(13).fill(0x8d), 0x23, ...tag(2, 0), 1])],
          ["a 10-byte varint padded", Uint8Array.from([...tag(10, 2), 11, ...tag(2, 0), 0x81, ...Array(8).fill(0x80), 0x00])],
          ["a counter packed (length-delimited)", Uint8Array.from([...tag(10, 2), 4, ...tag(2, 2), 2, 5, 6])],
          ["score as a varint (wire-type mismatch)", Uint8Array.from([...tag(9, 0), 7])],
          ["kind as a fixed32", Uint8Array.from([...tag(2, 5), 1, 0, 0, 0])],
          ["streams as a varint", Uint8Array.from([...tag(10, 0), 3])],
          ["stream overrunning the message", Uint8Array.from([...tag(10, 2), 9, ...tag(2, 0), 5])],
          ["layer overrunning its stream", Uint8Array.from([...tag(10, 2), 4, ...tag(15, 2), 6, ...tag(2, 0), 5, ...tag(2, 0), 5])],
          ["invalid UTF-8 in the room id", Uint8Array.from([...tag(5, 2), 2, 0xc3, 0x28])],
          ["65 streams", Uint8Array.from(Array.from({ length: 65 }, () => [...tag(10, 2), 0]).flat())],
          ["33 layers", Uint8Array.from([...tag(10, 2), 66, ...Array.from({ length: 33 }, () => [...tag(15, 2), 0]).flat()])],
        ];
        for (const [name, bytes] of cases) {
          assert.equal(pair.feed(bytes, name).hit, false, `${name}: the fast path should have left it to the generic decoder`);
        }
        // canonical, if unusual: decoded by the fast path, still as the generic decoder does
        const unusual: [string, Uint8Array][] = [
          ["non-ASCII room id", Uint8Array.from([...tag(5, 2), 4, ...enc.encode("ré"), 0x41])],
          ["a u32 counter as a 9-byte varint", Uint8Array.from([...tag(10, 2), 10, ...tag(2, 0), 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])],
          ["a 10-byte u32 counter whose last byte has more than bit 0", Uint8Array.from([...tag(10, 2), 11, ...tag(2, 0), 0x81, ...Array(8).fill(0x80), 0x7f])],
          ["a negative layer (10-byte varint)", encode(statWithLayer(-1))],
          ["a negative kind", encode(stat({ kind: -1 as StreamType, trackId: "x" }))],
          ["bytes over 2^63 (an invalid stat)", encode(stat({ streams: [{ primaryBytes: 1n << 63n }] }))],
          ["an empty message", new Uint8Array()],
        ];
        for (const [name, bytes] of unusual) assert.equal(pair.feed(bytes, name).hit, true, `${name}: the fast path should have decoded it`);
        pair.drain("after the cases");
        // truncated at every byte: a prefix ending at a field boundary is a canonical message
        // itself; every other one is left to the generic decoder, which rejects it
        let missed = 0;
        for (let cut = 0; cut < canonical.length; cut++) {
          const { hit, status } = pair.feed(canonical.subarray(0, cut), `cut at ${cut}`);
          if (!hit) {
            missed++;
            assert.ok(status < 0, `cut at ${cut}: a miss the generic decoder accepts`);
          }
        }
        assert.ok(missed > canonical.length / 2);
        pair.drain("after the truncations");
        assert.ok(n > 10);
        pair.checkGenericStayedGeneric();
      });

      test("agrees with the generic decoder on the hardening fuzz corpora and fixtures", async () => {
        const pair = new Pair(build, profile);
        const r = new Random(SEED ^ 0x1234);
        const seeds = seedCorpus(r);
        const inputs = [
          ...(await loadFixtures()),
          ...edgeInputs().filter((e) => e.bytes.length < 1 << 16),
          ...seeds.map((bytes, i) => ({ name: `seed ${i}`, bytes })),
        ];
        const mutator = new Mutator(r, seeds);
        for (let i = 0; i < INPUTS; i++) inputs.push({ name: `mutant ${i} (seed ${SEED})`, bytes: mutator.next() });
        feedAll(pair, inputs);
        // the seeds are protobuf-es encodings: most must take the fast path, or it is not tested
        assert.ok(pair.hits > seeds.length / 2, `only ${pair.hits} of ${pair.fed} inputs took the fast path`);
      });

      test(`agrees with the generic decoder on ${INPUTS} random and mutated stats (seed ${SEED})`, (t) => {
        t.diagnostic(`seed ${SEED} (FAST_SEED to re-run)`);
        const r = new Random(SEED);
        const gen = new StatGen(r, 0.15);
        const pair = new Pair(build, profile);
        const inputs: { name: string; bytes: Uint8Array }[] = [];
        for (let i = 0; i < INPUTS; i++) {
          const s = i % 2 === 0 ? gen.fullStat() : gen.stat();
          s.roomId = ROOM;
          s.participantId = r.chance(0.7) ? PARTICIPANT : CLEAN_PARTICIPANT;
          const bytes = toBinary(AnalyticsStatSchema, s);
          inputs.push({ name: `#${i} (seed ${SEED})`, bytes: r.chance(0.5) ? mutateEncoded(r, bytes) : bytes });
        }
        feedAll(pair, inputs);
        t.diagnostic(`${pair.hits} of ${pair.fed} inputs took the fast path`);
        assert.ok(pair.hits > pair.fed / 8);
      });
    });
  }
}

function statWithLayer(layer: number) {
  const s = realisticStat();
  s.streams[0]!.videoLayers[0]!.layer = layer;
  return s;
}
