/**
 * The deterministic output order of the `statsworker` commands.
 *
 * @module
 */
import type { AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";

function timeMs(stat: AnalyticsStat): number {
  const t = stat.timeStamp;
  return t === undefined ? 0 : Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
}

/** Two strings compared by UTF-16 code units (locale-independent), as the output order does. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The routing fields the output order compares, after the time stamp. */
export interface Routed {
  readonly roomId: string;
  readonly participantId: string;
  readonly kind: number;
  readonly trackId: string;
}

/** The order of {@link compareStats} for anything routed, with its time stamp in ms given apart. */
export function compareRouted(a: Routed, aMs: number, b: Routed, bMs: number): number {
  return aMs - bMs || compareCodeUnits(a.roomId, b.roomId) || compareCodeUnits(a.participantId, b.participantId) || a.kind - b.kind || compareCodeUnits(a.trackId, b.trackId);
}

/**
 * Orders stats by time stamp, room id, participant id, kind (UPSTREAM first) and track id,
 * comparing strings by UTF-16 code units (locale-independent).
 *
 * Within one worker's batch the order of tracks is unspecified (R2 in docs/rules.md) and the order in which
 * workers flush is the registry's, so output is sorted before it is written: that is what makes
 * it byte-identical for both engines and every input mode.
 */
export function compareStats(a: AnalyticsStat, b: AnalyticsStat): number {
  return compareRouted(a, timeMs(a), b, timeMs(b));
}
