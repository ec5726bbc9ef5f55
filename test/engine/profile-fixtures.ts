/**
 * Fixtures of the profile suites: engines of each kind per profile, and Go's special times.
 */
import { loadEngine, type Engine, type EngineKind } from "../../src/index.ts";
import type { Profile } from "../../src/engine/profile.ts";
import { ENGINE_KINDS } from "../helpers.ts";

/**
 * The engine kinds the livekit-current suites run on (the ENGINES variable narrows them); the
 * wasm module does not implement the profile yet and rejects it (profile.test.ts checks that).
 */
export const PROFILE_KINDS: readonly EngineKind[] = ENGINE_KINDS.filter((k) => k === "ts");

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
