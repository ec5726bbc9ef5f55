/**
 * The host's memory of which slot holds which track of one worker.
 *
 * @module
 */
import type { Bucket } from "../engine.ts";

/**
 * Track id <-> slot index for one worker's track table, so that a known track costs one map
 * lookup instead of writing its key into engine memory. The engine owns the truth: whenever it
 * releases a slot (a quiet track after a drain, a track whose first stat was malformed, a closed
 * worker) the table calls `invalidate` or `clear`, and a slot the host has not seen (a batch made
 * it) is learned with `remember` when its id is first read.
 */
export class SlotCache {
  // made on first use: a service may hold hundreds of thousands of workers, most with few tracks
  private byTrack: [Map<string, number>, Map<string, number>] | undefined = undefined;
  private bySlot: Map<number, string> | undefined = undefined;

  /** The slot of (`bucket`, `trackId`), or -1 when it is not known. */
  slotOf(bucket: Bucket, trackId: string): number {
    return this.byTrack?.[bucket].get(trackId) ?? -1;
  }

  /** The track id of `slot`, or undefined when the host has not seen that slot. */
  trackOf(slot: number): string | undefined {
    return this.bySlot?.get(slot);
  }

  /** Records that (`bucket`, `trackId`) lives in `slot`. */
  remember(bucket: Bucket, trackId: string, slot: number): void {
    (this.byTrack ??= [new Map(), new Map()])[bucket].set(trackId, slot);
    (this.bySlot ??= new Map()).set(slot, trackId);
  }

  /** Forgets `slot`: the engine released it. */
  invalidate(slot: number): void {
    const trackId = this.bySlot?.get(slot);
    if (trackId === undefined) return;
    this.bySlot!.delete(slot);
    for (const tracks of this.byTrack!) if (tracks.get(trackId) === slot) tracks.delete(trackId);
  }

  /** Forgets every slot: the engine released them all. */
  clear(): void {
    this.byTrack = undefined;
    this.bySlot = undefined;
  }
}
