/**
 * The browser demo, in two modes, charted live from the windows a TelemetryService on the wasm
 * engine reports once a second:
 *
 * - `?mode=simulated` (default): a simulated two-person call whose stats arrive every 250 ms;
 * - `?mode=real`: a real WebRTC call inside the page (two RTCPeerConnections on the camera and
 *   microphone), both peers' getStats() read every 500 ms through RtcStatsCollector.
 *
 * And a button that runs a short ts-vs-wasm benchmark and draws the result as bars.
 * Start it with `npm run demo` (examples/browser/serve.mjs bundles this file with esbuild).
 */
import { toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AnalyticsStatSchema, RtcStatsCollector, StreamType, TelemetryService, loadEngine, type AnalyticsStat } from "../../src/index.ts";
import { WORKLOADS, runBenchmark } from "./bench.ts";
import { COLORS, drawBarChart, drawLaneChart, drawLineChart, type Series } from "./charts.ts";
import type { DemoMode, DemoState } from "./demo-state.ts";
import { startLoopbackCall } from "./real-call.ts";
import { SimulatedCall } from "./sim-call.ts";

const HISTORY_SECONDS = 60;
/** Both modes flush once a second: one chart point per track per second. */
const WINDOW_SECONDS = 1;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const mode: DemoMode = new URLSearchParams(location.search).get("mode") === "real" ? "real" : "simulated";
// ?profile=livekit-current aggregates as LiveKit does today (the score is then the average of the
// positive scores of valid stats only)
const profile = new URLSearchParams(location.search).get("profile") === "livekit-current" ? "livekit-current" : "livekit-v1.2";
const state: DemoState = { mode, points: 0, tracks: 0, charts: { score: 0, bitrate: 0, loss: 0 }, counters: { statsIn: 0, statsOut: 0, invalid: 0 } };
window.__demo = state;

/** One charted track. */
interface ChartTrack {
  /** `${participantId}/${direction}/${trackId}`, as the reported stat names it */
  key: string;
  label: string;
  video: boolean;
  direction: StreamType;
}

function formatKbps(v: number): string {
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} M` : `${Math.round(v)}`;
}

function formatThroughput(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M stats/s` : `${(v / 1e3).toFixed(0)} k stats/s`;
}

const LEADS: Record<DemoMode, string> = {
  simulated:
    "A simulated call (alice and bob; bob's network congests for 12 s of every 40 s). Every track reports a stat each 250 ms; " +
    "a TelemetryService on the WebAssembly engine coalesces them into one stat per track per 1 s window, as LiveKit's StatsWorker does. " +
    "Now and then a stat carries a counter that went backwards: the engine skips it but still counts it in the score's divisor, as LiveKit does, so the score and bitrate dip for that window.",
  real:
    "A real WebRTC call inside this page: your camera and microphone are sent from one RTCPeerConnection to another. " +
    "Every 500 ms both peers' getStats() reports go through RtcStatsCollector, which turns them into LiveKit AnalyticsStats " +
    "(deltas per window, LiveKit's units and connection-quality score); a TelemetryService on the WebAssembly engine coalesces them into 1 s windows.",
};

/** Starts the simulated call; returns its tracks. */
function startSimulated(service: TelemetryService, onFlush: () => void): ChartTrack[] {
  const call = new SimulatedCall();
  const tickMs = 250;
  const flushTicks = (WINDOW_SECONDS * 1000) / tickMs;
  for (const p of call.participants) service.participantJoined({ sid: call.roomId, name: call.roomName }, p);
  let tick = 0;
  setInterval(() => {
    tick++;
    for (const t of call.tracks) {
      const stat = call.stat(t, tick * tickMs, tickMs);
      // subscriptions arrive encoded, as from a remote SFU node; publications as objects
      const payload = t.direction === StreamType.DOWNSTREAM ? toBinary(AnalyticsStatSchema, stat) : stat;
      service.trackStats(t.roomId, t.participantId, t.trackId, t.direction, payload);
    }
    if (tick % flushTicks === 0) onFlush();
  }, tickMs);
  return call.tracks.map((t) => ({ key: `${t.participantId}/${t.direction}/${t.trackId}`, label: t.label, video: t.video, direction: t.direction }));
}

/** Starts the real call; returns its tracks. */
async function startReal(service: TelemetryService, onFlush: () => void): Promise<ChartTrack[]> {
  const call = await startLoopbackCall({ simulcast: true });
  const video = $<HTMLVideoElement>("remote");
  video.srcObject = new MediaStream(call.remoteTracks.filter((t) => t.kind === "video"));
  video.hidden = false;
  const room = { sid: "RM_real", name: "real call" };
  const peers = [
    { pc: call.sender, sid: "PA_you", identity: "you", collector: new RtcStatsCollector() },
    { pc: call.receiver, sid: "PA_peer", identity: "peer", collector: new RtcStatsCollector() },
  ];
  for (const p of peers) service.participantJoined(room, p);
  const real = { collects: 0, malformed: 0 };
  state.real = real;
  let tick = 0;
  const sample = async () => {
    const reports = await Promise.all(peers.map((p) => p.pc.getStats()));
    peers.forEach((p, i) => {
      for (const s of p.collector.collect(reports[i]!)) service.trackStats(room.sid, p.sid, s.trackId, s.direction, s.stat);
    });
    real.collects++;
    real.malformed = peers.reduce((n, p) => n + p.collector.counters.malformed, 0);
    if (++tick % 2 === 0) onFlush();
  };
  setInterval(() => void sample().catch((err: unknown) => (state.error = String(err))), 500);
  const label = (t: MediaStreamTrack) => (t.kind === "audio" ? "mic" : "cam");
  return [
    ...call.tracks.map((t) => ({ key: `PA_you/${StreamType.UPSTREAM}/${t.id}`, label: `you ↑ ${label(t)}`, video: t.kind === "video", direction: StreamType.UPSTREAM })),
    ...call.remoteTracks.map((t) => ({ key: `PA_peer/${StreamType.DOWNSTREAM}/${t.id}`, label: `peer ↓ ${label(t)}`, video: t.kind === "video", direction: StreamType.DOWNSTREAM })),
  ];
}

async function main(): Promise<void> {
  setupBenchmark();
  $("lead").textContent =
    LEADS[mode] + (profile === "livekit-current" ? " Aggregated with LiveKit's current rules (?profile=livekit-current)." : "");
  document.querySelectorAll<HTMLAnchorElement>("#modes a").forEach((a) => a.classList.toggle("active", a.dataset["mode"] === mode));
  const startMs = Date.now();
  const series = new Map<string, { track: ChartTrack; score: Series; bitrate: Series; loss: Series }>();

  const onWindow = (stats: AnalyticsStat[]) => {
    for (const s of stats) {
      const line = series.get(`${s.participantId}/${s.kind}/${s.trackId}`);
      const st = s.streams[0];
      if (!line || !st || !s.timeStamp) continue;
      const t = (timestampDate(s.timeStamp).getTime() - startMs) / 1000;
      const kbits = (Number(st.primaryBytes + st.retransmitBytes + st.paddingBytes) * 8) / 1000;
      const sent = st.primaryPackets + st.packetsLost;
      line.score.points.push([t, s.score]);
      line.bitrate.points.push([t, kbits / WINDOW_SECONDS]);
      line.loss.points.push([t, sent > 0 ? (100 * st.packetsLost) / sent : 0]);
      for (const l of [line.score, line.bitrate, line.loss]) {
        while (l.points.length > HISTORY_SECONDS + 5) l.points.shift();
      }
    }
  };

  const engine = await loadEngine("wasm", { profile });
  const service = new TelemetryService({ engine, reporter: { report: onWindow } });

  const draw = () => {
    const all = [...series.values()];
    const video = all.filter((s) => s.track.video);
    const audio = all.filter((s) => !s.track.video);
    state.charts.score = drawLaneChart($("score"), all.map((s) => s.score), { title: "Quality score (MOS), one lane per track, each zoomed to its own range", shortTitle: "Quality score (MOS) per track", lo: 1, hi: 4.5, windowSeconds: HISTORY_SECONDS });
    // a scale per kind: audio (~40 kbit/s) would lie flat on a video axis (~2 Mbit/s)
    state.charts.bitrate =
      drawLineChart($("bitrate"), video.map((s) => s.bitrate), { title: "Video bitrate", unit: "kbit/s", windowSeconds: HISTORY_SECONDS, format: formatKbps }) +
      drawLineChart($("bitrate-audio"), audio.map((s) => s.bitrate), { title: "Audio bitrate", unit: "kbit/s", windowSeconds: HISTORY_SECONDS, format: formatKbps });
    state.charts.loss = drawLineChart($("loss"), all.map((s) => s.loss), { title: "Packet loss", unit: "% of packets", windowSeconds: HISTORY_SECONDS, format: (v) => String(Math.round(v * 100) / 100) });
    const c = service.counters;
    state.counters = { statsIn: c.statsIn, statsOut: c.statsOut, invalid: c.invalid };
    const extra = state.real ? ` · getStats() reads ${state.real.collects} · malformed ${state.real.malformed}` : ` · skipped invalid ${c.invalid}`;
    $("status").textContent = `${mode} call · engine ${engine.kind} (${engine.profile}) · ${Math.round((Date.now() - startMs) / 1000)} s · windows ${state.points} · stats in ${c.statsIn} · out ${c.statsOut}${extra}`;
  };

  const onFlush = () => {
    const before = service.counters.statsOut;
    service.flush();
    if (service.counters.statsOut > before) state.points++;
    draw();
  };
  let tracks: ChartTrack[];
  try {
    tracks = mode === "real" ? await startReal(service, onFlush) : startSimulated(service, onFlush);
  } catch (err) {
    state.error = String(err);
    $("status").textContent = `the real call could not start: ${String(err)} (it needs a camera and a microphone, and permission to use them)`;
    return;
  }
  tracks.forEach((track, i) => {
    const color = COLORS[i % COLORS.length]!;
    const make = (): Series => ({ label: track.label, color, points: [], dashed: track.direction === StreamType.DOWNSTREAM });
    series.set(track.key, { track, score: make(), bitrate: make(), loss: make() });
  });
  state.tracks = series.size;
  $("legend").innerHTML =
    tracks
      .map((t, i) => `<span class="key"><span class="swatch${t.direction === StreamType.DOWNSTREAM ? " dashed" : ""}" style="--c:${COLORS[i % COLORS.length]}"></span>${t.label}</span>`)
      .join("") + '<span class="key note">solid: published (↑) · dashed: received (↓)</span>';
  window.addEventListener("resize", draw);
  draw();
}

function setupBenchmark(): void {
  const button = $<HTMLButtonElement>("run-bench");
  const benchStatus = $("bench-status");
  const drawBench = (rows: NonNullable<DemoState["bench"]>["rows"]) =>
    drawBarChart(
      $("bench"),
      rows.map((r) => ({ label: r.workload, values: [{ label: "ts", value: r.ts, color: "#9aa3b2" }, { label: "wasm", value: r.wasm, color: "#f28e2b" }] })),
      "Throughput, higher is better",
      formatThroughput,
      "press “Run benchmark” to fill these bars: ts vs wasm on each workload",
    );
  let rows: NonNullable<DemoState["bench"]>["rows"] = WORKLOADS.map((workload) => ({ workload, stats: 0, ts: 0, wasm: 0 }));
  drawBench(rows);
  window.addEventListener("resize", () => drawBench(rows));
  button.addEventListener("click", () => {
    button.disabled = true;
    state.bench = { done: false, identical: false, rows: [] };
    const engines = Promise.all([loadEngine("ts"), loadEngine("wasm")]);
    // let the button repaint before the benchmark takes the main thread
    setTimeout(() => {
      engines
        .then(([ts, wasm]) => runBenchmark({ ts, wasm }, (b) => toBinary(AnalyticsStatSchema, b), (line) => (benchStatus.textContent = line)))
        .then((result) => {
          rows = result.rows;
          state.bench = { done: true, identical: result.identical, rows };
          drawBench(rows);
          benchStatus.textContent = result.identical ? "ts and wasm gave identical output on every workload ✓" : "ts and wasm outputs DIFFER";
        })
        .catch((err: unknown) => {
          state.bench = { done: true, identical: false, rows: [], error: String(err) };
          benchStatus.textContent = `benchmark failed: ${String(err)}`;
        })
        .finally(() => {
          button.disabled = false;
        });
    }, 50);
  });
}

main().catch((err: unknown) => {
  $("status").textContent = `failed to start: ${String(err)}`;
  throw err;
});
