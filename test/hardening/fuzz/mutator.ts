/**
 * The hardening fuzzer's mutator: seeded, structure-aware mutations of encoded `AnalyticsStat`
 * messages (runaway varints, huge lengths, unknown fields of every wire type, nested groups,
 * splices of other stats, invalid UTF-8, limits), with plain byte-level damage from
 * `mutateEncoded`.
 *
 * @module
 */
import type { Random } from "../../../src/sim/random.ts";
import { mutateEncoded } from "../../random-stats.ts";
import { fields, lengthDelimited, manyStreams, nestedGroups, paddedVarint, tag, varint } from "./wire.ts";

/** The field numbers of each message the mutator knows, to aim at known and unknown fields. */
const STAT_FIELDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const UNKNOWN_FIELDS = [15, 16, 20, 31, 100, 1000, 2 ** 29 - 1];

const INVALID_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x8e]];
const VALID_UTF8 = [[0xef, 0xbb, 0xbf], [0xf0, 0x9f, 0x8e, 0xa5], [0xc3, 0xa9], [0xed, 0x9f, 0xbf]];

/** Mutates encoded stats. Every choice comes from the seeded PRNG. */
export class Mutator {
  constructor(
    readonly r: Random,
    readonly corpus: readonly Uint8Array[],
  ) {}

  private int(n: number): number {
    return Math.floor(this.r.float() * n);
  }

  private bytes(n: number): number[] {
    return Array.from({ length: n }, () => this.int(256));
  }

  private fieldNo(): number {
    return this.r.chance(0.5) ? this.r.pick(STAT_FIELDS) : this.r.pick(UNKNOWN_FIELDS);
  }

  /** A random field of any wire type, 0-7; groups nested, sometimes broken. */
  unknownField(depth = 0): number[] {
    const no = this.fieldNo();
    const wt = this.int(8);
    const out = tag(no, wt);
    switch (wt) {
      case 0:
        out.push(...(this.r.chance(0.3) ? paddedVarint(this.int(128), 1 + this.int(12)) : varint(BigInt(this.r.u32()) * BigInt(this.r.u32()))));
        break;
      case 1:
        out.push(...this.bytes(8));
        break;
      case 2: {
        const n = this.int(8);
        out.push(...varint(n), ...this.bytes(n));
        break;
      }
      case 5:
        out.push(...this.bytes(4));
        break;
      case 3: {
        for (let k = this.int(4); k > 0; k--) {
          if (depth < 6) out.push(...this.unknownField(depth + 1));
        }
        const roll = this.r.float();
        if (roll < 0.8) out.push(...tag(no, 4));
        else if (roll < 0.9) out.push(...tag(no + 1, 4)); // mismatched end group
        // else unterminated
        break;
      }
      default:
        // 4 (an end group with nothing open), 6 and 7: nothing follows
        break;
    }
    return out;
  }

  /** Groups nested `depth` deep, around a payload. */
  nestedGroups(depth: number, inner: readonly number[] = []): number[] {
    return nestedGroups(this.r.pick([16, 99, 2 ** 29 - 1]), depth, inner);
  }

  /** One mutation of `src`; `level` > 0 when mutating a nested message's payload. */
  mutateOnce(src: readonly number[], level = 0): number[] {
    const b = src.slice();
    const at = this.int(b.length + 1);
    const r = this.r;
    switch (this.int(14)) {
      case 0: // byte-level damage: truncation, flips, insertions, deletions, random bytes, ...
      case 1:
        return Array.from(mutateEncoded(r, Uint8Array.from(b)));
      case 2: { // runaway varint: a known or unknown varint field of 9-14 bytes, or none ending
        const field = r.chance(0.5) ? r.pick(level === 0 ? [2, 12] : [2, 3, 9, 10]) : r.pick(UNKNOWN_FIELDS);
        const n = 9 + this.int(6);
        const v = tag(field, 0);
        for (let i = 0; i < n - 1; i++) v.push(0x80 | this.int(128));
        if (r.chance(0.8)) v.push(this.int(128));
        else return [...b.slice(0, at), ...v]; // runs to the end of the input
        b.splice(at, 0, ...v);
        return b;
      }
      case 3: { // a huge or off-by-one length
        const f = fields(b);
        const ld = f?.filter((x) => x.wireType === 2) ?? [];
        if (ld.length > 0 && r.chance(0.6)) {
          const x = r.pick(ld);
          const len = x.end - x.payloadStart;
          const huge = r.pick([len + 1, len + 2, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 28, 2 ** 35, len - 1]);
          const prefixStart = x.start + tag(x.fieldNo, 2).length;
          return [...b.slice(0, prefixStart), ...varint(Math.max(0, huge)), ...b.slice(x.payloadStart)];
        }
        const field = r.chance(0.5) ? r.pick([1, 3, 8, 10, 11]) : r.pick(UNKNOWN_FIELDS);
        b.splice(at, 0, ...tag(field, 2), ...varint(r.pick([2 ** 32 - 1, 2 ** 31, 1 << 20, 100])), ...this.bytes(this.int(4)));
        return b;
      }
      case 4: // unknown fields of every wire type
      case 5:
        for (let k = 1 + this.int(2); k > 0; k--) b.splice(this.int(b.length + 1), 0, ...this.unknownField());
        return fields(src) !== undefined && r.chance(0.5) ? [...src, ...this.unknownField()] : b;
      case 6: // bytes set to the varint boundaries
        for (let k = 1 + this.int(3); k > 0 && b.length > 0; k--) b[this.int(b.length)] = r.pick([0x00, 0x7f, 0x80, 0xff]);
        return b;
      case 7: { // splices of valid stats: concatenation (merge), or a slice of another
        const other = Array.from(r.pick(this.corpus));
        if (r.chance(0.5)) return r.chance(0.5) ? [...b, ...other] : [...other, ...b];
        const from = this.int(other.length + 1);
        b.splice(at, 0, ...other.slice(from, from + 1 + this.int(24)));
        return b;
      }
      case 8: { // structure-aware: mutate a nested message's payload and fix its length
        const f = fields(b)?.filter((x) => x.wireType === 2 && (level === 0 ? x.fieldNo === 10 || x.fieldNo === 3 : x.fieldNo === 15 || x.fieldNo >= 17));
        if (f === undefined || f.length === 0) return this.mutateOnce(b, level);
        const x = r.pick(f);
        const inner = this.mutateOnce(b.slice(x.payloadStart, x.end), level + 1);
        return [...b.slice(0, x.start), ...lengthDelimited(x.fieldNo, inner), ...b.slice(x.end)];
      }
      case 9: { // a known field with another wire type
        const f = fields(b);
        if (f === undefined || f.length === 0) return this.mutateOnce(b, level);
        const x = r.pick(f);
        const t = tag(x.fieldNo, this.int(8));
        return [...b.slice(0, x.start), ...t, ...b.slice(x.start + tag(x.fieldNo, x.wireType).length)];
      }
      case 10: { // strings: invalid and valid UTF-8 edge sequences
        const seq = r.chance(0.6) ? r.pick(INVALID_UTF8) : r.pick(VALID_UTF8);
        const text = [0x41, ...seq, ...(r.chance(0.5) ? [0x42] : [])];
        b.splice(fields(b) ? b.length : at, 0, ...lengthDelimited(level === 0 ? r.pick([1, 4, 5, 6, 7, 8, 11, 14]) : 16, text));
        return b;
      }
      case 11: { // deep groups, around the recursion limit of 100
        const depth = r.pick([1, 2, 50, 97, 98, 99, 100, 101, 130]);
        b.splice(fields(b) ? b.length : at, 0, ...this.nestedGroups(depth, r.chance(0.3) ? paddedVarint(1, 11) : []));
        return b;
      }
      case 12: { // many streams or layers, near the limits
        const f = fields(b)?.filter((x) => x.wireType === 2 && x.fieldNo === (level === 0 ? 10 : 15));
        if (f === undefined || f.length === 0) {
          if (level !== 0) return this.mutateOnce(b, level);
          return [...b, ...manyStreams(this.r.pick([63, 64, 65, 66]), this.r.pick([0, 1, 32, 33]))];
        }
        const x = r.pick(f);
        const copy = b.slice(x.start, x.end);
        const n = r.pick(level === 0 ? [62, 63, 64, 65, 80] : [30, 31, 32, 33, 40]);
        for (let i = 0; i < n; i++) b.push(...copy);
        return b;
      }
      default: { // a field from another stat duplicated (singular: last wins; repeated: appends)
        const f = fields(b);
        if (f === undefined || f.length === 0) return b.concat(b);
        const x = r.pick(f);
        b.push(...b.slice(x.start, x.end));
        return b;
      }
    }
  }

  /** A new input: 1-3 mutations of a corpus entry. */
  next(): Uint8Array {
    let b = Array.from(this.r.pick(this.corpus));
    for (let k = 1 + this.int(3); k > 0; k--) b = this.mutateOnce(b);
    return Uint8Array.from(b);
  }
}
