/**
 * ts-flat slot pool: the running fold of each (worker, direction, track) in one 96-byte record
 * of a growable typed array, the same record as the wasm engine's slot (src/engine/wasm/abi.ts
 * `SLOT`), addressed here in 32-bit words.
 *
 * ```
 * word 0 ┌───────────┬───────────┬────────────────┬───────────────────┐
 *        │ count     │ score f32 │ primaryPackets │ retransmitPackets │
 *      4 ├───────────┴───────────┼────────────────┼───────────────────┤
 *        │ paddingPackets        │ packetsLost    │ frames    │ nacks │
 *      8 ├───────────┬───────────┼────────────────┼───────────────────┤
 *        │ plis      │ firs      │ rtt (max)      │ jitter (max)      │
 *     12 ├───────────┴───────────┼────────────────┴───────────────────┤
 *        │ primaryBytes lo, hi   │ retransmitBytes lo, hi             │
 *     16 ├───────────────────────┼───────────┬────────────────────────┤
 *        │ paddingBytes lo, hi   │ layer i32 │ layerPresent           │
 *     20 ├───────────┬───────────┼───────────┴────────────────────────┤
 *        │ layerPkts │ layerFrms │ layerBytes lo, hi                  │
 *     24 └───────────┴───────────┴────────────────────────────────────┘
 * ```
 * 64-bit counters are little-endian (lo, hi) u32 pairs, so a `BigUint64Array` over the same
 * buffer reads them as one u64 (only when an output object needs a bigint).
 *
 * @module
 */

import { SLOT, SLOT_U32 } from "../../src/engine/wasm/layout.gen.ts";

/**
 * Word offsets inside a slot record: the wasm engine's own (`SLOT_U32`, generated from
 * assembly/layout.ts), so that both read the same record, plus the record's size in words.
 */
export const W = { ...SLOT_U32, SIZE: SLOT.SIZE / 4 } as const;

/** Slot 0 is reserved: the fold of the one stat being read (the wasm decoder's DELTA record). */
export const DELTA_SLOT = 0;

/**
 * A growable pool of slot records with a free list.
 *
 * Growing replaces the buffer, so callers read the views (`u32`, `f32`, `u64`) from the pool
 * after any `alloc()`, never across one.
 */
export class SlotPool {
  u32: Uint32Array;
  f32: Float32Array;
  u64: BigUint64Array;
  private capacity: number;
  private high = 1; // slot 0 is DELTA_SLOT
  private free: number[] = [];
  private live = 0;

  constructor(initialSlots = 1024) {
    this.capacity = initialSlots;
    const buffer = new ArrayBuffer(initialSlots * W.SIZE * 4);
    this.u32 = new Uint32Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.u64 = new BigUint64Array(buffer);
  }

  /** Takes a zeroed slot and returns its index. */
  alloc(): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.high === this.capacity) this.grow();
      slot = this.high++;
    }
    this.u32.fill(0, slot * W.SIZE, slot * W.SIZE + W.SIZE);
    this.live++;
    return slot;
  }

  /** Returns a slot to the free list. */
  release(slot: number): void {
    this.free.push(slot);
    this.live--;
  }

  /** Zeroes a slot (the start of a new window). */
  reset(slot: number): void {
    this.u32.fill(0, slot * W.SIZE, slot * W.SIZE + W.SIZE);
  }

  /** Slots in use (DELTA_SLOT not counted). */
  get count(): number {
    return this.live;
  }

  private grow(): void {
    this.capacity *= 2;
    const buffer = new ArrayBuffer(this.capacity * W.SIZE * 4);
    const u32 = new Uint32Array(buffer);
    u32.set(this.u32);
    this.u32 = u32;
    this.f32 = new Float32Array(buffer);
    this.u64 = new BigUint64Array(buffer);
  }
}

/**
 * Adds a u64 given as (lo, hi) into the (lo, hi) pair at word `at`, wrapping mod 2^64 (R8).
 * Uint32Array stores wrap mod 2^32 by themselves; only the carry needs computing.
 */
export function addU64(w: Uint32Array, at: number, lo: number, hi: number): void {
  const sum = w[at]! + lo;
  w[at] = sum;
  w[at + 1] = w[at + 1]! + hi + (sum > 0xffff_ffff ? 1 : 0);
}

/**
 * Folds one video layer into the layer accumulator of slot word base `d` (R9, Q1): the highest
 * index wins (signed compare), an equal index adds into it.
 */
export function foldLayer(w: Uint32Array, d: number, layer: number, packets: number, frames: number, lo: number, hi: number): void {
  if (w[d + W.LAYER_PRESENT] === 0 || layer > (w[d + W.LAYER]! | 0)) {
    w[d + W.LAYER] = layer;
    w[d + W.LAYER_PRESENT] = 1;
    w[d + W.LAYER_PACKETS] = packets;
    w[d + W.LAYER_FRAMES] = frames;
    w[d + W.LAYER_BYTES] = lo;
    w[d + W.LAYER_BYTES + 1] = hi;
  } else if (layer === (w[d + W.LAYER]! | 0)) {
    w[d + W.LAYER_PACKETS] = w[d + W.LAYER_PACKETS]! + packets;
    w[d + W.LAYER_FRAMES] = w[d + W.LAYER_FRAMES]! + frames;
    addU64(w, d + W.LAYER_BYTES, lo, hi);
  }
}

/**
 * Adds the fold of one valid stat (slot `delta`, count 1) into slot `dst` (assembly/fold.ts
 * `mergeValid`): sums wrap, rtt/jitter take the maximum, the score is added once in float32.
 */
export function mergeValid(pool: SlotPool, dst: number, delta: number): void {
  const w = pool.u32;
  const f = pool.f32;
  const d = dst * W.SIZE;
  const s = delta * W.SIZE;
  w[d + W.COUNT] = w[d + W.COUNT]! + 1;
  // Go parity (R10): a Float32Array store rounds the (exact-enough) double sum to float32,
  // which equals float32 addition (double has more than 2 * 24 + 2 bits of precision)
  f[d + W.SCORE] = f[d + W.SCORE]! + f[s + W.SCORE]!;
  for (let k = W.PRIMARY_PACKETS; k <= W.FIRS; k++) w[d + k] = w[d + k]! + w[s + k]!;
  if (w[s + W.RTT]! > w[d + W.RTT]!) w[d + W.RTT] = w[s + W.RTT]!;
  if (w[s + W.JITTER]! > w[d + W.JITTER]!) w[d + W.JITTER] = w[s + W.JITTER]!;
  addU64(w, d + W.PRIMARY_BYTES, w[s + W.PRIMARY_BYTES]!, w[s + W.PRIMARY_BYTES + 1]!);
  addU64(w, d + W.RETRANSMIT_BYTES, w[s + W.RETRANSMIT_BYTES]!, w[s + W.RETRANSMIT_BYTES + 1]!);
  addU64(w, d + W.PADDING_BYTES, w[s + W.PADDING_BYTES]!, w[s + W.PADDING_BYTES + 1]!);
  if (w[s + W.LAYER_PRESENT] !== 0) {
    foldLayer(w, d, w[s + W.LAYER]! | 0, w[s + W.LAYER_PACKETS]!, w[s + W.LAYER_FRAMES]!, w[s + W.LAYER_BYTES]!, w[s + W.LAYER_BYTES + 1]!);
  }
}
