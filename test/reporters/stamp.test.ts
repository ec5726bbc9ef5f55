import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { WireType } from "@bufbuild/protobuf/wire";
import { isDecodeError } from "../../src/errors.ts";
import {
  type AnalyticsStat,
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
} from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { decodeStat } from "../../src/engine/decode-stat.ts";
import { Random } from "../../src/sim/random.ts";
import { concatBatches, StampBuffer, stampBatch } from "../../src/reporters/stamp.ts";
import { newStatId, writeStatIdInto, STAT_ID_LENGTH } from "../../src/reporters/stat-id.ts";
import { mutateEncoded, StatGen } from "../random-stats.ts";
import { makeBatch } from "./helpers.ts";

const SEED = process.env["SEED"] !== undefined ? Number(process.env["SEED"]) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
console.log(`stamp seed: ${SEED} (re-run with SEED=${SEED})`);

const ID = /^AS_[0-9A-Za-z]{12}$/;

function encode(stats: AnalyticsStat[]): Uint8Array {
  return toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats }));
}

/** The stat protobuf-es would send after setting node and id, as bytes (NaN scores compare equal this way). */
function expectedBytes(stat: AnalyticsStat, node: string | undefined, id: string): Uint8Array {
  const copy = clone(AnalyticsStatSchema, stat);
  if (node !== undefined) copy.node = node;
  copy.id = id;
  return toBinary(AnalyticsStatSchema, copy);
}

function assertStampedLike(input: Uint8Array, output: Uint8Array, node: string | undefined, what: string): void {
  const before = fromBinary(AnalyticsStatsSchema, input).stats;
  const after = fromBinary(AnalyticsStatsSchema, output).stats;
  assert.equal(after.length, before.length, `${what}: stat count`);
  for (let i = 0; i < before.length; i++) {
    const id = before[i]!.id !== "" ? before[i]!.id : after[i]!.id;
    if (before[i]!.id === "") assert.match(after[i]!.id, ID, `${what}: stat ${i} id`);
    assert.deepEqual(
      toBinary(AnalyticsStatSchema, after[i]!),
      expectedBytes(before[i]!, node, id),
      `${what}: stat ${i} differs from the input with node and id set (seed ${SEED})`,
    );
  }
}

suite("stampBatch()", () => {
  test("sets node and a fresh AS_ id on every stat of random batches, leaving every other field as it was", () => {
    const gen = new StatGen(new Random(SEED), 0.2);
    const r = new Random(SEED ^ 0x5a5a);
    for (let round = 0; round < 300; round++) {
      const stats = Array.from({ length: r.int(0, 20) }, () => gen.stat());
      const input = encode(stats);
      const node = r.chance(0.2) ? undefined : r.pick(["SFU_1", "", "nœud-é", "x".repeat(300)]);
      const { bytes, stats: count } = stampBatch(input, node === undefined ? {} : { node });
      assert.equal(count, stats.length);
      assertStampedLike(input, bytes, node, `round ${round}`);
      if (node === undefined) {
        const out = fromBinary(AnalyticsStatsSchema, bytes).stats;
        out.forEach((s, i) => assert.equal(s.node, stats[i]!.node));
      }
    }
  });

  test("gives every stat a different id, across batches too", () => {
    const input = encode(makeBatch(1, 500));
    const ids = new Set<string>();
    for (let i = 0; i < 4; i++) {
      for (const s of fromBinary(AnalyticsStatsSchema, stampBatch(input).bytes).stats) ids.add(s.id);
    }
    assert.equal(ids.size, 2000);
  });

  test("keeps an id a stat already has, so stamping twice keeps the ids", () => {
    const stats = makeBatch(2, 3);
    stats[1]!.id = "AS_keepme";
    const once = stampBatch(encode(stats), { node: "a" }).bytes;
    const twice = stampBatch(once, { node: "b" }).bytes;
    const a = fromBinary(AnalyticsStatsSchema, once).stats;
    const b = fromBinary(AnalyticsStatsSchema, twice).stats;
    assert.equal(a[1]!.id, "AS_keepme");
    assert.deepEqual(b.map((s) => s.id), a.map((s) => s.id));
    assert.deepEqual(b.map((s) => s.node), ["b", "b", "b"]);
  });

  test("uses newId for stats without an id, whatever its length", () => {
    let n = 0;
    const out = stampBatch(encode(makeBatch(3, 3)), { newId: () => `id-${n++}-${"é".repeat(n * 50)}` }).bytes;
    assert.deepEqual(
      fromBinary(AnalyticsStatsSchema, out).stats.map((s) => s.id),
      [0, 1, 2].map((i) => `id-${i}-${"é".repeat((i + 1) * 50)}`),
    );
  });

  test("stamps stats larger than 128 bytes, whose length prefix grows by a byte", () => {
    // A stat of 120-127 bytes plus the stamped fields crosses the one-byte varint boundary.
    for (let pad = 0; pad < 40; pad++) {
      const stat = create(AnalyticsStatSchema, { trackId: "T".repeat(80 + pad) });
      const input = encode([stat, stat]);
      assertStampedLike(input, stampBatch(input, { node: "SFU" }).bytes, "SFU", `pad ${pad}`);
    }
  });

  test("stamps a batch that comes out shorter than it went in (over-long length prefixes, ids kept, no node)", () => {
    // A stat with an id whose length prefix is a 2-byte varint, then an ordinary stat.
    const plain = encode(makeBatch(9, 1));
    const input = new Uint8Array([0x0a, 0x84, 0x00, 0x72, 0x02, 0x61, 0x62, ...plain]);
    const { bytes, stats } = stampBatch(input);
    assert.equal(stats, 2);
    const out = fromBinary(AnalyticsStatsSchema, bytes).stats;
    assert.equal(out[0]!.id, "ab");
    assert.match(out[1]!.id, ID);
    assertStampedLike(input, bytes, undefined, "shrinking");
    const buffer = new StampBuffer(1 << 20);
    buffer.add(plain);
    buffer.add(new Uint8Array([0x0a, 0x84, 0x00, 0x72, 0x02, 0x61, 0x62]));
    const both = fromBinary(AnalyticsStatsSchema, buffer.take().bytes).stats;
    assert.deepEqual(both.map((st) => st.trackId), ["TR_9_0", ""]);
    assert.equal(both[1]!.id, "ab");
  });

  test("copies unknown top-level fields and an empty batch through unchanged", () => {
    assert.equal(stampBatch(new Uint8Array(0)).bytes.length, 0);
    const stat = encode(makeBatch(4, 1));
    // field 2 varint 7, then field 3 as a group holding a varint, then the stat.
    const input = new Uint8Array([0x10, 0x07, 0x1b, 0x08, 0x01, 0x1c, ...stat]);
    const { bytes, stats } = stampBatch(input, { node: "n" });
    assert.equal(stats, 1);
    assert.deepEqual(Array.from(bytes.subarray(0, 6)), [0x10, 0x07, 0x1b, 0x08, 0x01, 0x1c]);
    assertStampedLike(input, bytes, "n", "unknown fields");
  });

  test("returns a fresh buffer and leaves its input unchanged", () => {
    const input = encode(makeBatch(5, 2));
    const copy = input.slice();
    const { bytes } = stampBatch(input, { node: "n" });
    assert.deepEqual(input, copy);
    assert.notEqual(bytes.buffer, input.buffer);
  });

  test("throws a DecodeError naming the stat for a batch cut anywhere inside a stat", () => {
    const stats = makeBatch(6, 3);
    const input = encode(stats);
    // Where each stat's encoding ends in the batch.
    const ends: number[] = [];
    for (const s of stats) ends.push((ends.at(-1) ?? 0) + encode([s]).length);
    for (let cut = 1; cut < input.length; cut++) {
      const prefix = input.subarray(0, cut);
      const whole = ends.filter((e) => e <= cut).length;
      if (ends.includes(cut)) {
        assert.equal(stampBatch(prefix).stats, whole, `cut at the boundary ${cut}`);
        continue;
      }
      assert.throws(
        () => stampBatch(prefix),
        (err: unknown) => isDecodeError(err) && err.index === whole,
        `cut at ${cut}`,
      );
    }
  });

  test("reads a known field by its declared type whatever wire type its tag says, as protobuf-es does", () => {
    // score (9, float) tagged as a varint, then stats (1) tagged as a fixed32, then an id (14) tagged as a varint.
    const stat = [0x48, 0x00, 0x00, 0x80, 0x3f, 0x70, 0x03, 0x41, 0x53, 0x5f];
    const input = new Uint8Array([0x0d, stat.length, ...stat]);
    const parsed = fromBinary(AnalyticsStatsSchema, input).stats;
    assert.equal(parsed[0]!.score, 1);
    assert.equal(parsed[0]!.id, "AS_");
    const out = fromBinary(AnalyticsStatsSchema, stampBatch(input, { node: "n" }).bytes).stats;
    assert.equal(out[0]!.score, 1);
    assert.equal(out[0]!.id, "AS_", "the id is kept");
    assert.equal(out[0]!.node, "n");
  });

  test("throws a DecodeError for bad tags, over-long varints, unbalanced groups and stats of another wire type", () => {
    const cases: Array<[string, number[], string]> = [
      ["field number 0", [0x00, 0x01], "bad_tag"],
      ["wire type 7", [0x0f], "bad_tag"],
      ["end group with none open", [0x14], "bad_tag"],
      ["tag over uint32", [0x88, 0x80, 0x80, 0x80, 0x10, 0x01], "bad_varint"],
      ["11-byte varint", [0x10, ...Array(10).fill(0xff), 0x01], "bad_varint"],
      ["group closed by another field", [0x1b, 0x24], "bad_group"],
      ["group never closed", [0x1b, 0x08, 0x01], "truncated"],
      ["groups nested 100 deep", [...Array(100).fill(0x1b), ...Array(100).fill(0x1c)], "too_deep"],
      ["bad tag inside a stat", [0x0a, 0x02, 0x07, 0x00], "bad_tag"],
      ["length past the end inside a stat", [0x0a, 0x02, 0x2a, 0x05], "truncated"],
    ];
    for (const [what, bytes, code] of cases) {
      assert.throws(
        () => stampBatch(new Uint8Array(bytes)),
        (err: unknown) => isDecodeError(err) && err.code === code,
        what,
      );
    }
  });

  test("refuses mutated batches only with a DecodeError, and stamps every one protobuf-es accepts, re-encoded, exactly", () => {
    const r = new Random(SEED ^ 0x1234);
    const gen = new StatGen(r, 0.2);
    let parsed = 0;
    for (let round = 0; round < 3000; round++) {
      const input = mutateEncoded(r, encode(Array.from({ length: r.int(1, 4) }, () => gen.stat())));
      try {
        stampBatch(input, { node: "n" });
      } catch (err) {
        assert.ok(isDecodeError(err), `round ${round}: not a DecodeError: ${String(err)} (seed ${SEED})`);
      }
      // protobuf-es lets a field run past the end of its message into the bytes after it, which
      // no splice can preserve; its re-encoding of what it read is what a sender would send.
      let canonical: Uint8Array;
      try {
        canonical = toBinary(AnalyticsStatsSchema, fromBinary(AnalyticsStatsSchema, input));
      } catch {
        continue;
      }
      // protobuf-es also keeps (and re-encodes) an unknown varint longer than 10 bytes, which this
      // package refuses everywhere, as the engines do: such a batch must be refused as bad_varint
      // (stamping walks only the top level of each stat, so one nested deeper may go through: then
      // it must be stamped exactly like any other batch)
      let stamped: Uint8Array;
      try {
        stamped = stampBatch(canonical, { node: "n" }).bytes;
      } catch (err) {
        if (isDecodeError(err) && err.code === "bad_varint" && hasOverlongUnknownVarint(canonical)) continue;
        throw new Error(`mutated round ${round}: a batch protobuf-es accepts was refused (seed ${SEED})`, { cause: err });
      }
      assertStampedLike(canonical, stamped, "n", `mutated round ${round}`);
      parsed++;
    }
    assert.ok(parsed > 100, `only ${parsed} mutated batches were valid`);
  });
});

suite("StampBuffer", () => {
  test("appends stamped batches back to back into one valid AnalyticsStats and empties on take()", () => {
    const buffer = new StampBuffer(1 << 20, { node: "n" });
    const inputs = [encode(makeBatch(1, 2)), encode(makeBatch(2, 3)), encode([])];
    for (const b of inputs) assert.equal(buffer.add(b), true);
    assert.deepEqual([buffer.batches, buffer.stats], [3, 5]);
    const { bytes, stats, batches } = buffer.take();
    assert.deepEqual([stats, batches, buffer.length, buffer.batches], [5, 3, 0, 0]);
    assertStampedLike(concatBatches(inputs), bytes, "n", "buffer");
    assert.equal(buffer.take().bytes.length, 0);
  });

  test("refuses a batch past its byte, stat or batch limit unless empty, and keeps nothing of a malformed one", () => {
    const one = encode(makeBatch(1, 2));
    const size = stampBatch(one).bytes.length;
    const byBytes = new StampBuffer(size * 2);
    assert.ok(byBytes.add(one) && byBytes.add(one));
    assert.equal(byBytes.add(one), false);
    assert.equal(new StampBuffer(1).add(one), true, "an empty buffer takes a batch over the limit");
    const byStats = new StampBuffer(1 << 20, {}, 3);
    assert.ok(byStats.add(one));
    assert.equal(byStats.add(one), false);
    const byBatches = new StampBuffer(1 << 20, {}, Infinity, 1);
    assert.ok(byBatches.add(one));
    assert.equal(byBatches.add(one), false);
    const buffer = new StampBuffer(1 << 20);
    buffer.add(one);
    assert.throws(() => buffer.add(one.subarray(0, one.length - 1)), (err: unknown) => isDecodeError(err));
    assert.deepEqual([buffer.batches, buffer.stats, buffer.length], [1, 2, size]);
    assert.equal(fromBinary(AnalyticsStatsSchema, buffer.take().bytes).stats.length, 2);
  });
  test("addStamped appends a batch stamped elsewhere as it is, counted by the stats it is told, within the same limits", () => {
    const one = stampBatch(encode(makeBatch(1, 2)), { node: "n" }).bytes;
    const buffer = new StampBuffer(one.length * 2 + 1, { node: "n" }, 5);
    assert.ok(buffer.addStamped(one, 2) && buffer.add(encode(makeBatch(2, 1))));
    assert.equal(buffer.addStamped(one, 2), false, "past the stat limit");
    assert.deepEqual([buffer.batches, buffer.stats], [2, 3]);
    const { bytes } = buffer.take();
    assert.deepEqual(bytes.subarray(0, one.length), one, "the stamped batch is copied unchanged");
    const stats = fromBinary(AnalyticsStatsSchema, bytes).stats;
    assert.equal(stats.length, 3);
    assert.equal(new Set(stats.map((st) => st.id)).size, 3);
    assert.equal(new StampBuffer(1).addStamped(one, 2), true, "an empty buffer takes a batch over the limit");
  });

  test("hands over what it holds without copying, and writes into a recycled buffer again", () => {
    const buffer = new StampBuffer(1 << 20, { node: "n" });
    const one = encode(makeBatch(1, 2));
    buffer.add(one);
    const first = buffer.take().bytes;
    assert.equal(buffer.length, 0);
    buffer.add(one);
    const second = buffer.take().bytes;
    assert.notEqual(second.buffer, first.buffer, "a taken buffer is never written while the taker holds it");
    assertStampedLike(one, first, "n", "first");
    buffer.recycle(first);
    buffer.recycle(first); // twice: kept once
    buffer.add(encode(makeBatch(2, 3)));
    const third = buffer.take().bytes;
    assert.equal(third.buffer, first.buffer, "the recycled buffer is written into again");
    assertStampedLike(encode(makeBatch(2, 3)), third, "n", "third");
    buffer.add(one);
    assert.notEqual(buffer.take().bytes.buffer, first.buffer, "a recycled buffer is handed out once");
    // bytes from elsewhere are let go
    buffer.recycle(new Uint8Array(new ArrayBuffer(8 << 20)));
    buffer.add(one);
    assert.ok(buffer.take().bytes.buffer.byteLength < 8 << 20);
  });
});

suite("concatBatches()", () => {
  test("joins encoded batches into one AnalyticsStats with all their stats in order", () => {
    const a = encode(makeBatch(1, 2));
    const b = encode(makeBatch(2, 3));
    const joined = fromBinary(AnalyticsStatsSchema, concatBatches([a, b])).stats;
    assert.deepEqual(joined.map((s) => s.trackId), ["TR_1_0", "TR_1_1", "TR_2_0", "TR_2_1", "TR_2_2"]);
    const single = concatBatches([a]);
    assert.deepEqual(single, a);
    assert.notEqual(single.buffer, a.buffer);
  });
});

suite("newStatId() and writeStatIdInto()", () => {
  test("make AS_ and 12 base62 characters, unique across many calls", () => {
    const ids = new Set<string>();
    const buf = new Uint8Array(STAT_ID_LENGTH);
    const decoder = new TextDecoder();
    for (let i = 0; i < 5000; i++) {
      ids.add(newStatId());
      assert.equal(writeStatIdInto(buf, 0), STAT_ID_LENGTH);
      ids.add(decoder.decode(buf));
    }
    assert.equal(ids.size, 10_000);
    for (const id of ids) assert.match(id, ID);
  });
});

// Whether a stat of `batch` carries an unknown varint over 10 bytes: decodeStat applies the
// package's rule (protobuf-es itself accepts and keeps them).
function hasOverlongUnknownVarint(batch: Uint8Array): boolean {
  const decoded = fromBinary(AnalyticsStatsSchema, batch);
  // at the top level of the batch message itself
  if ((decoded.$unknown ?? []).some((f) => f.wireType === WireType.Varint && f.data.length > 10)) return true;
  return decoded.stats.some((stat) => {
    try {
      decodeStat(toBinary(AnalyticsStatSchema, stat));
      return false;
    } catch (err) {
      return isDecodeError(err) && err.code === "bad_varint";
    }
  });
}
