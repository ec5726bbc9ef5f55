/**
 * The hardening fuzzer's inputs before mutation: valid random stats routed to the harness's
 * participants (the seed corpus), and deterministic edge inputs run before the random ones.
 *
 * @module
 */
import { toBinary } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, LIMITS, type AnalyticsStat } from "../../../src/index.ts";
import type { Random } from "../../../src/sim/random.ts";
import { StatGen } from "../../random-stats.ts";
import { lengthDelimited, manyStreams, nestedGroups, paddedVarint, tag, varint } from "./wire.ts";

/** Room and participants the harness registers; most seeds route to `PARTICIPANT`. */
export const ROOM = "RM_fuzz";
export const PARTICIPANT = "PA_fuzz";
/** the participant the clean stats of batches go to */
export const CLEAN_PARTICIPANT = "PA_clean";

/**
 * A valid random stat with every field of the schema set now and then, routed mostly to
 * `PARTICIPANT` in `ROOM`; `edgy` (default: one stat in five) makes its counters edge values
 * (invalid ones included) three times in ten.
 */
export function seedStat(r: Random, edgy = r.chance(0.2)): AnalyticsStat {
  const stat = new StatGen(r, edgy ? 0.3 : 0).fullStat();
  stat.roomId = r.chance(0.9) ? ROOM : "RM_other";
  stat.participantId = r.chance(0.8) ? PARTICIPANT : r.pick([CLEAN_PARTICIPANT, "PA_nobody", ""]);
  stat.trackId = r.pick(["TR_a", "TR_b", "TR_ü", ""]);
  return stat;
}

/** `count` encoded seed stats. */
export function seedCorpus(r: Random, count = 64): Uint8Array[] {
  return Array.from({ length: count }, () => toBinary(AnalyticsStatSchema, seedStat(r)));
}

/**
 * Deterministic edge inputs run before the random ones: limit boundaries, varint lengths, group
 * depths, wire types 6 and 7, end-group tags, the 1 MiB bound.
 */
export function edgeInputs(): { name: string; bytes: Uint8Array }[] {
  const base = [...lengthDelimited(5, [...Buffer.from(ROOM)]), ...lengthDelimited(7, [...Buffer.from(PARTICIPANT)]), ...lengthDelimited(8, [0x54])];
  const out: { name: string; bytes: Uint8Array }[] = [];
  const add = (name: string, bytes: number[]) => out.push({ name, bytes: Uint8Array.from(bytes) });
  for (const n of [63, 64, 65]) add(`${n} streams`, [...base, ...manyStreams(n, 1)]);
  for (const n of [31, 32, 33]) add(`${n} layers`, [...base, ...manyStreams(2, n)]);
  add("65 streams, the first with 33 layers", [...base, ...manyStreams(1, 33), ...manyStreams(64, 0)]);
  add("33 layers in stream 65", [...base, ...manyStreams(64, 0), ...manyStreams(1, 33)]);
  for (const n of [10, 11, 12]) {
    add(`unknown varint of ${n} bytes`, [...base, ...tag(20, 0), ...paddedVarint(1, n)]);
    add(`known varint of ${n} bytes`, [...base, ...lengthDelimited(10, [...tag(2, 0), ...paddedVarint(1, n)])]);
    add(`unknown varint of ${n} bytes in a group`, [...base, ...tag(20, 3), ...tag(21, 3), ...tag(1, 0), ...paddedVarint(1, n), ...tag(21, 4), ...tag(20, 4)]);
    add(`unknown varint of ${n} bytes in a layer`, [...base, ...lengthDelimited(10, lengthDelimited(15, [...tag(9, 0), ...paddedVarint(1, n)]))]);
    add(`unknown varint of ${n} bytes in a timestamp`, [...base, ...lengthDelimited(3, [...tag(9, 0), ...paddedVarint(1, n)])]);
  }
  for (const depth of [97, 98, 99, 100, 101]) {
    add(`groups ${depth} deep in the stat`, [...base, ...nestedGroups(16, depth)]);
    add(`groups ${depth} deep in a stream`, [...base, ...lengthDelimited(10, nestedGroups(16, depth))]);
    add(`groups ${depth} deep in a layer`, [...base, ...lengthDelimited(10, lengthDelimited(15, nestedGroups(16, depth)))]);
  }
  add("wire type 6", [...base, ...tag(20, 6)]);
  add("wire type 7", [...base, ...tag(20, 7), 0]);
  add("end group with nothing open", [...base, ...tag(20, 4)]);
  add("end group of another field", [...base, ...tag(20, 3), ...tag(21, 4)]);
  add("unterminated group", [...base, ...tag(20, 3), ...tag(1, 0), 1]);
  add("field number 0", [...base, 0x00, 0x01]);
  add("tag of 5 bytes over uint32", [...base, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00]);
  add("tag of 6 bytes", [...base, 0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]);
  add("known field 10 as a varint", [...base, ...tag(10, 0), 0x02, 0x10, 0x05]);
  add("known field 9 as a varint", [...base, ...tag(9, 0), 1, 2, 3, 4]);
  add("stream overrunning its parent", [...base, ...lengthDelimited(10, [0x10]).slice(0, -1), 0x10, 0x85, 0x01]);
  // the 1 MiB bound: an unknown bytes field pads the message to exactly the limit, and one over
  for (const extra of [0, 1]) {
    const header = [...base, ...tag(20, 2)];
    const fill = LIMITS.maxMessageBytes + extra - header.length - 3; // 3-byte length prefix
    const bytes = new Uint8Array(LIMITS.maxMessageBytes + extra);
    bytes.set([...header, ...varint(fill)]);
    out.push({ name: `message of 1 MiB${extra ? " + 1" : ""}`, bytes });
  }
  return out;
}
