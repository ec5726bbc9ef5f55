/**
 * Profiles: which generation of LiveKit's rules an engine follows.
 *
 * `"livekit-v1.2"` is statsworker.go as of livekit/livekit commit 29039b4e (2022-07-18, v1.2.0),
 * the default. `"livekit-current"` is statsworker.go and telemetryservice.go as of commit
 * 788d4c35 (2026-08-21). The README's "Profiles" section lists every difference with the LiveKit
 * commit that made it.
 *
 * @module
 */
import { ArgumentError } from "../errors.ts";

/** The name of a profile: the 2022 reference (`"livekit-v1.2"`) or LiveKit today (`"livekit-current"`). */
export type Profile = "livekit-v1.2" | "livekit-current";

/** Every profile name, the default first. */
export const PROFILES: readonly Profile[] = ["livekit-v1.2", "livekit-current"];

/** The profile an engine follows when `loadEngine` is given none: `"livekit-v1.2"`. */
export const DEFAULT_PROFILE: Profile = "livekit-v1.2";

/**
 * What a profile changes in the lifecycle of workers and services; the coalescing rules live in
 * the engines.
 */
export interface ProfileLifecycle {
  /**
   * false (v1.2): `close()` reports what the worker holds, then stats are dropped and a closed
   * worker never reports again. true (current): `close()` only marks the worker closed (the
   * first close's time stays), stats that arrive later are buffered, and `update()` still reports.
   */
  readonly reportsAfterClose: boolean;
  /**
   * `TelemetryService.flush()` reaps the workers closed for more than `closeWaitMs` after
   * reporting them, and `start()` runs no cleanup timer unless `cleanupIntervalMs` is given.
   */
  readonly reapsInFlush: boolean;
  /** default of `TelemetryServiceOptions.flushIntervalMs`, in milliseconds */
  readonly flushIntervalMs: number;
}

const LIFECYCLES: Readonly<Record<Profile, ProfileLifecycle>> = {
  // statsworker.go and the service around it at 29039b4e: Update, Close, a 10 s flush ticker
  // and a cleanup ticker
  "livekit-v1.2": { reportsAfterClose: false, reapsInFlush: false, flushIntervalMs: 10_000 },
  // statsworker.go Flush/Close and telemetryservice.go FlushStats at 788d4c35
  // (telemetryStatsUpdateInterval = 30 s)
  "livekit-current": { reportsAfterClose: true, reapsInFlush: true, flushIntervalMs: 30_000 },
};

/** Whether `value` names a profile. */
export function isProfile(value: unknown): value is Profile {
  return value === "livekit-v1.2" || value === "livekit-current";
}

/**
 * Returns `value`, or {@link DEFAULT_PROFILE} when it is undefined.
 *
 * @throws ArgumentError when `value` names no profile
 */
export function checkProfile(value: unknown): Profile {
  if (value === undefined) return DEFAULT_PROFILE;
  if (!isProfile(value)) {
    throw new ArgumentError(`invalid profile: ${String(value)} (expected "livekit-v1.2" or "livekit-current")`);
  }
  return value;
}

/**
 * The lifecycle rules of `profile`; an engine that predates profiles (undefined) follows the default.
 *
 * @throws ArgumentError when `profile` names no profile
 */
export function profileLifecycle(profile: unknown): ProfileLifecycle {
  return LIFECYCLES[checkProfile(profile)];
}
