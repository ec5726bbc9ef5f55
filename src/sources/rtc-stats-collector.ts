/**
 * RtcStatsCollector: turns successive W3C `getStats()` reports of one RTCPeerConnection into
 * per-window LiveKit `AnalyticsStat`s, one per track, ready for `StatsWorker.onTrackStat`.
 *
 * The field-by-field mapping, with sources and units, is in docs/rtc-stats.md.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { ArgumentError } from "../errors.ts";
import {
  AnalyticsStatSchema,
  AnalyticsStreamSchema,
  AnalyticsVideoLayerSchema,
  StreamType,
  type AnalyticsStat,
  type AnalyticsStream,
  type AnalyticsVideoLayer,
} from "../gen/livekit/livekit_analytics_pb.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { QualityScorer, packetLossWeight } from "./connection-quality.ts";
import { readRtcStats, type OtherRecord, type RemoteRecord, type RtcRecord, type RtpCounters, type RtpRecord } from "./rtc-stats-read.ts";

/** What the collector knows about a stream when it asks for its track id. */
export interface RtcStreamInfo {
  /** UPSTREAM for outbound-rtp (what this peer sends), DOWNSTREAM for inbound-rtp */
  direction: StreamType;
  kind: "audio" | "video";
  ssrc: number;
  /** the MediaStreamTrack id: inbound-rtp's own, outbound-rtp's through its media-source */
  trackIdentifier: string | undefined;
  /** the transceiver's mid */
  mid: string | undefined;
  /** the simulcast rid of an outbound encoding */
  rid: string | undefined;
  /** the RTCStats id of the outbound-rtp or inbound-rtp dictionary */
  statsId: string;
}

/** Options of {@link RtcStatsCollector}. */
export interface RtcStatsCollectorOptions {
  /**
   * Names the track a stream belongs to (e.g. a LiveKit track SID); returning undefined keeps the
   * default: the `trackIdentifier`, else `mid:<mid>`, else `ssrc:<ssrc>`
   */
  trackId?: (info: RtcStreamInfo) => string | undefined;
  /** let the round trip time lower the score; default true (LiveKit's server leaves it out) */
  includeRtt?: boolean;
  /** let jitter lower the score; default true (LiveKit's server leaves it out) */
  includeJitter?: boolean;
  /** where skipped dictionaries are reported (one warn each); default: silent */
  logger?: Logger;
}

/**
 * What `collect` takes: an RTCStatsReport, a Map of id to dictionary, an array (anything with a
 * `forEach` that hands out the dictionaries), or any iterable of dictionaries or `[id, dictionary]`
 * pairs. Spelled structurally so that the declarations need no DOM types.
 */
export type RtcStatsReportLike = Iterable<unknown> | { forEach(callback: (value: unknown) => void): void };

/** One window of one track, for `worker.onTrackStat(trackId, direction, stat)`. */
export interface RtcStatsSample {
  trackId: string;
  direction: StreamType;
  kind: "audio" | "video";
  stat: AnalyticsStat;
}

/** What a collector has seen since it was made; every field only grows. */
export interface RtcStatsCollectorCounters {
  /** calls to `collect` */
  reports: number;
  /** dictionaries of a type the collector reads */
  dictionaries: number;
  /** dictionaries of any other type, ignored */
  ignored: number;
  /** dictionaries skipped because a field had the wrong type or range (or the report ended early) */
  malformed: number;
  /** streams whose counters went backwards, each counted from zero again */
  restarts: number;
  /** streams no longer in the report, whose state was dropped */
  forgotten: number;
}

// the monotonic counters that tell a restarted stream
const COUNTER_NAMES = ["packets", "payloadBytes", "headerBytes", "retransmittedPackets", "retransmittedBytes", "frames", "nacks", "plis", "firs"] as const;

const ZERO_COUNTERS: RtpCounters = Object.freeze({
  packets: 0,
  payloadBytes: 0,
  headerBytes: 0,
  retransmittedPackets: 0,
  retransmittedBytes: 0,
  frames: 0,
  nacks: 0,
  plis: 0,
  firs: 0,
});

const U32_MAX = 0xffff_ffff;

// LiveKit's fixed rid -> spatial layer table (pkg/sfu/buffer/videolayerutils.go, RidToSpatialLayer
// without track info, plus its "2"/"1"/"0" rid space)
const RID_LAYER: Readonly<Record<string, number>> = { q: 0, h: 1, f: 2, "2": 0, "1": 1, "0": 2 };

interface StreamState {
  counters: RtpCounters;
  timestamp: number;
  /** the packetsLost already handed out in this run (its high-water mark) */
  lostReported: number;
}

/** A stream of this report with its window computed. */
interface StreamWindow {
  rtp: RtpRecord;
  trackId: string;
  stream: AnalyticsStream;
  durationMs: number;
  lastRtcpMs: number | undefined;
}

/** u32 field: a window larger than u32 is clamped, so that the worker flags it instead of wrapping it to a small value. */
function u32(n: number): number {
  return n > U32_MAX ? U32_MAX : n;
}

function roundMs(seconds: number | undefined): number {
  return seconds === undefined ? 0 : u32(Math.round(seconds * 1000));
}

function roundUs(seconds: number | undefined): number {
  return seconds === undefined ? 0 : u32(Math.round(seconds * 1e6));
}

/**
 * Turns `getStats()` reports into per-window AnalyticsStats: counters become deltas since the
 * previous `collect` (the first: since each stream started), rtt and jitter are the latest
 * values, and each track gets LiveKit's connection-quality MOS as `score`. Use one collector per
 * RTCPeerConnection; it keeps a little state per SSRC between calls.
 */
export class RtcStatsCollector {
  /** Running totals; see {@link RtcStatsCollectorCounters}. */
  readonly counters: RtcStatsCollectorCounters = { reports: 0, dictionaries: 0, ignored: 0, malformed: 0, restarts: 0, forgotten: 0 };

  private readonly trackIdOf: ((info: RtcStreamInfo) => string | undefined) | undefined;
  private readonly includeRtt: boolean;
  private readonly includeJitter: boolean;
  private readonly logger: Logger;
  private readonly streams = new Map<string, StreamState>();
  private readonly scorers = new Map<string, { scorer: QualityScorer; weight: number }>();

  constructor(options: RtcStatsCollectorOptions = {}) {
    if (typeof options !== "object" || options === null) throw new ArgumentError(`options is not an object: ${String(options)}`);
    if (options.trackId !== undefined && typeof options.trackId !== "function") throw new ArgumentError("options.trackId is not a function");
    this.trackIdOf = options.trackId;
    this.includeRtt = options.includeRtt ?? true;
    this.includeJitter = options.includeJitter ?? true;
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Takes one report (an RTCStatsReport, a Map of id to dictionary, or any iterable of
   * dictionaries) and returns one sample per track. Never throws for what the report holds:
   * unknown types are ignored and malformed dictionaries skipped and counted. Throws an
   * ArgumentError only when `report` has neither `forEach` nor an iterator.
   */
  collect(report: RtcStatsReportLike): RtcStatsSample[] {
    const forEach = reportForEach(report);
    this.counters.reports++;
    const records = new Map<string, RtcRecord>();
    const rtps: RtpRecord[] = [];
    try {
      forEach((entry) => {
        const r = readRtcStats(entry);
        if (r.ok) {
          this.counters.dictionaries++;
          records.set(r.record.id, r.record);
          if (r.record.type === "outbound-rtp" || r.record.type === "inbound-rtp") rtps.push(r.record);
        } else if (r.ignored) {
          this.counters.ignored++;
        } else {
          this.skip(r.reason, entry);
        }
      });
    } catch (err) {
      // an iterator or forEach that throws ends the report; what was read so far still counts
      this.skip(`reading the report threw: ${String(err)}`, undefined);
    }

    const remotes = new Map<string, RemoteRecord>();
    for (const r of records.values()) {
      if ((r.type === "remote-inbound-rtp" || r.type === "remote-outbound-rtp") && r.localId !== undefined) remotes.set(r.localId, r);
    }

    const seen = new Set<string>();
    const windows: StreamWindow[] = [];
    for (const rtp of rtps) {
      const key = `${rtp.type}/${rtp.kind}/${rtp.ssrc}`;
      // two dictionaries for one SSRC: the report is inconsistent; keep the first
      if (seen.has(key)) {
        this.skip(`a second ${rtp.type} for ssrc ${rtp.ssrc}`, rtp);
        continue;
      }
      seen.add(key);
      windows.push(this.window(rtp, key, records, remotes));
    }
    for (const key of this.streams.keys()) {
      if (!seen.has(key)) {
        this.streams.delete(key);
        this.counters.forgotten++;
      }
    }
    return this.samples(windows, records);
  }

  private skip(reason: string, entry: unknown): void {
    this.counters.malformed++;
    const dict = Array.isArray(entry) ? entry[1] : entry;
    const id = typeof dict === "object" && dict !== null && typeof (dict as { id?: unknown }).id === "string" ? (dict as { id: string }).id : undefined;
    this.logger.warn("skipped a malformed stats dictionary", { reason, id });
  }

  private window(rtp: RtpRecord, key: string, records: Map<string, RtcRecord>, remotes: Map<string, RemoteRecord>): StreamWindow {
    const direction = rtp.type === "outbound-rtp" ? StreamType.UPSTREAM : StreamType.DOWNSTREAM;
    const remoteById = rtp.remoteId !== undefined ? records.get(rtp.remoteId) : undefined;
    const remote = remoteById !== undefined && (remoteById.type === "remote-inbound-rtp" || remoteById.type === "remote-outbound-rtp") ? remoteById : remotes.get(rtp.id);

    let state = this.streams.get(key);
    const cur = rtp.counters;
    if (state !== undefined && COUNTER_NAMES.some((n) => cur[n] < state!.counters[n])) {
      // a restarted stream (or SSRC reused by a new call): its counters start again from zero
      this.counters.restarts++;
      state = undefined;
    }
    const prev = state?.counters ?? ZERO_COUNTERS;
    const d = (n: (typeof COUNTER_NAMES)[number]) => cur[n] - prev[n];

    // packets lost: the sender learns it from the receiver's reports, the receiver counts it itself;
    // it may shrink when late packets arrive, so the windows hand out its high-water mark
    const lostNow = rtp.type === "outbound-rtp" ? remote?.type === "remote-inbound-rtp" ? remote.packetsLost : undefined : rtp.packetsLost;
    const lostReported = state?.lostReported ?? 0;
    const lostDelta = lostNow !== undefined && lostNow > lostReported ? lostNow - lostReported : 0;

    const jitterS = rtp.type === "outbound-rtp" ? (remote?.type === "remote-inbound-rtp" ? remote.jitter : undefined) : rtp.jitter;
    const rttS = remote?.roundTripTime ?? this.transportRtt(rtp, records);

    // W3C's packetsSent includes retransmissions, LiveKit's primary packets do not; the receiver's
    // packetsReceived already leaves out what came on the RTX SSRC
    const retransmitPackets = d("retransmittedPackets");
    const retransmitBytes = d("retransmittedBytes");
    const outbound = rtp.type === "outbound-rtp";
    const primaryPackets = Math.max(0, d("packets") - (outbound ? retransmitPackets : 0));
    const primaryPayload = Math.max(0, d("payloadBytes") - (outbound ? retransmitBytes : 0));

    const stream: AnalyticsStream = create(AnalyticsStreamSchema, {
      ssrc: rtp.ssrc,
      primaryPackets: u32(primaryPackets),
      // LiveKit's byte counters hold whole packets, header included
      primaryBytes: BigInt(primaryPayload + d("headerBytes")),
      retransmitPackets: u32(retransmitPackets),
      retransmitBytes: BigInt(retransmitBytes),
      packetsLost: u32(lostDelta),
      frames: rtp.kind === "video" ? u32(d("frames")) : 0,
      rtt: roundMs(rttS),
      jitter: roundUs(jitterS),
      nacks: u32(d("nacks")),
      plis: u32(d("plis")),
      firs: u32(d("firs")),
    });

    this.streams.set(key, { counters: cur, timestamp: rtp.timestamp, lostReported: lostReported + lostDelta });
    const info: RtcStreamInfo = {
      direction,
      kind: rtp.kind,
      ssrc: rtp.ssrc,
      trackIdentifier: this.trackIdentifier(rtp, records),
      mid: rtp.mid,
      rid: rtp.rid,
      statsId: rtp.id,
    };
    return {
      rtp,
      trackId: this.trackIdFor(info),
      stream,
      durationMs: state !== undefined ? Math.max(0, rtp.timestamp - state.timestamp) : 0,
      lastRtcpMs: remote?.timestamp,
    };
  }

  private trackIdentifier(rtp: RtpRecord, records: Map<string, RtcRecord>): string | undefined {
    if (rtp.type === "inbound-rtp") return rtp.trackIdentifier;
    const source = rtp.mediaSourceId !== undefined ? records.get(rtp.mediaSourceId) : undefined;
    return source?.type === "media-source" ? source.trackIdentifier : undefined;
  }

  private trackIdFor(info: RtcStreamInfo): string {
    let mapped: string | undefined;
    if (this.trackIdOf !== undefined) {
      try {
        mapped = this.trackIdOf(info);
      } catch (err) {
        this.logger.warn("options.trackId threw; using the default track id", { ssrc: info.ssrc, error: String(err) });
      }
    }
    if (typeof mapped === "string") return mapped;
    if (info.trackIdentifier !== undefined) return info.trackIdentifier;
    return info.mid !== undefined ? `mid:${info.mid}` : `ssrc:${info.ssrc}`;
  }

  private transportRtt(rtp: RtpRecord, records: Map<string, RtcRecord>): number | undefined {
    const transport = rtp.transportId !== undefined ? records.get(rtp.transportId) : undefined;
    if (transport?.type !== "transport" || transport.selectedCandidatePairId === undefined) return undefined;
    const pair = records.get(transport.selectedCandidatePairId);
    return pair?.type === "candidate-pair" ? pair.currentRoundTripTime : undefined;
  }

  private codecOf(rtp: RtpRecord, records: Map<string, RtcRecord>): OtherRecord | undefined {
    const codec = rtp.codecId !== undefined ? records.get(rtp.codecId) : undefined;
    return codec?.type === "codec" ? codec : undefined;
  }

  private samples(windows: StreamWindow[], records: Map<string, RtcRecord>): RtcStatsSample[] {
    const tracks = new Map<string, StreamWindow[]>();
    for (const w of windows) {
      const direction = w.rtp.type === "outbound-rtp" ? StreamType.UPSTREAM : StreamType.DOWNSTREAM;
      const key = `${direction}/${w.trackId}`;
      const list = tracks.get(key);
      if (list === undefined) tracks.set(key, [w]);
      else list.push(w);
    }
    const out: RtcStatsSample[] = [];
    for (const [key, list] of tracks) {
      const first = list[0]!;
      const direction = first.rtp.type === "outbound-rtp" ? StreamType.UPSTREAM : StreamType.DOWNSTREAM;
      const kind = list.some((w) => w.rtp.kind === "video") ? "video" : "audio";
      if (kind === "video" && list.length > 1) numberLayers(list);
      list.sort((a, b) => a.rtp.ssrc - b.rtp.ssrc);
      const codec = list.map((w) => this.codecOf(w.rtp, records)).find((c) => c?.mimeType !== undefined);
      const mime = codec?.mimeType ?? "";
      const score = this.score(key, list, mime, codec?.sdpFmtpLine ?? "");
      out.push({
        trackId: first.trackId,
        direction,
        kind,
        stat: create(AnalyticsStatSchema, { trackId: first.trackId, kind: direction, score, mime, streams: list.map((w) => w.stream) }),
      });
    }
    for (const key of this.scorers.keys()) if (!tracks.has(key)) this.scorers.delete(key);
    return out;
  }

  // LiveKit scores a track over all its streams at once (toAggregateDeltaInfo)
  private score(key: string, list: StreamWindow[], mime: string, fmtp: string): number {
    // LiveKit's receiver treats RED as FEC-protected, and Opus as such when its fmtp asks for in-band FEC
    const weight = packetLossWeight(mime, mime.toLowerCase() === "audio/red" || /useinbandfec=1/i.test(fmtp));
    let entry = this.scorers.get(key);
    if (entry === undefined) {
      entry = { scorer: new QualityScorer({ packetLossWeight: weight, includeRtt: this.includeRtt, includeJitter: this.includeJitter }), weight };
      this.scorers.set(key, entry);
    } else if (entry.weight !== weight) {
      entry.scorer.setPacketLossWeight(weight);
      entry.weight = weight;
    }
    let packets = 0;
    let lost = 0;
    let rtt = 0;
    let jitter = 0;
    let durationMs = 0;
    let atMs = 0;
    let lastRtcpMs: number | undefined;
    for (const w of list) {
      packets += w.stream.primaryPackets;
      lost += w.stream.packetsLost;
      rtt = Math.max(rtt, w.stream.rtt);
      jitter = Math.max(jitter, w.stream.jitter);
      durationMs = Math.max(durationMs, w.durationMs);
      atMs = Math.max(atMs, w.rtp.timestamp);
      if (w.lastRtcpMs !== undefined) lastRtcpMs = Math.max(lastRtcpMs ?? w.lastRtcpMs, w.lastRtcpMs);
    }
    const rtcpStale = lastRtcpMs !== undefined && durationMs > 0 && atMs - lastRtcpMs > durationMs;
    return entry.scorer.update({ durationMs, packets, packetsLost: lost, rttMaxMs: rtt, jitterMaxUs: jitter, rtcpStale }, atMs);
  }
}

/**
 * Simulcast: one video layer per SSRC, numbered as LiveKit numbers spatial layers (rids q/h/f and
 * 2/1/0 by its table; other rids by encoding order), holding the window's whole-packet counts.
 * LiveKit leaves out a layer whose packets, bytes or frames are zero.
 */
function numberLayers(list: StreamWindow[]): void {
  const known = list.every((w) => w.rtp.rid !== undefined && w.rtp.rid in RID_LAYER);
  const order = [...list].sort((a, b) => (a.rtp.encodingIndex ?? a.rtp.ssrc) - (b.rtp.encodingIndex ?? b.rtp.ssrc));
  for (const w of list) {
    const layer = known ? RID_LAYER[w.rtp.rid!]! : order.indexOf(w);
    const s = w.stream;
    const l: AnalyticsVideoLayer = create(AnalyticsVideoLayerSchema, {
      layer,
      packets: u32(s.primaryPackets + s.retransmitPackets + s.paddingPackets),
      bytes: s.primaryBytes + s.retransmitBytes + s.paddingBytes,
      frames: s.frames,
    });
    if (l.packets !== 0 && l.bytes !== 0n && l.frames !== 0) s.videoLayers.push(l);
  }
}

/** How to walk `report`'s dictionaries; an ArgumentError when it is neither walkable nor iterable. */
function reportForEach(report: unknown): (visit: (entry: unknown) => void) => void {
  if (typeof report !== "object" || report === null) throw new ArgumentError(`report is not a stats report: ${String(report)}`);
  const r = report as { forEach?: unknown; [Symbol.iterator]?: unknown };
  // RTCStatsReport and Map: forEach hands out the dictionaries (their iterators give [id, dictionary] pairs)
  if (typeof r.forEach === "function") return (visit) => (r.forEach as (cb: (v: unknown) => void) => void).call(report, (v) => visit(v));
  if (typeof r[Symbol.iterator] !== "function") throw new ArgumentError("report is not iterable");
  return (visit) => {
    for (const entry of report as Iterable<unknown>) visit(entry);
  };
}
