/**
 * The scenario `statsworker simulate` plays: who is in which room, who leaves when, which stats
 * each window brings (late ones of participants that left included), on virtual time and
 * reproducible from a seed. It produces inputs; it never touches the service.
 *
 * @module
 */
import { toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AnalyticsStatSchema, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { Random } from "../sim/random.ts";
import { SyntheticSfu, type SyntheticParticipant, type SyntheticTrack } from "../sim/synthetic-sfu.ts";

// a participant that left sends a late stat with this probability per window, for this many windows
const LATE_STAT_RATE = 0.3;
const LATE_WINDOWS = 3;

/** What shapes a scenario; see `statsworker simulate --help` for each. */
export interface ScenarioOptions {
  participants: number;
  participantsPerRoom: number;
  minTracks: number;
  maxTracks: number;
  statsPerWindow: number;
  /** participants leaving (and as many joining) per window, in percent */
  churn: number;
  invalidRate: number;
  seed: number;
  /** window length in ms */
  windowMs: number;
  /** start of window 0, in ms since the epoch */
  t0: number;
}

/** A member of a room: when it leaves during the current window (Infinity: it stays). */
export interface Member {
  readonly p: SyntheticParticipant;
  readonly room: number;
  leaveAt: number;
}

/** One stat a participant sends during a window, at virtual time `t`. */
export interface StatEvent {
  readonly t: number;
  readonly p: SyntheticParticipant;
  readonly track: SyntheticTrack;
  readonly stat: AnalyticsStat;
}

/** One window's inputs, in the order the service sees them. */
export interface WindowPlan {
  readonly index: number;
  /** [start, end) in ms */
  readonly start: number;
  readonly end: number;
  /** members that join at the window's start */
  readonly joining: readonly Member[];
  /** stats in time order, time stamp and room name set */
  readonly events: readonly StatEvent[];
  /** members that leave during the window, in order of `leaveAt` */
  readonly leavers: readonly Member[];
}

/** Stochastic rounding: `x` rounded down or up with the probability of its fraction. */
function stochasticRound(x: number, random: Random): number {
  const whole = Math.floor(x);
  return whole + (random.chance(x - whole) ? 1 : 0);
}

/** The synthetic SFU's participants over time: plans one window after the other. */
export class Scenario {
  readonly sfu: SyntheticSfu;
  /** stats planned so far */
  offered = 0;
  /** members that joined so far (the first window's included) */
  joined = 0;
  /** members that left before the end of the run */
  left = 0;
  private readonly options: ScenarioOptions;
  // scheduling (times, churn, late stats) has its own stream so it never shifts the stat stream
  private readonly schedule: Random;
  private open: Member[];
  private joining: Member[];
  private recentlyLeft: { p: SyntheticParticipant; window: number }[] = [];
  private next = 0;

  constructor(options: ScenarioOptions) {
    this.options = options;
    this.sfu = new SyntheticSfu({
      participants: options.participants,
      participantsPerRoom: options.participantsPerRoom,
      tracks: options.minTracks,
      maxTracks: options.maxTracks,
      seed: options.seed,
      invalidRate: options.invalidRate,
    });
    this.schedule = new Random((options.seed ^ 0x5bd1e995) >>> 0);
    this.open = this.sfu.participants.map((p, i) => ({ p, room: Math.floor(i / options.participantsPerRoom), leaveAt: Infinity }));
    this.joining = this.open;
  }

  /** The members still there at the end of the last planned window. */
  get members(): readonly Member[] {
    return this.open;
  }

  /** Plans the next window: its joins, its stats and its leaves; then moves membership on. */
  plan(): WindowPlan {
    const { windowMs, statsPerWindow, churn, t0 } = this.options;
    const schedule = this.schedule;
    const w = this.next++;
    const start = t0 + w * windowMs;
    const end = start + windowMs;

    const open = this.open;
    const leaveCount = Math.min(open.length, stochasticRound((open.length * churn) / 100, schedule));
    const leavers: Member[] = [];
    const pool = open.slice();
    for (let i = 0; i < leaveCount; i++) {
      const j = i + schedule.int(0, pool.length - 1 - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      const m = pool[i]!;
      m.leaveAt = start + 1 + schedule.int(0, windowMs - 2);
      leavers.push(m);
    }
    leavers.sort((a, b) => a.leaveAt - b.leaveAt);

    const events: StatEvent[] = [];
    for (const m of open) {
      for (const track of m.p.tracks) {
        for (let k = 0; k < statsPerWindow; k++) {
          const t = start + Math.floor(((k + schedule.float()) * windowMs) / statsPerWindow);
          if (t >= m.leaveAt) continue;
          events.push({ t, p: m.p, track, stat: this.sfu.stat(m.p, track) });
        }
      }
    }
    for (const r of this.recentlyLeft) {
      if (!schedule.chance(LATE_STAT_RATE)) continue;
      const track = schedule.pick(r.p.tracks);
      events.push({ t: start + schedule.int(0, windowMs - 1), p: r.p, track, stat: this.sfu.stat(r.p, track) });
    }
    events.sort((a, b) => a.t - b.t);
    for (const e of events) {
      e.stat.timeStamp = timestampFromMs(e.t);
      e.stat.roomName = e.p.roomName;
    }
    this.offered += events.length;
    const plan: WindowPlan = { index: w, start, end, joining: this.joining, events, leavers };

    // membership for the next window: as many join as left, into the rooms they left
    this.joined += this.joining.length;
    this.left += leavers.length;
    const leaving = new Set(leavers);
    this.open = open.filter((m) => !leaving.has(m));
    this.joining = leavers.map((m) => ({ p: this.sfu.addParticipant(m.room), room: m.room, leaveAt: Infinity }));
    this.open.push(...this.joining);
    this.recentlyLeft = this.recentlyLeft.filter((r) => r.window > w - LATE_WINDOWS);
    for (const m of leavers) this.recentlyLeft.push({ p: m.p, window: w });
    return plan;
  }
}

/** The window's stats encoded one by one, and as one size-delimited buffer of them. */
export function encodeEvents(events: readonly StatEvent[]): { encoded: Uint8Array[]; delimited: Uint8Array } {
  const encoded = events.map((e) => toBinary(AnalyticsStatSchema, e.stat));
  return { encoded, delimited: concatDelimited(encoded) };
}

function concatDelimited(messages: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const m of messages) size += varintSize(m.length) + m.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const m of messages) {
    let n = m.length;
    while (n > 0x7f) {
      out[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[pos++] = n;
    out.set(m, pos);
    pos += m.length;
  }
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n >>>= 7;
    size++;
  }
  return size;
}
