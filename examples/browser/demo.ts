/**
 * The browser demo: a simulated two-person call whose stats are aggregated in the page by a
 * TelemetryService on the wasm engine, one window per second of page time, charted live; and a
 * button that runs a short ts-vs-wasm benchmark and draws the result as bars.
 *
 * Start it with `npm run demo` (examples/browser/serve.mjs bundles this file with esbuild).
 */
import { toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AnalyticsStatSchema, StreamType, TelemetryService, loadEngine, type AnalyticsStat } from "../../src/index.ts";
import { runBenchmark } from "./bench.ts";
import { COLORS, drawBarChart, drawLineChart, type Series } from "./charts.ts";
import type { DemoState } from "./demo-state.ts";
import { SimulatedCall } from "./sim-call.ts";

/** Producers report every TICK_MS; the service flushes every FLUSH_TICKS ticks (1 s). */
const TICK_MS = 250;
const FLUSH_TICKS = 4;
const HISTORY_SECONDS = 60;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const state: DemoState = { points: 0, tracks: 0, charts: { score: 0, bitrate: 0, loss: 0 }, counters: { statsIn: 0, statsOut: 0, invalid: 0 } };
window.__demo = state;

function formatRate(bps: number): string {
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} M` : bps >= 1e3 ? `${Math.round(bps / 1e3)} k` : `${Math.round(bps)}`;
}

function formatThroughput(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M stats/s` : `${(v / 1e3).toFixed(0)} k stats/s`;
}

async function main(): Promise<void> {
  const call = new SimulatedCall();
  const startMs = Date.now();
  let tick = 0;
  // the service's clock is call time, so each window is exactly FLUSH_TICKS * TICK_MS long
  const callNow = () => new Date(startMs + tick * TICK_MS);

  const series = new Map<string, { score: Series; bitrate: Series; loss: Series }>();
  call.tracks.forEach((t, i) => {
    const color = COLORS[i % COLORS.length]!;
    const make = (): Series => ({ label: t.label, color, points: [] });
    series.set(`${t.participantId}/${t.direction}/${t.trackId}`, { score: make(), bitrate: make(), loss: make() });
  });
  state.tracks = series.size;
  $("legend").innerHTML = call.tracks
    .map((t, i) => `<span class="key"><span class="swatch" style="background:${COLORS[i % COLORS.length]}"></span>${t.label}</span>`)
    .join("");

  const onWindow = (stats: AnalyticsStat[]) => {
    const windowSeconds = (FLUSH_TICKS * TICK_MS) / 1000;
    for (const s of stats) {
      const line = series.get(`${s.participantId}/${s.kind}/${s.trackId}`);
      const st = s.streams[0];
      if (!line || !st || !s.timeStamp) continue;
      const t = (timestampDate(s.timeStamp).getTime() - startMs) / 1000;
      const bits = Number(st.primaryBytes + st.retransmitBytes + st.paddingBytes) * 8;
      const sent = st.primaryPackets + st.packetsLost;
      line.score.points.push([t, s.score]);
      line.bitrate.points.push([t, bits / windowSeconds]);
      line.loss.points.push([t, sent > 0 ? (100 * st.packetsLost) / sent : 0]);
      for (const l of [line.score, line.bitrate, line.loss]) {
        while (l.points.length > HISTORY_SECONDS + 5) l.points.shift();
      }
    }
  };

  // ?profile=livekit-current aggregates as LiveKit does today (the charts' score is then the
  // average of positive scores only, and invalid stats no longer pull it down)
  const profile = new URLSearchParams(location.search).get("profile") === "livekit-current" ? "livekit-current" : "livekit-v1.2";
  const engine = await loadEngine("wasm", { profile });
  const service = new TelemetryService({ engine, reporter: { report: onWindow }, now: callNow });
  for (const p of call.participants) service.participantJoined({ sid: call.roomId, name: call.roomName }, p);

  const draw = () => {
    const all = [...series.values()];
    state.charts.score = drawLineChart($("score"), all.map((s) => s.score), { title: "Quality score", unit: "1-5", yMin: 1, yMax: 5, windowSeconds: HISTORY_SECONDS });
    state.charts.bitrate = drawLineChart($("bitrate"), all.map((s) => s.bitrate), { title: "Bitrate", unit: "bit/s", windowSeconds: HISTORY_SECONDS, format: formatRate });
    state.charts.loss = drawLineChart($("loss"), all.map((s) => s.loss), { title: "Packet loss", unit: "%", windowSeconds: HISTORY_SECONDS, format: (v) => String(Math.round(v * 100) / 100) });
    const c = service.counters;
    state.counters = { statsIn: c.statsIn, statsOut: c.statsOut, invalid: c.invalid };
    $("status").textContent = `engine ${engine.kind} (${engine.profile}) · call time ${Math.round((tick * TICK_MS) / 1000)} s · windows ${state.points} · stats in ${c.statsIn} · out ${c.statsOut} · skipped invalid ${c.invalid}`;
  };

  // one clock drives producers and flushes, so a window always holds FLUSH_TICKS stats per track
  const onTick = () => {
    tick++;
    for (const t of call.tracks) {
      const stat = call.stat(t, tick * TICK_MS, TICK_MS);
      // subscriptions arrive encoded, as from a remote SFU node; publications as objects
      const payload = t.direction === StreamType.DOWNSTREAM ? toBinary(AnalyticsStatSchema, stat) : stat;
      service.trackStats(t.roomId, t.participantId, t.trackId, t.direction, payload);
    }
    if (tick % FLUSH_TICKS === 0) {
      // one report per participant's worker; a window is one flush of all of them
      const before = service.counters.statsOut;
      service.flush();
      if (service.counters.statsOut > before) state.points++;
      draw();
    }
  };
  setInterval(onTick, TICK_MS);
  window.addEventListener("resize", draw);
  draw();

  const button = $<HTMLButtonElement>("run-bench");
  const benchStatus = $("bench-status");
  const drawBench = (rows: NonNullable<DemoState["bench"]>["rows"]) =>
    drawBarChart(
      $("bench"),
      rows.map((r) => ({ label: r.workload, values: [{ label: "ts", value: r.ts, color: "#9aa3b2" }, { label: "wasm", value: r.wasm, color: "#f28e2b" }] })),
      "Throughput, higher is better",
      formatThroughput,
    );
  drawBench([]);
  button.addEventListener("click", () => {
    button.disabled = true;
    state.bench = { done: false, identical: false, rows: [] };
    const engines = Promise.all([loadEngine("ts"), loadEngine("wasm")]);
    // let the button repaint before the benchmark takes the main thread
    setTimeout(() => {
      engines
        .then(([ts, wasm]) => runBenchmark({ ts, wasm }, (b) => toBinary(AnalyticsStatSchema, b), (line) => (benchStatus.textContent = line)))
        .then(({ rows, identical }) => {
          state.bench = { done: true, identical, rows };
          drawBench(rows);
          benchStatus.textContent = identical ? "ts and wasm gave identical output on every workload ✓" : "ts and wasm outputs DIFFER";
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
