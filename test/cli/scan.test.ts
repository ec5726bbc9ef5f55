// The routing scan of a size-delimited record agrees with protobuf-es wherever it answers, and
// hands everything unusual to the full decoder instead of guessing.
import { create, toBinary } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { RecordFields, Scan, scanRecord, timeMs } from "../../src/cli/scan.ts";
import { AnalyticsStatSchema, StreamType } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { Random } from "../../src/sim/random.ts";
import { StatGen } from "../random-stats.ts";

const utf8 = new TextDecoder();
const text = (f: RecordFields, start: number, end: number) => utf8.decode(f.buf.subarray(start, end));

suite("scanRecord", () => {
  test("reads the routing fields of random stats exactly as protobuf-es encodes them", () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    console.log(`scanRecord random seed ${seed}`);
    const r = new Random(seed);
    const gen = new StatGen(r, 0.2);
    const f = new RecordFields();
    for (let i = 0; i < 500; i++) {
      const stat = gen.stat();
      stat.roomId = `RM_${r.int(0, 1e6)}`;
      stat.roomName = r.chance(0.5) ? "" : `room ${r.int(0, 9)} ✓`;
      stat.participantId = `PA_${r.int(0, 1e6)}`;
      stat.trackId = r.chance(0.9) ? `TR_${r.int(0, 1e6)}` : "";
      stat.kind = r.chance(0.5) ? StreamType.UPSTREAM : StreamType.DOWNSTREAM;
      const ms = r.int(-1e12, 1e13) * (r.chance(0.5) ? 1 : -1);
      stat.timeStamp = r.chance(0.9) ? timestampFromMs(ms) : undefined;
      const bytes = sizeDelimitedEncode(AnalyticsStatSchema, stat);
      assert.equal(scanRecord(bytes, 0, bytes.length, true, f), Scan.Ok, `seed ${seed} record ${i}`);
      assert.equal(f.end, bytes.length);
      assert.equal(text(f, f.roomIdStart, f.roomIdEnd), stat.roomId);
      assert.equal(text(f, f.roomNameStart, f.roomNameEnd), stat.roomName);
      assert.equal(text(f, f.participantIdStart, f.participantIdEnd), stat.participantId);
      assert.equal(text(f, f.trackIdStart, f.trackIdEnd), stat.trackId);
      assert.equal(f.hasTrack, stat.trackId !== "");
      assert.equal(f.kind, stat.kind);
      assert.equal(f.hasTime, stat.timeStamp !== undefined);
      if (stat.timeStamp !== undefined) assert.equal(timeMs(f.seconds, f.nanos), ms, `seed ${seed} record ${i}`);
    }
  });

  test("a known field with another wire type, a group or field number 0 is odd: left to the decoder", () => {
    const f = new RecordFields();
    const room = [0x2a, 0x02, 0x52, 0x4d]; // room_id "RM"
    for (const body of [
      [0x28, 0x01], // room_id (5) as a varint
      [0x13, 0x14], // an unknown group (field 2 start/end)
      [0x00, 0x00], // field number 0
      [0x1d, 0, 0, 0, 0], // time_stamp (3) as fixed32
    ]) {
      const msg = [...room, ...body];
      const bytes = Uint8Array.from([msg.length, ...msg]);
      assert.equal(scanRecord(bytes, 0, bytes.length, true, f), Scan.Odd, JSON.stringify(body));
    }
  });

  test("a broken frame says why; a record cut by the end of a block asks for more", () => {
    const f = new RecordFields();
    const stat = toBinary(AnalyticsStatSchema, create(AnalyticsStatSchema, { roomId: "RM_1" }));
    const bytes = Uint8Array.from([stat.length, ...stat]);
    assert.equal(scanRecord(bytes, 0, bytes.length - 1, false, f), Scan.More);
    assert.equal(scanRecord(bytes, 0, bytes.length - 1, true, f), Scan.BadFrame);
    assert.match(f.detail, /runs past the end of the file/);
    const huge = Uint8Array.from([0xff, 0xff, 0xff, 0x7f]);
    assert.equal(scanRecord(huge, 0, huge.length, true, f), Scan.BadFrame);
    assert.match(f.detail, /over the limit/);
    const endless = new Uint8Array(12).fill(0x80);
    assert.equal(scanRecord(endless, 0, endless.length, true, f), Scan.BadFrame);
    assert.match(f.detail, /not a varint/);
  });

  test("a probe walks at most maxFields fields, however many the record claims", () => {
    // a 1 MiB record made of two-byte fields that all parse: without the bound, probing each
    // offset would walk the whole rest of it, quadratic in the length of a run of garbage
    const body = new Uint8Array((1 << 20) - 8);
    for (let i = 0; i < body.length; i += 2) body.set([0x78, 0x01], i); // field 15, varint 1
    const prefix = [0x80 | (body.length & 0x7f), 0x80 | ((body.length >> 7) & 0x7f), body.length >> 14];
    const bytes = new Uint8Array(prefix.length + body.length);
    bytes.set(prefix);
    bytes.set(body, prefix.length);
    const f = new RecordFields();
    assert.equal(scanRecord(bytes, 0, bytes.length, true, f, 128), Scan.Odd);
    assert.equal(f.fields, 129);
    assert.equal(scanRecord(bytes, 0, bytes.length, true, f), Scan.Ok);
    assert.equal(f.fields, body.length / 2);
  });
});
