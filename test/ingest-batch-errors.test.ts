// Both engines, given the same malformed and clean batches through TelemetryService.ingestBatch,
// throw the same error (name, code, detail, index, offset) and count the same things.
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import {
  AnalyticsStatSchema,
  StreamType,
  TelemetryService,
  isDecodeError,
  isLimitError,
  loadEngine,
  type TelemetryCounters,
} from "../src/index.ts";
import { CapturingReporter, ManualClock, concatBytes, stat } from "./helpers.ts";
import { Random } from "../src/sim/random.ts";

const room = { sid: "RM_1", name: "room-one" };
const alice = { sid: "PA_A", identity: "alice" };
const bob = { sid: "PA_B", identity: "bob" };

const enc = (init: Parameters<typeof stat>[0]) => sizeDelimitedEncode(AnalyticsStatSchema, stat(init));
const concat = (...parts: Uint8Array[]) => concatBytes(parts);
// one size-delimited message made of raw bytes
const raw = (...body: number[]) => Uint8Array.of(body.length, ...body);

const good = enc({ roomId: "RM_1", participantId: "PA_A", trackId: "TR_1", streams: [{ primaryPackets: 1 }] });
const goodBob = enc({ roomId: "RM_1", participantId: "PA_B", trackId: "TR_2", kind: StreamType.DOWNSTREAM, streams: [{ primaryPackets: 2 }] });
const invalid = enc({ roomId: "RM_1", participantId: "PA_A", trackId: "TR_3", streams: [{ primaryPackets: 2 ** 31 }] });
const noWorker = enc({ roomId: "RM_9", participantId: "PA_A", trackId: "TR_1", streams: [{ primaryPackets: 4 }] });
const tooManyStreams = enc({ roomId: "RM_1", participantId: "PA_A", trackId: "TR_1", streams: Array.from({ length: 65 }, () => ({ frames: 1 })) });

/** Named batches; each may throw. */
const BATCHES: Record<string, Uint8Array> = {
  "clean, with an invalid stat and one for nobody": concat(good, invalid, goodBob, noWorker),
  "a truncated message in the middle": concat(good, raw(0x0a, 0x05, 0x61), goodBob),
  "a bad tag (field 0)": concat(good, raw(0x00, 0x01), good),
  "wire type 7": concat(raw(0x0f), good),
  "invalid utf-8 in room_id": concat(good, raw(0x2a, 0x02, 0xc3, 0x28), good),
  "an over-long varint": concat(raw(0x08, ...Array(10).fill(0xff), 0x01), good),
  "an unterminated group": concat(good, raw(0x83, 0x01, 0x08, 0x01)),
  "a group closed by another field": concat(raw(0x83, 0x01, 0x94, 0x01), good),
  "a length prefix past the end": concat(good, Uint8Array.of(50, 1, 2)),
  "a length prefix cut short": concat(good, Uint8Array.of(0x80, 0x80)),
  "a length prefix of six bytes": concat(good, Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), good),
  "a bad message, then a broken prefix": concat(good, raw(0x0f), good, Uint8Array.of(40, 1)),
  "too many streams": concat(good, tooManyStreams, goodBob),
  "two bad messages: the first is named": concat(raw(0x2a, 0x01, 0xff), good, raw(0x00)),
};

interface Outcome {
  error: { name: string; code: string; detail?: string; index?: number; offset?: number } | undefined;
  counters: TelemetryCounters;
  reported: string[];
}

async function run(kind: "ts" | "wasm", batch: Uint8Array, closeBob = false): Promise<Outcome> {
  const reporter = new CapturingReporter();
  const service = new TelemetryService({ engine: await loadEngine(kind), reporter, now: new ManualClock().now });
  service.participantJoined(room, alice);
  service.participantJoined(room, bob);
  if (closeBob) service.participantLeft(room.sid, bob.sid);
  let error: Outcome["error"];
  try {
    service.ingestBatch(batch);
  } catch (err) {
    assert.ok(isDecodeError(err) || isLimitError(err), `untyped error ${String(err)}`);
    // the message is composed once: no doubled prefix, whatever the path
    assert.match(err.message, /^[^:]*(: [^:]*)?$/, `message ${err.message}`);
    error = isDecodeError(err)
      ? { name: err.name, code: err.code, detail: err.detail, index: err.index, offset: err.offset }
      : { name: err.name, code: err.code };
  }
  service.flush();
  const reported = reporter.all.map((s) => `${s.participantId}/${s.trackId}/${s.kind}/${s.streams[0]!.primaryPackets}`).sort();
  return { error, counters: { ...service.counters }, reported };
}

suite("TelemetryService.ingestBatch() errors", () => {
  for (const [name, batch] of Object.entries(BATCHES)) {
    test(`both engines throw and count alike: ${name}`, async () => {
      const ts = await run("ts", batch);
      const wasm = await run("wasm", batch);
      assert.deepEqual(wasm, ts);
    });
  }

  test("both engines count stats for a closed worker as dropped alike", async () => {
    const batch = concat(good, goodBob, goodBob);
    const ts = await run("ts", batch, true);
    assert.equal(ts.counters.dropped, 2);
    assert.deepEqual(await run("wasm", batch, true), ts);
  });

  test("the error names the first bad message by index and the batch offset of its length prefix", async () => {
    for (const kind of ["ts", "wasm"] as const) {
      const a = await run(kind, BATCHES["a truncated message in the middle"]!);
      assert.deepEqual(a.error, { name: "DecodeError", code: "truncated", detail: "truncated", index: 1, offset: good.length });
      assert.equal(a.counters.malformed, 1);
      assert.equal(a.counters.statsIn, 2);
      const b = await run(kind, BATCHES["a bad message, then a broken prefix"]!);
      assert.deepEqual(b.error, { name: "DecodeError", code: "bad_tag", detail: "bad tag", index: 1, offset: good.length });
      const c = await run(kind, BATCHES["a length prefix past the end"]!);
      assert.deepEqual(c.error, { name: "DecodeError", code: "truncated", detail: "bad length prefix", index: 1, offset: good.length });
      const d = await run(kind, BATCHES["too many streams"]!);
      assert.deepEqual(d.error, { name: "LimitError", code: "too_many_streams" });
      assert.deepEqual(d.reported, ["PA_A/TR_1/0/1", "PA_B/TR_2/1/2"]);
    }
  });

  test("random damage to clean batches gives both engines the same outcome", async () => {
    const seed = Number(process.env["SEED"] ?? Math.floor(Math.random() * 2 ** 32));
    console.log(`# ingestBatch errors seed: ${seed} (re-run with SEED=${seed})`);
    const r = new Random(seed);
    const parts = [good, goodBob, invalid, noWorker, tooManyStreams];
    for (let i = 0; i < 200; i++) {
      const batch = concat(...Array.from({ length: r.int(1, 5) }, () => r.pick(parts)));
      // flip, drop or insert one byte
      const at = r.int(0, batch.length - 1);
      const damaged =
        i % 3 === 0 ? batch.subarray(0, at) : i % 3 === 1 ? concat(batch.subarray(0, at), Uint8Array.of(r.int(0, 255)), batch.subarray(at)) : batch.map((b, j) => (j === at ? b ^ (1 << r.int(0, 7)) : b));
      const ts = await run("ts", damaged);
      assert.deepEqual(await run("wasm", damaged), ts, `seed ${seed}, batch ${i}`);
    }
  });
});
