// The id table answers exactly for byte ranges: equal ids find their entry, ids differing in
// any byte or in where room ends and participant begins do not.
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { IdTable } from "../../src/cli/id-table.ts";
import { Random } from "../../src/sim/random.ts";

const enc = new TextEncoder();

function pair(room: string, participant: string) {
  const r = enc.encode(room);
  const p = enc.encode(participant);
  const buf = new Uint8Array(r.length + p.length + 3);
  buf.set(r, 1);
  buf.set(p, r.length + 2);
  return [buf, 1, 1 + r.length, r.length + 2, r.length + 2 + p.length] as const;
}

/** The value under a pair, as the replay reads it: find(), then value() of the handle. */
function lookup<V>(table: IdTable<V>, ...at: Parameters<IdTable<V>["find"]>): V | undefined {
  const handle = table.find(...at);
  return handle < 0 ? undefined : table.value(handle);
}

suite("IdTable", () => {
  test("finds what was set, misses what was not, and forgets what was deleted", () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    console.log(`IdTable random seed ${seed}`);
    const r = new Random(seed);
    const table = new IdTable<number>();
    const handles = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const room = `RM_${r.int(0, 50)}`;
      const participant = `PA_${r.int(0, 200)}`;
      const key = `${room}/${participant}`;
      if (handles.has(key)) {
        assert.equal(lookup(table, ...pair(room, participant)) !== undefined, true, `seed ${seed}: ${key}`);
        if (r.chance(0.3)) {
          table.delete(handles.get(key)!);
          handles.delete(key);
          assert.equal(lookup(table, ...pair(room, participant)), undefined, `seed ${seed}: ${key} deleted`);
          assert.equal(table.find(...pair(room, participant)), -1);
        }
      } else {
        assert.equal(lookup(table, ...pair(room, participant)), undefined, `seed ${seed}: ${key} never set`);
        handles.set(key, table.set(...pair(room, participant), i));
        assert.equal(lookup(table, ...pair(room, participant)), i);
        const handle = table.find(...pair(room, participant));
        assert.equal(handle, handles.get(key));
        assert.equal(table.value(handle), i);
      }
      assert.equal(table.size, handles.size);
    }
  });

  test("keeps its own copy of the ids: a Buffer whose bytes are reused later does not change the key", () => {
    const table = new IdTable<string>();
    const buf = Buffer.from("xRM_1PA_1x");
    table.set(buf, 1, 5, 5, 9, "first");
    buf.write("yRM_2PA_2y");
    assert.equal(lookup(table, Buffer.from("RM_1PA_1"), 0, 4, 4, 8), "first");
    assert.equal(lookup(table, buf, 1, 5, 5, 9), undefined);
  });

  test("the split between room and participant is part of the key", () => {
    const table = new IdTable<string>();
    table.set(...pair("ab", "c"), "ab|c");
    assert.equal(lookup(table, ...pair("a", "bc")), undefined);
    assert.equal(lookup(table, ...pair("ab", "c")), "ab|c");
  });
});
