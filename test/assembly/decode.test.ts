import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { AnalyticsStatSchema } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { STATUS } from "../../src/engine/wasm/abi.ts";
import {
  BUILDS, bytesOf, checkAgainstProtobufEs, decodeFold, encode, errorOffset, instantiate, lengthDelimited,
  readInfo, readSlot, stat, tag, varint, view,
} from "./harness.ts";
import { corpus, realisticStat } from "./corpus.ts";

const VARINT = 0, BIT64 = 1, LEN = 2, START = 3, END = 4, BIT32 = 5;

/** A stream body (field 10 of the stat) holding `body`. */
const streamField = (...body: number[][]): number[] => lengthDelimited(10, body.flat());
/** A layer body (field 15 of a stream) holding `body`. */
const layerField = (...body: number[][]): number[] => lengthDelimited(15, body.flat());
/** `depth` groups of field `fieldNo` nested in one another, closed in order. */
const nestedGroups = (fieldNo: number, depth: number): number[] => [
  ...Array.from({ length: depth }, () => tag(fieldNo, START)).flat(),
  ...Array.from({ length: depth }, () => tag(fieldNo, END)).flat(),
];

for (const build of BUILDS) {
  suite(`decodeFold() [${build}]`, () => {
    test("every prefix of a realistic stat is accepted or rejected exactly as protobuf-es does", () => {
      const wasm = instantiate(build);
      for (const s of corpus()) {
        const bytes = encode(s);
        for (let n = 0; n <= bytes.length; n++) checkAgainstProtobufEs(wasm, bytes.subarray(0, n), `prefix ${n}`);
      }
    });

    test("a truncated stat reports TRUNCATED and folds nothing", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      const bytes = encode(realisticStat());
      assert.equal(decodeFold(wasm, bytes.subarray(0, bytes.length - 1), slot), STATUS.TRUNCATED);
      assert.equal(readSlot(wasm, slot).count, 0);
    });

    test("a varint of 11 bytes in a known field is BAD_VARINT", () => {
      const wasm = instantiate(build);
      const eleven = [...Array(10).fill(0x80), 0x01];
      for (const bytes of [bytesOf(tag(2, VARINT), eleven), bytesOf(streamField(tag(3, VARINT), eleven)), bytesOf(lengthDelimited(5, []).slice(0, 1), eleven)]) {
        const v = checkAgainstProtobufEs(wasm, bytes);
        assert.equal(v.status, STATUS.BAD_VARINT);
        assert.notEqual(v.esError, undefined);
      }
    });

    test("a tag that overflows uint32 is BAD_VARINT", () => {
      const wasm = instantiate(build);
      for (const t of [[0xff, 0xff, 0xff, 0xff, 0x1f], [0x88, 0x80, 0x80, 0x80, 0x80, 0x00], [...Array(10).fill(0x80), 0]]) {
        assert.equal(checkAgainstProtobufEs(wasm, bytesOf(t, [0])).status, STATUS.BAD_VARINT);
      }
      // 5 bytes with the last one <= 0x0f still fits: field 536870911 (unknown), varint
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf([0xf8, 0xff, 0xff, 0xff, 0x0f], [0])).status, 1);
    });

    test("field number 0 and wire types 6 and 7 are BAD_TAG at the tag's offset", () => {
      const wasm = instantiate(build);
      const prefix = [...tag(2, VARINT), 1];
      for (const t of [[0x00], [0x02], tag(20, 6), tag(20, 7), tag(2, 7)]) {
        const v = checkAgainstProtobufEs(wasm, bytesOf(prefix, t, [0, 0, 0, 0, 0, 0, 0, 0]));
        assert.equal(v.status, STATUS.BAD_TAG);
        assert.equal(v.offset, prefix.length);
      }
    });

    test("an unterminated group is TRUNCATED", () => {
      const wasm = instantiate(build);
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf(tag(20, START), tag(21, VARINT), [1])).status, STATUS.TRUNCATED);
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf(tag(20, START))).status, STATUS.TRUNCATED);
    });

    test("a group closed with another field number is BAD_GROUP", () => {
      const wasm = instantiate(build);
      const v = checkAgainstProtobufEs(wasm, bytesOf(tag(20, START), tag(21, START), tag(20, END), tag(20, END)));
      assert.equal(v.status, STATUS.BAD_GROUP);
      assert.equal(v.offset, 2 * tag(20, START).length);
    });

    test("an end-group tag with no group open is BAD_TAG, at every level", () => {
      const wasm = instantiate(build);
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf(tag(20, END))).status, STATUS.BAD_TAG);
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf(streamField(tag(16, END)))).status, STATUS.BAD_TAG);
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf(streamField(layerField(tag(9, END))))).status, STATUS.BAD_TAG);
    });

    test("a length past the end is TRUNCATED, for strings, unknown fields and fixed-size values", () => {
      const wasm = instantiate(build);
      const cases = [
        bytesOf(tag(5, LEN), [10], [0x61, 0x62, 0x63]),
        bytesOf(tag(20, LEN), varint(0xffff_ffff), [0x61]),
        bytesOf(tag(20, BIT64), [1, 2, 3, 4, 5, 6, 7]),
        bytesOf(tag(20, BIT32), [1, 2, 3]),
        bytesOf(tag(9, BIT32), [1, 2, 3]),
      ];
      for (const c of cases) assert.equal(checkAgainstProtobufEs(wasm, c).status, STATUS.TRUNCATED);
    });

    test("a nested stream cut short is TRUNCATED at the end of the input", () => {
      const wasm = instantiate(build);
      const bytes = bytesOf(tag(10, LEN), [10], tag(2, VARINT), [5]);
      const v = checkAgainstProtobufEs(wasm, bytes);
      assert.equal(v.status, STATUS.TRUNCATED);
      assert.equal(v.offset, bytes.length);
    });

    test("a child that overruns its parent but stays inside the input is accepted, as by protobuf-es", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      // stream of length 1 whose only field's value lies past the stream's end
      const bytes = bytesOf(tag(10, LEN), [1], tag(2, VARINT), [5], tag(9, BIT32), [0, 0, 0x80, 0x3f]);
      assert.equal(checkAgainstProtobufEs(wasm, bytes).status, 1);
      assert.equal(decodeFold(wasm, bytes, slot), 1);
      assert.equal(readSlot(wasm, slot).primaryPackets, 5);
      assert.equal(readSlot(wasm, slot).score, 1);
    });

    test("invalid UTF-8 in room_id is BAD_UTF8, valid multi-byte text is accepted", () => {
      const wasm = instantiate(build);
      const bad = [[0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf0, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80],
        [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xff], [0x61, 0xc3], [0xf0, 0x9f, 0x8d]];
      for (const b of bad) {
        const v = checkAgainstProtobufEs(wasm, bytesOf(lengthDelimited(5, [0x61, ...b, 0x62])));
        assert.equal(v.status, STATUS.BAD_UTF8, Buffer.from(b).toString("hex"));
        assert.equal(v.offset, b[0] === 0x61 ? 4 : 3);
      }
      for (const text of ["é", "€", "🍽", "\uFEFFbom", "\u{10FFFF}", "\uD7FF\uE000", "x".repeat(40) + "é"]) {
        const bytes = bytesOf(lengthDelimited(5, Array.from(new TextEncoder().encode(text))));
        assert.equal(checkAgainstProtobufEs(wasm, bytes).status, 1);
        assert.equal(readInfo(wasm).roomId, text);
      }
    });

    test("invalid UTF-8 in any string field is BAD_UTF8, in the other fields it is not checked", () => {
      const wasm = instantiate(build);
      for (const f of [1, 4, 5, 6, 7, 8, 11, 14]) {
        assert.equal(checkAgainstProtobufEs(wasm, bytesOf(lengthDelimited(f, [0xff]))).status, STATUS.BAD_UTF8, `field ${f}`);
      }
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf(lengthDelimited(20, [0xff]))).status, 1);
    });

    test("a known field with another wire type is read by its declared type, like protobuf-es", () => {
      const wasm = instantiate(build);
      const cases = [
        bytesOf(tag(9, VARINT), [0, 0, 0x80, 0x3f]), // float read as 4 bytes
        bytesOf(tag(9, BIT64), [0, 0, 0x80, 0x3f]),
        bytesOf(tag(2, LEN), [1]), // enum read as varint
        bytesOf(tag(2, END), [1]),
        bytesOf(tag(10, VARINT), [2], tag(2, VARINT), [7]), // stream read as length-delimited
        bytesOf(tag(10, START), [2], tag(2, VARINT), [7]),
        bytesOf(tag(5, BIT32), [2, 0x68, 0x69]), // string read as length-delimited
        bytesOf(streamField(tag(3, BIT64), [5], tag(15, BIT32), [2, 0x08, 0x01])),
        bytesOf(tag(3, BIT32), [2, 0x08, 0x01]), // timestamp
      ];
      for (const c of cases) assert.ok(checkAgainstProtobufEs(wasm, c).status >= 0, Buffer.from(c).toString("hex"));
      const slot = wasm.allocSlot();
      decodeFold(wasm, cases[4]!, slot);
      assert.equal(readSlot(wasm, slot).primaryPackets, 7);
    });

    test("unknown fields of every wire type, nested groups included, are skipped at every level", () => {
      const wasm = instantiate(build);
      const unknown = (f: number): number[] => [
        ...tag(f, VARINT), ...varint(2n ** 64n - 1n),
        ...tag(f + 1, BIT64), 1, 2, 3, 4, 5, 6, 7, 8,
        ...lengthDelimited(f + 2, [0xff, 0xfe]),
        ...tag(f + 3, START), ...tag(1, VARINT), 5, ...tag(2, START), ...tag(3, BIT32), 1, 2, 3, 4, ...lengthDelimited(4, [9]), ...tag(2, END), ...tag(f + 3, END),
        ...tag(f + 4, BIT32), 9, 9, 9, 9,
      ];
      const ts = (f: number): number[] => lengthDelimited(f, [...unknown(3), ...tag(1, VARINT), 5, ...tag(2, VARINT), 6]);
      const withUnknown = bytesOf(
        unknown(20), ts(3), lengthDelimited(5, [0x72]),
        streamField(unknown(20), tag(16, VARINT), [1], tag(2, VARINT), [3], layerField(unknown(5), tag(1, VARINT), [2], tag(2, VARINT), [4]), ts(17), ts(18), unknown(30)),
        unknown(40),
      );
      const clean = encode(stat({ roomId: "r", streams: [{ primaryPackets: 3, videoLayers: [{ layer: 2, packets: 4 }] }] }));
      const a = wasm.allocSlot();
      const b = wasm.allocSlot();
      assert.equal(checkAgainstProtobufEs(wasm, withUnknown).status, 1);
      assert.equal(decodeFold(wasm, withUnknown, a), 1);
      assert.equal(decodeFold(wasm, clean, b), 1);
      assert.deepEqual(readSlot(wasm, a), readSlot(wasm, b));
      assert.equal(readSlot(wasm, a).layerPackets, 4);
    });

    test("an unknown varint longer than 10 bytes is BAD_VARINT (deliberately stricter than protobuf-es)", () => {
      const wasm = instantiate(build);
      const bytes = bytesOf(tag(2, VARINT), [1], tag(20, VARINT), Array(10).fill(0x80), [0]);
      assert.doesNotThrow(() => fromBinary(AnalyticsStatSchema, bytes));
      const v = checkAgainstProtobufEs(wasm, bytes);
      assert.equal(v.status, STATUS.BAD_VARINT);
      assert.equal(v.offset, 2 + tag(20, VARINT).length);
      // exactly 10 bytes is fine
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf(tag(20, VARINT), Array(9).fill(0x80), [0x7f])).status, 1);
    });

    test("a uint32 field given a 10-byte varint keeps its low 32 bits, a uint64 field its low 64 bits", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      const bytes = bytesOf(streamField(
        tag(2, VARINT), varint(2n ** 40n + 5n),
        tag(4, VARINT), varint(2n ** 64n - 2n ** 32n + 6n),
        tag(3, VARINT), [0x87, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e],
        tag(11, VARINT), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
      ));
      assert.equal(checkAgainstProtobufEs(wasm, bytes).status, 1);
      assert.equal(decodeFold(wasm, bytes, slot), 1);
      const s = readSlot(wasm, slot);
      assert.equal(s.primaryPackets, 5);
      assert.equal(s.retransmitPackets, 6);
      assert.equal(s.primaryBytes, 7n);
      assert.equal(s.jitter, 0xffff_ffff);
    });

    test("a singular field that appears twice keeps its last value; repeated fields append", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      const bytes = bytesOf(
        tag(9, BIT32), [0, 0, 0x80, 0x3f], tag(9, BIT32), [0, 0, 0, 0x40],
        lengthDelimited(5, [0x61]), lengthDelimited(5, [0x62, 0x63]),
        tag(2, VARINT), [1], tag(2, VARINT), [0],
        streamField(tag(2, VARINT), [9], tag(2, VARINT), [3], tag(10, VARINT), [50], tag(10, VARINT), [40]),
        streamField(tag(2, VARINT), [1], layerField(tag(1, VARINT), [1], tag(1, VARINT), [0], tag(2, VARINT), [8])),
      );
      assert.equal(checkAgainstProtobufEs(wasm, bytes).status, 1);
      assert.equal(decodeFold(wasm, bytes, slot), 1);
      const s = readSlot(wasm, slot);
      assert.equal(s.score, 2);
      assert.equal(s.primaryPackets, 4);
      assert.equal(s.rtt, 40);
      assert.deepEqual([s.layer, s.layerPackets], [0, 8]);
      assert.deepEqual(readInfo(wasm), { kind: 0, roomId: "bc", participantId: undefined, trackId: undefined });
    });

    test("groups nested 99 deep at top level are accepted and 100 deep rejected, like protobuf-es", () => {
      const wasm = instantiate(build);
      assert.equal(checkAgainstProtobufEs(wasm, bytesOf(nestedGroups(20, 99))).status, 1);
      const v = checkAgainstProtobufEs(wasm, bytesOf(nestedGroups(20, 100)));
      assert.equal(v.status, STATUS.TOO_DEEP);
      assert.equal(v.offset, 99 * tag(20, START).length);
    });

    test("the group depth budget shrinks with message depth exactly as in protobuf-es", () => {
      const wasm = instantiate(build);
      const contexts: Array<[string, (g: number[]) => number[]]> = [
        ["stat", (g) => g],
        ["stat.time_stamp", (g) => lengthDelimited(3, g)],
        ["stream", (g) => streamField(g)],
        ["stream.start_time", (g) => streamField(lengthDelimited(17, g))],
        ["layer", (g) => streamField(layerField(g))],
      ];
      for (const [name, wrap] of contexts) {
        const verdicts = [96, 97, 98, 99, 100].map((d) => checkAgainstProtobufEs(wasm, bytesOf(wrap(nestedGroups(20, d))), name).status);
        assert.ok(verdicts.includes(STATUS.TOO_DEEP) && verdicts.includes(1), `${name}: ${verdicts}`);
      }
    });

    test("64 streams and 32 layers per stream are accepted, one more is a limit status with nothing folded", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      const streams = (n: number, layers: number) => stat({ streams: Array.from({ length: n }, () => ({ primaryPackets: 1, videoLayers: Array.from({ length: layers }, () => ({ layer: 1, packets: 1 })) })) });
      assert.equal(decodeFold(wasm, encode(streams(64, 32)), slot), 1);
      assert.equal(readSlot(wasm, slot).primaryPackets, 64);
      assert.equal(readSlot(wasm, slot).layerPackets, 64 * 32);
      wasm.resetSlot(slot);
      const tooManyStreams = encode(streams(65, 0));
      assert.equal(decodeFold(wasm, tooManyStreams, slot), STATUS.TOO_MANY_STREAMS);
      assert.equal(errorOffset(wasm), 64 * 4);
      assert.equal(decodeFold(wasm, encode(streams(2, 33)), slot), STATUS.TOO_MANY_LAYERS);
      assert.equal(checkAgainstProtobufEs(wasm, encode(streams(1, 40))).status, STATUS.TOO_MANY_LAYERS);
      assert.equal(readSlot(wasm, slot).count, 0);
      // malformation after the bound wins
      assert.equal(decodeFold(wasm, bytesOf(tooManyStreams, tag(20, END)), slot), STATUS.BAD_TAG);
      assert.equal(decodeFold(wasm, bytesOf(tooManyStreams, tag(5, LEN)), slot), STATUS.TRUNCATED);
      assert.equal(readSlot(wasm, slot).count, 0);
    });

    test("the info record holds kind and the last room, participant and track ids, absolute in memory", () => {
      const wasm = instantiate(build);
      const bytes = encode(realisticStat());
      assert.equal(decodeFold(wasm, bytes, -1), 1);
      assert.deepEqual(readInfo(wasm), { kind: 1, roomId: "RM_abc", participantId: "PA_xyz", trackId: "TR_video" });
      assert.equal(decodeFold(wasm, bytesOf(tag(2, VARINT), varint(-1)), -1), 1);
      assert.deepEqual(readInfo(wasm), { kind: -1, roomId: undefined, participantId: undefined, trackId: undefined });
      assert.equal(decodeFold(wasm, new Uint8Array(0), -1), 1);
      assert.deepEqual(readInfo(wasm), { kind: 0, roomId: undefined, participantId: undefined, trackId: undefined });
    });

    test("slot -1 decodes and validates without folding anywhere", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      assert.equal(decodeFold(wasm, encode(stat({ score: 1 })), -1), 1);
      assert.equal(decodeFold(wasm, encode(stat({ streams: [{ plis: 2 ** 31 }] })), -1), 0);
      assert.equal(decodeFold(wasm, bytesOf([0x00]), -1), STATUS.BAD_TAG);
      assert.equal(readSlot(wasm, slot).count, 0);
    });

    test("after any error the next valid stat still folds correctly", () => {
      const wasm = instantiate(build);
      const slot = wasm.allocSlot();
      const good = encode(realisticStat());
      const bad = [bytesOf(tag(20, START)), bytesOf([0x00]), bytesOf(lengthDelimited(5, [0xff])), bytesOf(nestedGroups(20, 100)),
        bytesOf(tag(20, START), tag(21, END)), good.subarray(0, 30), encode(stat({ streams: Array.from({ length: 65 }, () => ({ primaryPackets: 1 })) }))];
      for (const b of bad) {
        assert.ok(decodeFold(wasm, b, slot) < 0);
        assert.equal(decodeFold(wasm, good, slot), 1);
      }
      const s = readSlot(wasm, slot);
      assert.equal(s.count, bad.length);
      assert.equal(s.primaryPackets, bad.length * 1210);
      assert.deepEqual([s.layer, s.layerPackets], [2, bad.length * 905]);
    });

    test("an input range outside memory is refused without a trap", () => {
      const wasm = instantiate(build);
      const end = wasm.memory.buffer.byteLength;
      assert.equal(wasm.decodeFold(end - 2, 3, -1), STATUS.TRUNCATED);
      assert.equal(wasm.decodeFold(0x7fff_fff0, 0x7fff_ffff, -1), STATUS.TRUNCATED);
      assert.equal(view(wasm).byteLength, end);
    });
  });
}
