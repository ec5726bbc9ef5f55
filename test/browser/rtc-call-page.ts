/**
 * The page of rtc-call.test.ts: a real loopback call (fake camera and microphone, the video sent
 * with three simulcast encodings, the receiver told to accept them so that Chromium sends all
 * three; the receiver then switches between the SSRCs it gets, so its streams restart), both peers sampled every `?interval=` ms (default 500) for
 * `?windows=` windows (default 8) through one RtcStatsCollector each, every sample fed to a
 * StatsWorker per peer on each engine, updated after every collect. What it saw lands in
 * `window.__rtcCall`, messages as protobuf JSON.
 */
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, RtcStatsCollector, StatsWorker, loadEngine, type AnalyticsStat, type RtcStatsSample } from "../../src/index.ts";
import { startLoopbackCall } from "../../examples/browser/real-call.ts";

/** What the page reports for one peer. */
export interface RtcCallSide {
  /** the samples of each collect, as JSON */
  windows: { trackId: string; direction: number; kind: string; stat: JsonValue }[][];
  /** the last getStats() report, the one the last window was collected from */
  lastReport: Record<string, unknown>[];
  /** the outbound-rtp and inbound-rtp dictionaries of every report, in collect order */
  rtpReports: Record<string, unknown>[][];
  /** what each engine's StatsWorker reported, in order, as JSON */
  reported: Record<string, JsonValue[]>;
  /** each engine's worker counters at the end */
  workerCounters: Record<string, { statsIn: number; invalid: number; statsOut: number }>;
  /** the collector's counters at the end */
  collectorCounters: Record<string, number>;
}

/** What the page reports. */
export interface RtcCallReport {
  userAgent: string;
  /** MediaStreamTrack ids the sender published, and as the receiver got them */
  trackIds: { audio: string; video: string; remoteAudio: string; remoteVideo: string };
  /** encodings the sender's video has, and how many sent packets */
  encodings: { rid: string | undefined; ssrc: number; packetsSent: number }[];
  sender: RtcCallSide;
  receiver: RtcCallSide;
  error?: string;
}

declare global {
  interface Window {
    __rtcCall?: RtcCallReport | { error: string };
  }
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const json = (s: AnalyticsStat) => toJson(AnalyticsStatSchema, s);

async function run(): Promise<RtcCallReport> {
  const params = new URL(location.href).searchParams;
  const intervalMs = Number(params.get("interval") ?? 500);
  const windows = Number(params.get("windows") ?? 8);
  const engines = await Promise.all([loadEngine("ts"), loadEngine("wasm")]);
  const call = await startLoopbackCall({ simulcast: true, acceptSimulcast: true });
  try {
    // one clock for every worker, so both engines report the same timeStamp
    let tick = 0;
    const now = () => new Date(Date.UTC(2026, 0, 1) + tick * intervalMs);
    const side = (pc: RTCPeerConnection, participantId: string) => {
      const collector = new RtcStatsCollector();
      const reported: Record<string, JsonValue[]> = {};
      const workers = engines.map((engine) => {
        const out: JsonValue[] = [];
        reported[engine.kind] = out;
        return new StatsWorker({ engine, now, reporter: { report: (stats) => void out.push(...stats.map(json)) }, roomId: "RM_call", roomName: "call", participantId, participantIdentity: participantId });
      });
      const result: RtcCallSide = { windows: [], lastReport: [], rtpReports: [], reported, workerCounters: {}, collectorCounters: {} };
      return {
        result,
        async sample() {
          const report = await pc.getStats();
          const samples: RtcStatsSample[] = collector.collect(report);
          const dicts: Record<string, unknown>[] = [];
          report.forEach((d: Record<string, unknown>) => void (d["type"] !== "certificate" && dicts.push(d)));
          result.lastReport = dicts;
          result.rtpReports.push(dicts.filter((d) => d["type"] === "outbound-rtp" || d["type"] === "inbound-rtp"));
          result.windows.push(samples.map((s) => ({ trackId: s.trackId, direction: s.direction, kind: s.kind, stat: json(s.stat) })));
          for (const w of workers) {
            for (const s of samples) w.onTrackStat(s.trackId, s.direction, s.stat);
            w.update();
          }
        },
        finish() {
          engines.forEach((e, i) => {
            const c = workers[i]!.counters;
            result.workerCounters[e.kind] = { statsIn: c.statsIn, invalid: c.invalid, statsOut: c.statsOut };
          });
          result.collectorCounters = { ...collector.counters };
        },
      };
    };
    const sender = side(call.sender, "PA_sender");
    const receiver = side(call.receiver, "PA_receiver");
    for (let i = 0; i < windows; i++) {
      await sleep(intervalMs);
      tick++;
      await Promise.all([sender.sample(), receiver.sample()]);
    }
    sender.finish();
    receiver.finish();
    const audio = call.tracks.find((t) => t.kind === "audio")!;
    const video = call.tracks.find((t) => t.kind === "video")!;
    const encodings = sender.result.lastReport
      .filter((d) => d["type"] === "outbound-rtp" && d["kind"] === "video")
      .map((d) => ({ rid: d["rid"] as string | undefined, ssrc: d["ssrc"] as number, packetsSent: d["packetsSent"] as number }));
    return {
      userAgent: navigator.userAgent,
      trackIds: {
        audio: audio.id,
        video: video.id,
        remoteAudio: call.remoteTracks.find((t) => t.kind === "audio")!.id,
        remoteVideo: call.remoteTracks.find((t) => t.kind === "video")!.id,
      },
      encodings,
      sender: sender.result,
      receiver: receiver.result,
    };
  } finally {
    call.close();
  }
}

run().then(
  (r) => (window.__rtcCall = r),
  (err: unknown) => (window.__rtcCall = { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
);
