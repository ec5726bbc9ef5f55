/**
 * One worker's window inside the wasm engine.
 *
 * @module
 */
import { WasmError } from "../../errors.ts";
import { StreamType, type AnalyticsStat } from "../../gen/livekit/livekit_analytics_pb.ts";
import { limitError } from "../../limits.ts";
import { ownedLease, type BytesLease, type Bucket, type TrackIdentity, type TrackTable } from "../engine.ts";
import { encodeBatch } from "../encode-batch.ts";
import { makePatch, patchStat, stampResults } from "../output.ts";
import { DRAIN_ENTRY, DRAIN_ENTRY_U32, IDS } from "./abi.ts";
import { catchTraps, type WasmCore } from "./core.ts";
import { encodeWtf8 } from "../ids.ts";
import { encodePatchFields } from "./keys.ts";
import { OutputLease } from "./lease.ts";
import type { WasmRouter } from "./router.ts";
import { SlotCache } from "./slot-cache.ts";
import type { AnalyticsStatInput } from "../read-stat.ts";

const E = DRAIN_ENTRY_U32;

/**
 * A worker of the module: its slots, one per (bucket, track), fold the stats of the window as
 * they arrive, and a drain reads them out and resets them.
 */
export class WasmTrackTable implements TrackTable {
  private readonly slots = new SlotCache();
  // the lease every window of this table reuses, made at the first bytes-out drain
  private lease: OutputLease | undefined = undefined;
  private jsPending = false;
  private freed = false;
  /** a track id with an unpaired surrogate was seen: bytes out go through protobuf-es */
  private illFormed = false;
  private readonly worker: number;

  constructor(
    private readonly core: WasmCore,
    private readonly identity: TrackIdentity,
    private readonly router: WasmRouter | undefined,
  ) {
    const room = encodeWtf8(identity.roomId).bytes;
    const pid = encodeWtf8(identity.participantId).bytes;
    const patch = encodePatchFields(identity);
    const ptr = core.input(room.length + pid.length + patch.length, "add a worker");
    const u8 = core.views.refresh().u8;
    u8.set(room, ptr);
    u8.set(pid, ptr + room.length);
    u8.set(patch, ptr + room.length + pid.length);
    this.worker = core.wasm.workerCreate(ptr, room.length, pid.length, patch.length, router?.id ?? -1);
    if (this.worker < 0) throw limitError.outOfMemory("add a worker");
    router?.register(this.worker, identity.participantId);
  }

  get pending(): boolean {
    return this.jsPending || (!this.freed && this.core.wasm.workerPending(this.worker) > 0);
  }

  /** The slot of (`bucket`, `trackId`), created on first use. */
  private slotFor(trackId: string, bucket: Bucket): number {
    const known = this.slots.slotOf(bucket, trackId);
    return known >= 0 ? known : this.newSlot(trackId, bucket);
  }

  // the engine's slot for a track the host has not seen: found by its key bytes, or made
  private newSlot(trackId: string, bucket: Bucket): number {
    const core = this.core;
    let bytes = core.writeKey(trackId);
    if (bytes < 0) {
      // its key bytes are not what protobuf-es would write for it: see drainBytes
      this.illFormed = true;
      bytes = -bytes;
    }
    const slot = core.wasm.trackSlot(this.worker, bucket, core.input(0, "take an id"), bytes);
    if (slot < 0) throw core.trackSlotError(slot);
    this.slots.remember(bucket, trackId, slot);
    return slot;
  }

  add(trackId: string, bucket: Bucket, stat: AnalyticsStatInput): boolean {
    this.checkOpen();
    // pack first: a stat that throws while being read leaves no slot behind
    this.core.pack(stat);
    const valid = this.core.foldScratch(this.slotFor(trackId, bucket));
    this.jsPending = true;
    return valid === 1;
  }

  addBytes(trackId: string, bucket: Bucket, bytes: Uint8Array): boolean {
    this.checkOpen();
    // one cache lookup for the common case, a known track
    const known = this.slots.slotOf(bucket, trackId);
    const fresh = known < 0;
    const slot = fresh ? this.newSlot(trackId, bucket) : known;
    let valid: number;
    try {
      valid = this.core.decodeFold(bytes, slot);
    } catch (err) {
      // a track whose first stat was malformed leaves no slot behind
      if (fresh && this.core.slotCount(slot) === 0) {
        this.slots.invalidate(slot);
        this.core.wasm.workerSlotRelease(this.worker, slot);
      }
      throw err;
    }
    this.jsPending = true;
    this.core.trimIfDue();
    return valid === 1;
  }

  drain(timeMs: number, out: AnalyticsStat[]): void {
    const core = this.core;
    const wasm = core.wasm;
    this.jsPending = false;
    const n = wasm.drainList(this.worker);
    this.invalidateFreed();
    if (n < 0) throw limitError.outOfMemory("drain the window");
    if (n === 0) return;
    const patch = makePatch(timeMs, this.identity);
    const base = wasm.outputPtr();
    for (let i = 0; i < n; i++) {
      const { u32, i32 } = core.views.refresh();
      const entry = (base >>> 2) + i * (DRAIN_ENTRY.SIZE >>> 2);
      const slot = i32[entry + E.SLOT]!;
      const bucket = u32[entry + E.BUCKET] as Bucket;
      let trackId = this.slots.trackOf(slot);
      if (trackId === undefined) {
        // a slot a batch created: its id is decoded once and cached like a host-made one
        trackId = core.readUtf8(u32[entry + E.TRACK_PTR]!, u32[entry + E.TRACK_BYTES]!);
        this.slots.remember(bucket, trackId, slot);
      }
      const stat = core.result(slot);
      wasm.resetSlot(slot);
      patchStat(stat, patch, trackId, bucket === 1 ? StreamType.DOWNSTREAM : StreamType.UPSTREAM);
      out.push(stat);
    }
    this.core.outputGrew(n * DRAIN_ENTRY.SIZE);
    this.core.trimIfDue();
  }

  drainBytes(timeMs: number, stamp = false): BytesLease | undefined {
    if (this.illFormed) {
      // the engine would write the WTF-8 key where protobuf-es writes U+FFFD
      const out: AnalyticsStat[] = [];
      this.drain(timeMs, out);
      if (out.length === 0) return undefined;
      // the node is in every encoded result, as the module writes it with the patch fields
      stampResults(out, this.identity.node, stamp);
      return ownedLease(encodeBatch(out), out.length, stamp);
    }
    const wasm = this.core.wasm;
    this.jsPending = false;
    // exactly protobuf-es timestampFromMs: floored seconds, non-negative nanos
    const seconds = Math.floor(timeMs / 1000);
    const nanos = (timeMs - seconds * 1000) * 1_000_000;
    let stamped = stamp;
    let bytes = wasm.drainEncode(this.worker, seconds, nanos, stamped ? 1 : 0);
    this.invalidateFreed();
    if (bytes === IDS.SHORT) {
      // a full pool, and a window of more stats than it holds goes out without ids (the
      // reporter stamps those itself)
      this.core.refillIds();
      bytes = wasm.drainEncode(this.worker, seconds, nanos, 1);
      this.invalidateFreed();
      if (bytes === IDS.SHORT) {
        stamped = false;
        bytes = wasm.drainEncode(this.worker, seconds, nanos, 0);
        this.invalidateFreed();
      }
    }
    if (bytes < 0) throw limitError.outOfMemory("encode the window");
    if (bytes === 0) return undefined;
    const count = wasm.drainCount();
    this.core.outputGrew(bytes);
    const view = this.core.outputView(bytes);
    // lent, the buffer is safe from every other drain until released; when lending is nested too
    // deep, a copy is as safe
    if (wasm.lendOutput() !== 0) {
      const copy = ownedLease(view.slice(), count, stamped);
      this.core.trimIfDue();
      return copy;
    }
    const lease = (this.lease ??= new OutputLease(this.core));
    return (lease.held ? new OutputLease(this.core) : lease).lend(view, count, stamped);
  }

  /** Forgets the slots the last drain released (tracks quiet for a whole window). */
  private invalidateFreed(): void {
    const wasm = this.core.wasm;
    const count = wasm.freedSlots();
    if (count === 0) return;
    const base = wasm.freedPtr() >>> 2;
    for (let i = 0; i < count; i++) this.slots.invalidate(this.core.views.refresh().i32[base + i]!);
  }

  close(): void {
    if (this.freed) return;
    this.slots.clear();
    this.jsPending = false;
    // a routed worker stays known to its router so that late batch stats count as dropped (R5)
    if (this.router !== undefined) {
      this.core.wasm.workerClose(this.worker);
    } else {
      this.dispose();
    }
  }

  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    this.slots.clear();
    this.jsPending = false;
    this.core.wasm.workerFree(this.worker);
    this.router?.unregister(this.worker);
  }

  private checkOpen(): void {
    if (this.freed) throw new WasmError("trap", "track table used after dispose");
  }
}

catchTraps(WasmTrackTable.prototype, ["add", "addBytes", "drain", "drainBytes", "close", "dispose"]);
