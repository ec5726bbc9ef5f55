/**
 * Just enough of Go's `time.Time` to reproduce how LiveKit's current `coalesce` picks a stream
 * window's start and end (statsworker.go at livekit/livekit 788d4c35): `Timestamp.AsTime()`,
 * `Before`/`After`, `IsZero` and `timestamppb.New`.
 *
 * A Go `Time` without a monotonic reading is (seconds since 0001-01-01 as a wrapping int64,
 * nanoseconds in [0, 1e9)); the zero `Time` is (0, 0), which `timestamppb.New` writes as
 * seconds -62135596800.
 *
 * @module
 */
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/** Seconds from 0001-01-01 to 1970-01-01: Go's `unixToInternal`. */
export const UNIX_TO_INTERNAL = 62_135_596_800n;

/**
 * A Go `time.Time` in UTC without a monotonic reading: `sec` since 0001-01-01 (int64), `nsec` in
 * [0, 1e9). Values are never mutated (they may be shared).
 */
export interface GoTime {
  readonly sec: bigint;
  readonly nsec: number;
}

const i64 = (v: bigint): bigint => BigInt.asIntN(64, v);

// what a missing Timestamp reads as; shared, as GoTime values are never mutated
const EPOCH: GoTime = { sec: UNIX_TO_INTERNAL, nsec: 0 };

/** Go's zero `time.Time`, 0001-01-01T00:00:00Z. */
export const ZERO_TIME: GoTime = { sec: 0n, nsec: 0 };

/**
 * Go `(*timestamppb.Timestamp).AsTime()`: `time.Unix(seconds, nanos).UTC()` of a timestamp
 * (`has`: present) with int64 `seconds` and int32 `nanos`; a missing timestamp reads as the Unix
 * epoch, nanos outside [0, 1e9) carry into the seconds, and the seconds wrap as int64
 * arithmetic does.
 */
export function asTime(has: boolean, seconds: bigint, nanos: number): GoTime {
  if (!has) return EPOCH;
  let sec = i64(seconds);
  // Go parity: time.Unix normalises nanos with truncating division
  let nsec = nanos | 0;
  if (nsec < 0 || nsec >= 1e9) {
    const n = Math.trunc(nsec / 1e9);
    sec = i64(sec + BigInt(n));
    nsec -= n * 1e9;
    if (nsec < 0) {
      nsec += 1e9;
      sec = i64(sec - 1n);
    }
  }
  return { sec: i64(sec + UNIX_TO_INTERNAL), nsec };
}

/** Go `t.IsZero()`. */
export function isZero(t: GoTime): boolean {
  return t.sec === 0n && t.nsec === 0;
}

/** Go `t.After(u)`. */
export function after(t: GoTime, u: GoTime): boolean {
  return t.sec > u.sec || (t.sec === u.sec && t.nsec > u.nsec);
}

/** Go `t.Before(u)`. */
export function before(t: GoTime, u: GoTime): boolean {
  return t.sec < u.sec || (t.sec === u.sec && t.nsec < u.nsec);
}

/** Go `timestamppb.New(t)`: seconds `t.Unix()` (wrapping int64), nanos `t.Nanosecond()`. */
export function toTimestamp(t: GoTime): Timestamp {
  return { $typeName: "google.protobuf.Timestamp", seconds: i64(t.sec - UNIX_TO_INTERNAL), nanos: t.nsec };
}
