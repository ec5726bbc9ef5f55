/**
 * The run of `statsworker simulate`: each planned window is fed to a TelemetryService (joins,
 * stats as objects, bytes or one batch, leaves, flush, reaping), then its reported stats go to
 * the outputs. Only the service's own work is timed and GC-marked.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Engine } from "../engine/engine.ts";
import { TelemetryService } from "../telemetry-service.ts";
import type { Interrupt } from "./interrupt.ts";
import type { ProgressBar } from "./progress.ts";
import { encodeEvents, type Scenario } from "./simulate-scenario.ts";
import type { SimulateOutputs } from "./simulate-outputs.ts";
import type { GcCounter } from "./summary.ts";

/** How stats reach the service: `trackStats` with objects or bytes, or `ingestBatch`. */
export type InputMode = "objects" | "bytes" | "batch";

/** What {@link runSimulation} needs. */
export interface RunContext {
  engine: Engine;
  scenario: Scenario;
  outputs: SimulateOutputs;
  input: InputMode;
  windows: number;
  windowMs: number;
  /** start of window 0, in ms since the epoch */
  t0: number;
  /** pace windows by the wall clock */
  realtime: boolean;
  progress: ProgressBar;
  interrupt: Interrupt;
  gc: GcCounter;
}

/** What a run did. */
export interface RunResult {
  readonly service: TelemetryService;
  /** windows fed and flushed */
  windowsDone: number;
  /** time spent in the service's calls, in ms */
  serviceMs: number;
  /** wall time of the whole run, in ms */
  wallMs: number;
  interrupted: boolean;
}

/** Plays `windows` windows of the scenario through a new TelemetryService. */
export async function runSimulation(ctx: RunContext): Promise<RunResult> {
  const { scenario, outputs, input, progress, interrupt, gc } = ctx;
  let clockMs = ctx.t0;
  const service = new TelemetryService({
    engine: ctx.engine,
    reporter: outputs.reporter,
    flushIntervalMs: ctx.windowMs,
    now: () => new Date(clockMs),
  });
  const result: RunResult = { service, windowsDone: 0, serviceMs: 0, wallMs: 0, interrupted: false };
  const wallStart = performance.now();
  progress.start(ctx.windows);

  for (let w = 0; w < ctx.windows; w++) {
    if (interrupt.requested) break;
    if (ctx.realtime) {
      const wait = ctx.t0 + (w + 1) * ctx.windowMs - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal: interrupt.signal }).catch(() => {});
      if (interrupt.requested) break;
    }
    // prepare the window (not timed: generation is the simulator's work, not the library's)
    const plan = scenario.plan();
    const bytes = input !== "objects" || outputs.capturing ? encodeEvents(plan.events) : undefined;

    // the library's work: joins, ingest, leaves, flush, reaping
    gc.begin();
    const t1 = performance.now();
    clockMs = plan.start;
    for (const m of plan.joining) {
      service.participantJoined({ sid: m.p.roomId, name: m.p.roomName }, { sid: m.p.participantId, identity: m.p.identity });
    }
    if (input === "batch") {
      service.ingestBatch(bytes!.delimited);
    } else if (input === "bytes") {
      const encoded = bytes!.encoded;
      for (let i = 0; i < plan.events.length; i++) {
        const e = plan.events[i]!;
        service.trackStats(e.p.roomId, e.p.participantId, e.track.trackId, e.track.direction, encoded[i]!);
      }
    } else {
      for (const e of plan.events) service.trackStats(e.p.roomId, e.p.participantId, e.track.trackId, e.track.direction, e.stat);
    }
    for (const m of plan.leavers) {
      clockMs = m.leaveAt;
      service.participantLeft(m.p.roomId, m.p.participantId);
    }
    clockMs = plan.end;
    service.flush();
    service.cleanupWorkers();
    result.serviceMs += performance.now() - t1;
    gc.end();

    await outputs.deliver();
    if (bytes !== undefined) await outputs.writeCapture(bytes.delimited);
    result.windowsDone++;
    progress.update(w + 1, ctx.windows, service.counters.statsIn);
  }

  result.interrupted = interrupt.requested;
  // an interrupted run's last window is not reported: its stats stay out of every output
  if (result.interrupted) outputs.discard();
  // the end of the run: everyone still there leaves (nothing is buffered any more), then stop()
  clockMs = ctx.t0 + result.windowsDone * ctx.windowMs;
  for (const m of scenario.members) service.participantLeft(m.p.roomId, m.p.participantId);
  await service.stop();
  await outputs.deliver();
  result.wallMs = performance.now() - wallStart;
  progress.clear();
  return result;
}
