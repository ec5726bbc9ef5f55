// The bytes-to-JSON writer of aggregate's NDJSON output gives protobuf-es's proto3 JSON text
// exactly, or declines and leaves the buffer as it was.
import { create, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { ByteWriter, writeStatJson } from "../../src/cli/stat-json.ts";
import { AnalyticsStatSchema, StreamType } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { Random } from "../../src/sim/random.ts";
import { StatGen, mutateEncoded } from "../random-stats.ts";

const utf8 = new TextDecoder();

function protobufEs(bytes: Uint8Array): string | undefined {
  try {
    return toJsonString(AnalyticsStatSchema, fromBinary(AnalyticsStatSchema, bytes)) + "\n";
  } catch {
    return undefined;
  }
}

// the writer's text, or undefined when it declined (then nothing may have been left behind)
function direct(bytes: Uint8Array): string | undefined {
  const w = new ByteWriter();
  w.text("x");
  const ok = writeStatJson(w, bytes, 0, bytes.length);
  const text = utf8.decode(w.buf.subarray(0, w.length));
  if (!ok) {
    assert.equal(text, "x");
    return undefined;
  }
  return text.slice(1);
}

suite("writeStatJson", () => {
  test("writes the same text as protobuf-es for random stats, every field and edge value included", () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    console.log(`writeStatJson random seed ${seed}`);
    const r = new Random(seed);
    const gen = new StatGen(r, 0.3);
    let written = 0;
    for (let i = 0; i < 3000; i++) {
      const stat = i % 2 === 0 ? gen.fullStat() : gen.stat();
      stat.roomId = r.chance(0.9) ? `RM_${r.int(0, 1e6)}` : "";
      stat.roomName = ["", "room-1", "Café ✓", "日本語", "emoji 😀", "a\u2028b"][r.int(0, 5)]!;
      stat.node = r.chance(0.5) ? "" : "node-1";
      stat.trackId = r.chance(0.9) ? `TR_${r.int(0, 1e6)}` : "";
      stat.kind = r.chance(0.5) ? StreamType.UPSTREAM : StreamType.DOWNSTREAM;
      if (r.chance(0.9)) stat.timeStamp = timestampFromMs(r.int(-62_135_596_800_000, 253_402_300_799_000));
      if (stat.timeStamp !== undefined && r.chance(0.5)) stat.timeStamp.nanos = r.chance(0.5) ? r.int(0, 999) * 1_000_000 : r.int(0, 999_999_999);
      if (r.chance(0.1)) stat.score = [Number.NaN, Infinity, -Infinity, -0, 0, 1.5e-45, 3.4e38][r.int(0, 6)]!;
      const bytes = toBinary(AnalyticsStatSchema, stat);
      const expected = protobufEs(bytes);
      const actual = direct(bytes);
      if (actual !== undefined) {
        written++;
        assert.equal(actual, expected, `seed ${seed} stat ${i}`);
      }
    }
    // declining is for the unusual: ASCII ids and in-range times are written directly
    assert.ok(written > 2500, `only ${written} of 3000 written directly (seed ${seed})`);
  });

  test("declines (or agrees) on mutated, reordered and repeated-field encodings", () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    console.log(`writeStatJson mutation seed ${seed}`);
    const r = new Random(seed);
    const gen = new StatGen(r, 0.3);
    for (let i = 0; i < 3000; i++) {
      const bytes = mutateEncoded(r, toBinary(AnalyticsStatSchema, gen.fullStat()));
      const actual = direct(bytes);
      if (actual !== undefined) assert.equal(actual, protobufEs(bytes), `seed ${seed} stat ${i}`);
    }
    const twice = toBinary(AnalyticsStatSchema, create(AnalyticsStatSchema, { roomId: "RM_1" }));
    const doubled = new Uint8Array([...twice, ...twice]);
    assert.equal(direct(doubled), undefined, "a singular field twice is left to protobuf-es");
  });

  test("strings that JSON escapes, and bytes that are not UTF-8, are left to protobuf-es", () => {
    for (const roomId of ['a"b', "a\\b", "tab\there", "\u0000"]) {
      const bytes = toBinary(AnalyticsStatSchema, create(AnalyticsStatSchema, { roomId }));
      assert.equal(direct(bytes), undefined, roomId);
    }
    // a lone surrogate's bytes (ED A0 80), an overlong '/' (C0 AF), a cut sequence (E2 9C)
    for (const bad of [[0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe2, 0x9c]]) {
      const bytes = new Uint8Array([0x2a, bad.length, ...bad]);
      assert.equal(direct(bytes), undefined, JSON.stringify(bad));
    }
  });
});
