/**
 * Batch routing inside the wasm engine: one router per TelemetryService.
 *
 * @module
 */
import { badLengthPrefix, inBatch, isDecodeError } from "../../errors.ts";
import type { BatchResult, BatchRouter, BatchWindow, Bucket } from "../engine.ts";
import { BATCH_U32, META_U32 } from "./abi.ts";
import type { WasmCore } from "./core.ts";

const B = BATCH_U32;
const M = META_U32;

/**
 * Routes batches of one TelemetryService inside the engine: the module frames, decodes and folds
 * every message into the slot of its (room id, participant id, track id) in one call. The router
 * also keeps the participant id of each of its workers, to name the tracks of invalid stats.
 */
export class WasmRouter implements BatchRouter {
  readonly id: number;
  private readonly participants: (string | undefined)[] = [];

  constructor(private readonly core: WasmCore) {
    this.id = core.wasm.routerCreate();
  }

  /** Records the participant id of worker `worker`, one of this router's. */
  register(worker: number, participantId: string): void {
    this.participants[worker] = participantId;
  }

  /** Forgets worker `worker` (freed; its index may be reused). */
  unregister(worker: number): void {
    this.participants[worker] = undefined;
  }

  ingest(bytes: Uint8Array, dropAll: boolean, window?: BatchWindow): BatchResult {
    const core = this.core;
    const wasm = core.wasm;
    const ptr = core.copyIn(bytes, "take a batch");
    const status =
      window === undefined
        ? wasm.ingestBatch(ptr, bytes.length, this.id, dropAll ? 1 : 0, 0, 0, 0, 0)
        : wasm.ingestBatch(ptr, bytes.length, this.id, dropAll ? 1 : 0, 1, window.fromMs, window.untilMs, window.lateBeforeMs);
    const { u32, i32 } = core.views.refresh();
    const r = wasm.batchResultPtr() >>> 2;
    const result: BatchResult = {
      statsIn: u32[r + B.STATS_IN]!,
      invalid: u32[r + B.INVALID]!,
      dropped: u32[r + B.DROPPED]!,
      malformed: u32[r + B.MALFORMED]!,
      refused: u32[r + B.REFUSED]!,
      error: undefined,
      invalidTracks: [],
      messages: u32[r + B.MESSAGES]!,
      late: u32[r + B.LATE]!,
      taken: u32[r + B.TAKEN]!,
    };
    const listed = u32[r + B.LISTED]!;
    for (let i = 0; i < listed; i++) {
      const meta = wasm.slotMetaPtr(i32[r + B.INVALID_SLOTS + i]!) >>> 2;
      if (meta === 0) continue;
      const m = core.views.refresh().u32;
      result.invalidTracks.push({
        participantId: this.participants[m[meta + M.WORKER]!] ?? "",
        trackId: core.readUtf8(m[meta + M.TRACK_PTR]!, m[meta + M.TRACK_BYTES]!),
        direction: m[meta + M.BUCKET]! as Bucket,
      });
    }
    core.trimIfDue();
    if (status !== 0) {
      const index = u32[r + B.ERROR_INDEX]!;
      const offset = u32[r + B.ERROR_OFFSET]!;
      const err = core.statusError(status);
      // the framing flag says a length prefix broke somewhere; it is the first error only when
      // it broke at the message after the last one framed
      const framing = u32[r + B.FRAMING]! !== 0 && index === u32[r + B.MESSAGES]!;
      result.error =
        framing && isDecodeError(err)
          ? badLengthPrefix(err.code === "bad_varint" ? "bad_varint" : "truncated", index, offset)
          : inBatch(err, index, offset);
    }
    return result;
  }
}
