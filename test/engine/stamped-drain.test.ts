// A stamping drain (what a worker asks of its engine for one of the library's network
// reporters) writes the node and a new AS_ id into every stat it encodes and changes nothing
// else, on both engines alike.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { engineImpl, type Bucket, type TrackTable } from "../../src/engine/engine.ts";
import { loadEngine } from "../../src/engine/load-engine.ts";
import { PROFILES, type Profile } from "../../src/engine/profile.ts";
import { IDS } from "../../src/engine/wasm/abi.ts";
import { AnalyticsStatsSchema, type AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { Random } from "../../src/sim/random.ts";
import { ENGINE_KINDS, engine } from "../helpers.ts";
import { StatGen } from "../random-stats.ts";

const NODE = "SFU_é_1";
const ID = /^AS_[0-9A-Za-z]{12}$/;

/** A stamping table and a plain twin, fed the same stats. */
async function twins(kind: "ts" | "wasm", participant: string, profile?: Profile): Promise<[TrackTable, TrackTable]> {
  const impl = engineImpl(profile === undefined ? await engine(kind) : await loadEngine(kind, { profile }));
  const identity = { roomId: "RM_stamp", roomName: "stamp room", participantId: participant };
  return [impl.createTrackTable({ ...identity, node: NODE }), impl.createTrackTable(identity)];
}

function decoded(bytes: Uint8Array | undefined): AnalyticsStat[] {
  return bytes === undefined ? [] : fromBinary(AnalyticsStatsSchema, bytes).stats;
}

/**
 * The stats with node and id taken out, encoded in (kind, track) order: what the plain twin
 * drains (the order of a batch's tracks is each engine's own, R2).
 */
function unstamped(stats: AnalyticsStat[]): Uint8Array {
  const sorted = stats.map((s) => ({ ...s, node: "", id: "" })).sort((a, b) => a.kind - b.kind || (a.trackId < b.trackId ? -1 : a.trackId > b.trackId ? 1 : 0));
  return toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats: sorted }));
}

suite("TrackTable.drainBytes with stamp", () => {
  for (const profile of PROFILES) test(`writes the node and a new AS_ id into every stat and nothing else, the same on both engines (${profile})`, async () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    console.log(`stamped drain seed ${seed}`);
    const tables = await Promise.all(ENGINE_KINDS.map((kind) => twins(kind, `PA_${seed}`, profile)));
    const gen = new StatGen(new Random(seed), 0.1);
    const r = new Random(seed ^ 0x5eed);
    const ids = new Set<string>();
    for (let window = 0; window < 30; window++) {
      const tracks = r.int(1, 12);
      for (let i = 0; i < tracks * 2; i++) {
        // a lone surrogate now and then: the wasm engine then encodes through protobuf-es
        const track = r.chance(0.02) ? `TR_\ud800${r.int(0, 3)}` : `TR_${r.int(0, tracks)}`;
        const bucket = r.int(0, 1) as Bucket;
        const stat = gen.stat();
        for (const [stamping, plain] of tables) {
          stamping.add(track, bucket, stat);
          plain.add(track, bucket, stat);
        }
      }
      const out: Uint8Array[] = [];
      for (const [stamping, plain] of tables) {
        const lease = stamping.drainBytes(1_700_000_000_000 + window * 10_000, true);
        const twin = plain.drainBytes(1_700_000_000_000 + window * 10_000, false);
        const stats = decoded(lease?.bytes);
        assert.equal(lease?.stamped ?? true, true, `seed ${seed} window ${window}: the lease says it stamped`);
        assert.equal(twin?.stamped ?? false, false);
        for (const s of stats) {
          assert.equal(s.node, NODE, `seed ${seed} window ${window}`);
          assert.match(s.id, ID, `seed ${seed} window ${window}`);
          assert.ok(!ids.has(s.id), `seed ${seed} window ${window}: id ${s.id} given twice`);
          ids.add(s.id);
        }
        assert.equal(lease?.count ?? 0, stats.length);
        assert.deepEqual(unstamped(stats), twin === undefined ? unstamped([]) : unstamped(decoded(twin.bytes)), `seed ${seed} window ${window}: stamping changed more than node and id`);
        out.push(unstamped(stats));
        lease?.release();
        twin?.release();
      }
      // both engines: the same stats, byte for byte once the ids are blanked
      for (const o of out) assert.deepEqual(o, out[0], `seed ${seed} window ${window}: engines differ`);
    }
    assert.ok(ids.size > 0, `seed ${seed}: nothing was stamped`);
  });

  test("draws fresh ids across pool refills: thousands of stats, no id twice", async () => {
    for (const kind of ENGINE_KINDS) {
      const [stamping] = await twins(kind, `PA_refill_${kind}`);
      const ids = new Set<string>();
      let stats = 0;
      for (let window = 0; stats < 3 * IDS.COUNT; window++) {
        for (let t = 0; t < 300; t++) stamping.add(`TR_${t}`, (t & 1) as Bucket, { score: 3 });
        const lease = stamping.drainBytes(1_700_000_000_000 + window * 10_000, true)!;
        assert.equal(lease.stamped, true, kind);
        for (const s of decoded(lease.bytes)) {
          assert.match(s.id, ID, kind);
          assert.ok(!ids.has(s.id), `${kind}: id ${s.id} given twice`);
          ids.add(s.id);
          stats++;
        }
        lease.release();
      }
    }
  });

  test("an unstamped drain of a table with a node writes the node and no ids, on both engines", async () => {
    for (const kind of ENGINE_KINDS) {
      const [withNode] = await twins(kind, `PA_node_${kind}`);
      withNode.add("TR_0", 0, { score: 4 });
      withNode.add("TR_1", 1, { score: 2 });
      const lease = withNode.drainBytes(1_700_000_000_000, false)!;
      assert.equal(lease.stamped, false, kind);
      const stats = decoded(lease.bytes);
      assert.deepEqual(stats.map((s) => [s.node, s.id]), [[NODE, ""], [NODE, ""]], kind);
      lease.release();
    }
  });

  test("a wasm window of more stats than the id pool holds goes out with the node and without ids, and says so", async () => {
    const [stamping] = await twins("wasm", "PA_big");
    const tracks = IDS.COUNT + 10;
    for (let t = 0; t < tracks; t++) stamping.add(`TR_${t}`, 0, { score: 4 });
    const lease = stamping.drainBytes(1_700_000_000_000, true)!;
    assert.equal(lease.stamped, false);
    const stats = decoded(lease.bytes);
    assert.equal(stats.length, tracks);
    for (const s of stats) {
      assert.equal(s.node, NODE);
      assert.equal(s.id, "");
    }
    lease.release();
    // the next, smaller window is stamped again
    stamping.add("TR_0", 0, { score: 4 });
    const next = stamping.drainBytes(1_700_000_010_000, true)!;
    assert.equal(next.stamped, true);
    assert.match(decoded(next.bytes)[0]!.id, ID);
    next.release();
  });
});
