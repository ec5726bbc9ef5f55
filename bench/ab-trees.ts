/**
 * A/B of two or more builds in one process: each tree's `dist/` (a built checkout, or a copy of
 * one) gets a TelemetryService of its own, and the windows alternate between them, the order
 * rotating every round, so that a shared machine's changing speed hits every tree alike. Prints
 * each tree's median time per window and its ratio to the first tree.
 *
 * Workloads:
 * - `w2-bytes`: a W2 window as one encoded stat per `trackStats` (subarrays of one received
 *   buffer), then `flush()`, bytes out;
 * - `w2-batch`: a W2 window as one `ingestBatch` buffer, then `flush()`, bytes out;
 * - `capture`: a size-delimited capture file (`--capture FILE`, as `statsworker simulate
 *   --capture` writes) through `ingestBatch` in blocks cut at 10 s window ends, with every
 *   participant joined beforehand: the engine's share of `statsworker aggregate`, without the
 *   command line around it. Its time is per pass over the whole file.
 *
 * Run: `node --import tsx bench/ab-trees.ts [--workload w2-bytes|w2-batch|capture] [--capture FILE]
 * [--rounds N] DIST...` (default w2-bytes, 120 rounds; 5 for a capture), e.g.
 * `node --import tsx bench/ab-trees.ts --workload w2-batch ../old/dist dist`.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { w2 } from "./corpus.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workload: { type: "string", default: "w2-bytes" },
    capture: { type: "string" },
    rounds: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const workload = values.workload!;
if (values.help || positionals.length === 0 || !["w2-bytes", "w2-batch", "capture"].includes(workload) || (workload === "capture") !== (values.capture !== undefined)) {
  console.error("usage: node --import tsx bench/ab-trees.ts [--workload w2-bytes|w2-batch|capture] [--capture FILE] [--rounds N] DIST...");
  process.exit(values.help ? 0 : 2);
}
const rounds = Number(values.rounds ?? (workload === "capture" ? 5 : 120));
// the first rounds warm each tree up and are not counted
const warm = workload === "capture" ? 1 : 20;

interface Service {
  participantJoined(room: { sid: string; name: string }, participant: { sid: string; identity: string }): void;
  trackStats(roomId: string, participantId: string, trackId: string, direction: number, stat: Uint8Array): void;
  ingestBatch(bytes: Uint8Array): void;
  flush(): void;
  stop(): Promise<void>;
}

interface Participant {
  roomId: string;
  roomName: string;
  participantId: string;
}

/** One pass of the workload over `service`: what is timed. */
type Pass = (service: Service, round: number) => void;

let clockMs = 0;
let bytesOut = 0;
const reporter = { report() {}, reportBytes: (b: Uint8Array) => void (bytesOut += b.length) };

async function newService(dist: string, participants: readonly Participant[]): Promise<Service> {
  const base = pathToFileURL(resolve(dist)).href;
  const { loadEngine } = (await import(`${base}/engine/load-engine.js`)) as { loadEngine(kind: string): Promise<unknown> };
  const { TelemetryService } = (await import(`${base}/telemetry-service.js`)) as { TelemetryService: new (o: object) => Service };
  const service = new TelemetryService({ engine: await loadEngine("wasm"), reporter, now: () => new Date(clockMs) });
  for (const p of participants) service.participantJoined({ sid: p.roomId, name: p.roomName }, { sid: p.participantId, identity: "" });
  return service;
}

function w2Workload(): { participants: Participant[]; pass: Pass } {
  const corpus = w2();
  const pass: Pass = (service, round) => {
    const w = corpus.windows[round % corpus.windows.length]!;
    if (workload === "w2-batch") service.ingestBatch(w.batch);
    else {
      const input = w.received;
      for (let i = 0; i < input.length; i++) service.trackStats(w.roomIds[i]!, w.participantIds[i]!, w.trackIds[i]!, w.directions[i]!, input[i]!);
    }
    service.flush();
  };
  return { participants: corpus.participants.map((p) => ({ roomId: p.roomId, roomName: p.roomName, participantId: p.participantId })), pass };
}

// The capture's blocks and participants, found with the first tree's own record scanner (its
// dist/cli/scan.js: a build of this release or later).
async function captureWorkload(file: string, dist: string): Promise<{ participants: Participant[]; pass: Pass }> {
  const base = pathToFileURL(resolve(dist)).href;
  const { RecordFields, scanRecord, timeMs } = (await import(`${base}/cli/scan.js`)) as {
    RecordFields: new () => Record<string, number>;
    scanRecord(buf: Uint8Array, pos: number, end: number, atEnd: boolean, out: Record<string, number>): number;
    timeMs(seconds: number, nanos: number): number;
  };
  const buf = new Uint8Array(readFileSync(file));
  const f = new RecordFields();
  const text = new TextDecoder();
  const id = (start: number, end: number) => text.decode(buf.subarray(start, end));
  const blocks: [number, number, boolean][] = [];
  const participants = new Map<string, Participant>();
  let pos = 0;
  let blockStart = 0;
  let window: number | undefined;
  while (pos < buf.length) {
    scanRecord(buf, pos, buf.length, true, f);
    const w = Math.floor(timeMs(f["seconds"]!, f["nanos"]!) / 10_000);
    const p = { roomId: id(f["roomIdStart"]!, f["roomIdEnd"]!), roomName: id(f["roomNameStart"]!, f["roomNameEnd"]!), participantId: id(f["participantIdStart"]!, f["participantIdEnd"]!) };
    participants.set(`${p.roomId}\0${p.participantId}`, p);
    if (window !== undefined && (w !== window || pos - blockStart >= 4 << 20)) {
      blocks.push([blockStart, pos, w !== window]);
      blockStart = pos;
    }
    window = w;
    pos = f["end"]!;
  }
  blocks.push([blockStart, pos, true]);
  const pass: Pass = (service) => {
    for (const [a, b, windowEnds] of blocks) {
      service.ingestBatch(buf.subarray(a, b));
      if (windowEnds) {
        clockMs += 10_000;
        service.flush();
      }
    }
  };
  return { participants: [...participants.values()], pass };
}

const { participants, pass } = workload === "capture" ? await captureWorkload(values.capture!, positionals[0]!) : w2Workload();
// a capture pass re-ingests the whole file: each tree starts it on a fresh service
const fresh = workload === "capture";
const services: (Service | undefined)[] = fresh ? positionals.map(() => undefined) : await Promise.all(positionals.map((d) => newService(d, participants)));
const times: number[][] = positionals.map(() => []);
for (let round = 0; round < rounds; round++) {
  for (let k = 0; k < positionals.length; k++) {
    const i = (k + round) % positionals.length;
    const service = services[i] ?? (await newService(positionals[i]!, participants));
    const t0 = performance.now();
    pass(service, round);
    const ms = performance.now() - t0;
    if (round >= warm || rounds <= warm) times[i]!.push(ms);
    if (fresh) await service.stop();
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const first = median(times[0]!);
console.log(`${workload}: median ms per ${fresh ? "pass" : "window"} over ${times[0]!.length} rounds (bytes out ${bytesOut})`);
positionals.forEach((d, i) => {
  const m = median(times[i]!);
  console.log(`  ${d.padEnd(40)} ${m.toFixed(3).padStart(9)} ms   ${(first / m).toFixed(2)}x the first`);
});
