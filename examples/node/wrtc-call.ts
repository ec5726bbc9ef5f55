/**
 * A real WebRTC call in Node: two `@roamhq/wrtc` peer connections (libwebrtc; its binary comes in
 * a platform package from npm), fed by a synthetic tone and a moving test pattern, sampled every
 * second through RtcStatsCollector into a StatsWorker per peer, each window printed.
 *
 *   node --import tsx examples/node/wrtc-call.ts [seconds] [--json]
 *
 * test/sources/wrtc-call.test.ts runs it with --json in a child process (which keeps a crash of
 * the native module out of the test process) and checks what it prints.
 */
import type * as Wrtc from "@roamhq/wrtc";
import { fileURLToPath } from "node:url";
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, RtcStatsCollector, StatsWorker, loadEngine, type AnalyticsStat } from "../../src/index.ts";

type WrtcModule = typeof Wrtc;

/** A running Node call. */
export interface WrtcCall {
  readonly sender: RTCPeerConnection;
  readonly receiver: RTCPeerConnection;
  /** the published track ids: audio, video */
  readonly trackIds: { audio: string; video: string };
  close(): void;
}

/** Loads @roamhq/wrtc, or says why it cannot be loaded here. */
export async function loadWrtc(): Promise<WrtcModule | string> {
  try {
    const mod = (await import("@roamhq/wrtc")) as WrtcModule & { default?: WrtcModule };
    return mod.default ?? mod;
  } catch (err) {
    return `@roamhq/wrtc does not load here: ${(err as Error).message.split("\n")[0]}`;
  }
}

/** Starts the call and resolves once both peers are connected. */
export async function startWrtcCall(wrtc: WrtcModule): Promise<WrtcCall> {
  const { RTCPeerConnection, MediaStream, nonstandard } = wrtc;
  const sender = new RTCPeerConnection() as unknown as globalThis.RTCPeerConnection;
  const receiver = new RTCPeerConnection() as unknown as globalThis.RTCPeerConnection;
  sender.onicecandidate = (e) => void (e.candidate && receiver.addIceCandidate(e.candidate));
  receiver.onicecandidate = (e) => void (e.candidate && sender.addIceCandidate(e.candidate));

  const audioSource = new nonstandard.RTCAudioSource();
  const videoSource = new nonstandard.RTCVideoSource();
  const audio = audioSource.createTrack();
  const video = videoSource.createTrack();
  const stream = new MediaStream([audio, video]);
  sender.addTrack(audio, stream);
  sender.addTrack(video, stream);

  // 10 ms of a 440 Hz tone per tick; a 320 x 240 I420 frame with a moving bar at 15 fps
  const samples = new Int16Array(480);
  let phase = 0;
  const audioTimer = setInterval(() => {
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * phase++) / 48_000));
    audioSource.onData({ samples, sampleRate: 48_000, bitsPerSample: 16, channelCount: 1, numberOfFrames: samples.length });
  }, 10);
  const width = 320;
  const height = 240;
  const frame = new Uint8ClampedArray(width * height * 1.5).fill(128) as unknown as Uint8Array;
  let x = 0;
  const videoTimer = setInterval(() => {
    frame.fill(40, 0, width * height);
    for (let row = 0; row < height; row++) frame.fill(235, row * width + x, row * width + Math.min(width, x + 24));
    x = (x + 8) % width;
    videoSource.onFrame({ width, height, data: frame });
  }, 66);

  await sender.setLocalDescription(await sender.createOffer());
  await receiver.setRemoteDescription(sender.localDescription!);
  await receiver.setLocalDescription(await receiver.createAnswer());
  await sender.setRemoteDescription(receiver.localDescription!);
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("the wrtc call did not connect in 10 s")), 10_000);
    const check = () => {
      if (sender.connectionState === "connected" && receiver.connectionState === "connected") {
        clearTimeout(timer);
        ok();
      }
    };
    sender.onconnectionstatechange = check;
    receiver.onconnectionstatechange = check;
    check();
  });
  return {
    sender,
    receiver,
    trackIds: { audio: audio.id, video: video.id },
    close() {
      clearInterval(audioTimer);
      clearInterval(videoTimer);
      audio.stop();
      video.stop();
      sender.close();
      receiver.close();
    },
  };
}

function describe(s: AnalyticsStat): string {
  const st = s.streams[0]!;
  return `${s.kind === 0 ? "up  " : "down"} ${s.trackId.slice(0, 8)} score ${s.score.toFixed(2)} packets ${st.primaryPackets} bytes ${st.primaryBytes} lost ${st.packetsLost} rtt ${st.rtt} ms jitter ${st.jitter} us`;
}

/** What `--json` prints: each peer's collected windows and its last report. */
export interface WrtcCallOutput {
  trackIds: { audio: string; video: string };
  sender: { windows: JsonValue[]; lastReport: Record<string, unknown>[]; malformed: number };
  receiver: { windows: JsonValue[]; lastReport: Record<string, unknown>[]; malformed: number };
}

async function main(seconds: number, json: boolean): Promise<void> {
  const wrtc = await loadWrtc();
  if (typeof wrtc === "string") throw new Error(wrtc);
  const engine = await loadEngine();
  const call = await startWrtcCall(wrtc);
  const peers = [
    { pc: call.sender, collector: new RtcStatsCollector(), id: "PA_sender" },
    { pc: call.receiver, collector: new RtcStatsCollector(), id: "PA_receiver" },
  ].map((p) => ({
    ...p,
    windows: [] as JsonValue[],
    lastReport: [] as Record<string, unknown>[],
    worker: new StatsWorker({
      engine,
      roomId: "RM_node",
      roomName: "node call",
      participantId: p.id,
      participantIdentity: p.id,
      reporter: {
        report: (stats) => {
          if (!json) for (const s of stats) console.log(`${p.id.padEnd(11)} ${describe(s)}`);
        },
      },
    }),
  }));
  for (let i = 0; i < seconds * 2; i++) {
    await new Promise((ok) => setTimeout(ok, 500));
    for (const p of peers) {
      const report = await p.pc.getStats();
      const samples = p.collector.collect(report);
      p.lastReport = [];
      report.forEach((d: Record<string, unknown>) => void (d["type"] !== "certificate" && p.lastReport.push(d)));
      for (const s of samples) {
        p.windows.push(toJson(AnalyticsStatSchema, s.stat));
        p.worker.onTrackStat(s.trackId, s.direction, s.stat);
      }
      // a window per second, from two collects
      if (i % 2 === 1) p.worker.update();
    }
  }
  for (const p of peers) p.worker.close();
  call.close();
  if (json) {
    const side = (p: (typeof peers)[number]) => ({ windows: p.windows, lastReport: p.lastReport, malformed: p.collector.counters.malformed });
    const out: WrtcCallOutput = { trackIds: call.trackIds, sender: side(peers[0]!), receiver: side(peers[1]!) };
    process.stdout.write(JSON.stringify(out) + "\n");
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  await main(Number(args.find((a) => /^\d+$/.test(a)) ?? 5), args.includes("--json"));
  // @roamhq/wrtc 0.10.0 segfaults when the process ends by itself (libwebrtc's teardown at
  // exit); an explicit exit after closing everything ends cleanly
  process.stdout.write("", () => process.exit(0));
}
