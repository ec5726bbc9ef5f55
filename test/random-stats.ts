/**
 * Random AnalyticsStats heavy with edge values (around 2^31 and 2^63, varint length boundaries,
 * NaN and infinite scores, negative layers, empty streams), shared by the differential suites
 * in Node and in the browser page. Deterministic from its Random, so a printed seed replays it.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
// through the public entry: the browser page bundles this file against the built package
import { AnalyticsStatSchema, StreamType, type AnalyticsStat } from "../src/index.ts";
import type { Random } from "../src/sim/random.ts";

const U32_EDGES = [0, 1, 2, 0x7f, 0x80, 0x3fff, 0x4000, 0x7fff_fffe, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffe, 0xffff_ffff];
const U64_EDGES = [0n, 1n, 127n, 128n, (1n << 32n) - 1n, 1n << 32n, (1n << 35n) - 1n, 1n << 35n, (1n << 63n) - 2n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];
const SCORE_EDGES = [0, -0, 1, 2 ** 24, NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, 4.7, 4.9, 3.3];
const LAYER_EDGES = [-2147483648, -5, -2, -1, 0, 1, 2, 3, 2147483647];

/** Random stats where a field is an edge value with probability `edgeBias`. */
export class StatGen {
  constructor(readonly r: Random, readonly edgeBias: number) {}

  u32(): number {
    const r = this.r;
    if (r.chance(this.edgeBias)) return r.pick(U32_EDGES);
    return r.chance(0.5) ? r.int(0, 1000) : r.u32() & 0x7fff_ffff;
  }

  u64(): bigint {
    const r = this.r;
    if (r.chance(this.edgeBias)) return r.pick(U64_EDGES);
    return r.chance(0.5) ? BigInt(r.int(0, 1_000_000)) : (BigInt(r.u32() & 0x7fff_ffff) << 32n) | BigInt(r.u32());
  }

  /** A direction, unknown values (R1) included. */
  direction(): StreamType {
    return this.r.pick([StreamType.UPSTREAM, StreamType.DOWNSTREAM, 2 as StreamType, -1 as StreamType]);
  }

  /** A stat with 0-4 streams of 0-4 layers, and fields the rules ignore (R12) set now and then. */
  stat(): AnalyticsStat {
    const r = this.r;
    const streams = [];
    for (let s = r.int(0, 4); s > 0; s--) {
      const videoLayers = [];
      for (let l = r.int(0, 4); l > 0; l--) {
        videoLayers.push({ layer: r.chance(0.3) ? r.pick(LAYER_EDGES) : r.int(-2, 3), packets: this.u32(), bytes: this.u64(), frames: this.u32() });
      }
      streams.push({
        ssrc: r.u32(), primaryPackets: this.u32(), primaryBytes: this.u64(), retransmitPackets: this.u32(),
        retransmitBytes: this.u64(), paddingPackets: this.u32(), paddingBytes: this.u64(), packetsLost: this.u32(),
        frames: this.u32(), rtt: r.u32(), jitter: r.u32(), nacks: this.u32(), plis: this.u32(), firs: this.u32(), videoLayers,
        packetsOutOfOrder: r.chance(0.1) ? r.u32() : 0,
      });
    }
    const score = r.chance(0.2) ? r.pick(SCORE_EDGES) : Math.fround(r.float() * 5);
    return create(AnalyticsStatSchema, {
      score, streams, trackId: "x", node: r.chance(0.2) ? "nœud-é" : "n", mime: r.chance(0.3) ? "video/VP8" : "",
      minScore: r.chance(0.1) ? 1.5 : 0, kind: r.chance(0.3) ? StreamType.DOWNSTREAM : StreamType.UPSTREAM,
    });
  }

  /**
   * A {@link stat} that also sets, now and then, every field `stat()` leaves empty: the stat's
   * timestamp and each stream's start and end times, the analytics key, room name, median score
   * and id, a 4-byte UTF-8 character; its kind is any {@link direction}. For fuzzing the decoders,
   * which must walk every field of the schema; drawn after `stat()`, so `stat()` stays as it was.
   */
  fullStat(): AnalyticsStat {
    const r = this.r;
    const stat = this.stat();
    const time = () => timestampFromMs(r.int(0, 2 ** 41));
    for (const s of stat.streams) {
      if (!r.chance(0.2)) continue;
      s.startTime = time();
      s.endTime = time();
      s.packetsOutOfOrder = this.u32();
    }
    stat.kind = this.direction();
    if (r.chance(0.2)) stat.analyticsKey = "key";
    if (r.chance(0.3)) stat.timeStamp = time();
    if (r.chance(0.3)) stat.roomName = "röom 🎥";
    if (r.chance(0.2)) Object.assign(stat, { minScore: 1.5, medianScore: 3.25, id: "AS_x" });
    return stat;
  }
}

/**
 * A random byte-level mutation of a valid encoding: byte flips, truncation, insertions and
 * deletions, random bytes, random fields of every wire type (over-long varints and groups
 * included), splices of itself and invalid UTF-8.
 */
export function mutateEncoded(r: Random, src: Uint8Array): Uint8Array {
  const b = Array.from(src);
  const int = (n: number) => Math.floor(r.float() * n);
  const varint = (v: number) => {
    const out = [];
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return out;
  };
  for (let round = 1 + int(3); round > 0; round--) {
    const at = int(b.length + 1);
    switch (int(9)) {
      case 0: if (b.length) b[int(b.length)] = int(256); break;
      case 1: if (b.length) b[int(b.length)]! ^= 1 << int(8); break;
      case 2: b.length = at; break;
      case 3: b.splice(at, 0, ...Array.from({ length: 1 + int(4) }, () => int(256))); break;
      case 4: b.splice(at, 1 + int(8)); break;
      case 5: return Uint8Array.from({ length: int(48) }, () => int(256));
      case 6: {
        // a random field: any field number, any wire type, a plausible value
        const wt = int(8);
        const field = varint(((1 + int(24)) << 3) | wt);
        if (wt === 0) field.push(...(r.chance(0.2) ? Array(11).fill(0x80) : varint(int(2 ** 30))));
        else if (wt === 1) field.push(...Array.from({ length: 8 }, () => int(256)));
        else if (wt === 2) { const n = int(6); field.push(n, ...Array.from({ length: n }, () => int(256))); }
        else if (wt === 3) field.push(...(r.chance(0.5) ? [0x08, 0x01] : []), ...varint(((1 + int(24)) << 3) | 4));
        else if (wt === 5) field.push(1, 2, 3, 4);
        b.splice(at, 0, ...field);
        break;
      }
      case 7: { const from = int(b.length + 1); b.splice(at, 0, ...b.slice(from, from + 1 + int(12))); break; }
      case 8: b.splice(at, 0, 0xc3, 0x28, 0xed, 0xa0, 0x80); break; // invalid UTF-8 bytes
    }
  }
  return Uint8Array.from(b);
}
