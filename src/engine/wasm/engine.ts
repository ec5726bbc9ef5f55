/**
 * The WebAssembly engine: validation and coalescing (and, for bytes, protobuf decoding) run in
 * `assembly/`, over one fixed-size slot per (worker, direction, track) in linear memory. The
 * host only moves numbers in and out.
 *
 * Coalescing is an associative fold (wrapping sums, maxima, a float32 score sum in arrival
 * order, a count, and a max-layer accumulator), so a slot is O(1) however many stats arrive,
 * and a stat is read once, on arrival (R1 allows it).
 *
 * The folder, one concern a file: `views.ts` (memory views), `core.ts` (the instance: records in
 * and out, statuses to errors, trap guarding), `keys.ts` (id key bytes), `slot-cache.ts` (track id
 * <-> slot), `lease.ts` (lending the output buffer), `track-table.ts` (one worker's window),
 * `router.ts` (batches of one service), `abi.ts` and `instance.ts` (the module's contract and
 * loading), and this file, which puts them together.
 *
 * @module
 */
import type { AnalyticsStat } from "../../gen/livekit/livekit_analytics_pb.ts";
import { resolveBounds, type EngineBounds } from "../../limits.ts";
import { silentLogger, type Logger } from "../../logger.ts";
import type { AnalyticsStatInput } from "../read-stat.ts";
import type { BatchRouter, EngineImpl, EngineOptions, EngineUsage, TrackIdentity } from "../engine.ts";
import { checkProfile, type Profile } from "../profile.ts";
import { catchTraps, WasmCore } from "./core.ts";
import { instantiateEngine } from "./instance.ts";
import { WasmRouter } from "./router.ts";
import { WasmTrackTable } from "./track-table.ts";

/** The public surface of one wasm engine: `coalesce` and `isValid` over one shared instance. */
class WasmEngine implements EngineImpl {
  readonly kind = "wasm" as const;
  readonly profile: Profile;
  // coalesce() folds into one slot of its own, taken on first use and reset per call
  private scratchSlot = -1;

  constructor(
    private readonly core: WasmCore,
    private readonly logger: Logger,
    readonly bounds: Readonly<EngineBounds>,
  ) {
    this.profile = core.current ? "livekit-current" : "livekit-v1.2";
    core.wasm.setBounds(bounds.maxTracksPerWorker, bounds.maxTracksPerService, bounds.maxIdBytesPerWorker);
  }

  coalesce(stats: readonly AnalyticsStatInput[]): AnalyticsStat | undefined {
    if (stats.length === 0) return undefined;
    const core = this.core;
    if (this.scratchSlot < 0) this.scratchSlot = core.allocSlot();
    core.wasm.resetSlot(this.scratchSlot);
    for (const stat of stats) {
      core.pack(stat);
      if (core.foldScratch(this.scratchSlot) !== 1) this.logger.warn("telemetry skipping invalid stat", { stat });
    }
    return core.result(this.scratchSlot);
  }

  isValid(stat: AnalyticsStatInput): boolean {
    this.core.pack(stat);
    return this.core.wasm.validateScratch() === 1;
  }

  createTrackTable(identity: TrackIdentity, router?: BatchRouter): WasmTrackTable {
    return new WasmTrackTable(this.core, identity, router instanceof WasmRouter ? router : undefined);
  }

  createRouter(): WasmRouter {
    return new WasmRouter(this.core);
  }

  dispose(): void {
    this.core.dispose();
  }

  usage(): EngineUsage {
    const wasm = this.core.wasm;
    return { memoryBytes: wasm.memory.buffer.byteLength, slots: wasm.slotCount(), heapFreeBytes: wasm.heapFreeBytes() };
  }
}

catchTraps(WasmEngine.prototype, ["coalesce", "isValid", "createTrackTable", "createRouter"]);
catchTraps(WasmRouter.prototype, ["ingest"]);

/** @internal Creates a wasm engine with its own instance; use `loadEngine("wasm")`. */
export async function createWasmEngine(options: EngineOptions = {}): Promise<EngineImpl> {
  const bounds = resolveBounds(options.bounds);
  const core = new WasmCore(await instantiateEngine(), bounds, checkProfile(options.profile));
  return new WasmEngine(core, options.logger ?? silentLogger, bounds);
}
