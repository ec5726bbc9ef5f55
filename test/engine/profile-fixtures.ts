/**
 * Fixtures of the profile suites: engines of each kind per profile, and Go's special times.
 */
import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { loadEngine, type AnalyticsStat, type Engine, type EngineKind } from "../../src/index.ts";
import type { Profile } from "../../src/engine/profile.ts";
import { ENGINE_KINDS } from "../helpers.ts";
import type { StatGen } from "../random-stats.ts";

/** The engine kinds the profile suites run on (the ENGINES variable narrows them). */
export const PROFILE_KINDS: readonly EngineKind[] = ENGINE_KINDS;

const cache = new Map<string, Promise<Engine>>();

/** A shared engine of `kind` following `profile`. */
export function profileEngine(kind: EngineKind, profile: Profile): Promise<Engine> {
  const key = `${kind}/${profile}`;
  let e = cache.get(key);
  if (e === undefined) {
    e = loadEngine(kind, { profile });
    cache.set(key, e);
  }
  return e;
}

/** Go's zero `time.Time` as `timestamppb.New` writes it: 0001-01-01T00:00:00Z. */
export const ZERO_TIME = { seconds: -62_135_596_800n, nanos: 0 };

/** The Unix epoch: what Go's `AsTime()` reads for a stream without a time. */
export const EPOCH = { seconds: 0n, nanos: 0 };

/** A `{ seconds, nanos }` pair of a Timestamp, for comparing without `$typeName`. */
export function secNanos(t: { seconds: bigint; nanos: number } | undefined): { seconds: bigint; nanos: number } | undefined {
  return t === undefined ? undefined : { seconds: t.seconds, nanos: t.nanos };
}

const TIME_EDGES: ({ seconds: bigint; nanos: number } | undefined)[] = [
  undefined,
  EPOCH,
  ZERO_TIME,
  { seconds: -62_135_596_801n, nanos: 999_999_999 },
  { seconds: -62_135_596_800n, nanos: 1 },
  { seconds: 1n, nanos: -1 },
  { seconds: 0n, nanos: 2_147_483_647 },
  { seconds: -1n, nanos: -2_147_483_648 },
  { seconds: 2n ** 63n - 1n, nanos: 999_999_999 },
  { seconds: -(2n ** 63n), nanos: 0 },
  { seconds: 1_795_000_000n, nanos: 0 },
];
const MIMES = ["", "video/VP8", "audio/opus", "vidéo/AV1", "video/\ud800H264"];
const OOO_EDGES = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

/**
 * A random stat of `gen` with what livekit-current reads set as well: stream times heavy with
 * Go's special values (missing, epoch, zero time, nanos to carry, int64 ends), mimes (an
 * unpaired surrogate included), packets_out_of_order around 2^31, and more positive scores.
 */
export function currentStat(gen: StatGen): AnalyticsStat {
  const r = gen.r;
  const stat = gen.stat();
  const time = () => {
    const t = r.chance(0.4) ? r.pick(TIME_EDGES) : { seconds: BigInt(r.int(-2_000_000_000, 2_000_000_000)), nanos: r.int(0, 999_999_999) };
    return t === undefined ? undefined : create(TimestampSchema, t);
  };
  for (const s of stat.streams) {
    const start = time();
    const end = time();
    if (start !== undefined) s.startTime = start;
    if (end !== undefined) s.endTime = end;
    s.packetsOutOfOrder = r.chance(0.1) ? r.pick(OOO_EDGES) : r.int(0, 50);
  }
  stat.mime = r.pick(MIMES);
  if (r.chance(0.4)) stat.score = Math.fround(r.float() * 5);
  return stat;
}
