/**
 * A map from (room id, participant id) byte strings to values, looked up straight from byte
 * ranges of a buffer: replaying a capture looks up every record's participant, and making two
 * strings per record for a `Map` key costs more than the rest of the record's routing.
 *
 * @module
 */

interface Slot<V> {
  readonly room: Uint8Array;
  readonly participant: Uint8Array;
  readonly hash: number;
  value: V;
  next: Slot<V> | undefined;
}

function equalRange(key: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  // from the end: ids of one room share their prefix
  for (let i = key.length - 1; i >= 0; i--) if (key[i] !== buf[start + i]) return false;
  return true;
}

/** (room, participant) byte pairs to values; a collision chain per 30-bit hash. */
export class IdTable<V> {
  private readonly buckets = new Map<number, Slot<V>>();
  // a per-table seed, so that colliding ids cannot be prepared for every run
  private readonly seed = (Math.random() * 2 ** 32) >>> 0;
  private count = 0;

  /** Entries held. */
  get size(): number {
    return this.count;
  }

  private hash(buf: Uint8Array, roomStart: number, roomEnd: number, partStart: number, partEnd: number): number {
    // FNV-1a over the room, its length (so the split is part of the key), then the participant
    let h = 0x811c9dc5 ^ this.seed;
    for (let i = roomStart; i < roomEnd; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    h = Math.imul(h ^ (roomEnd - roomStart), 0x01000193);
    for (let i = partStart; i < partEnd; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    // a small integer key keeps the Map's keys unboxed
    return h & 0x3fffffff;
  }

  /** The value of the pair at `buf[roomStart, roomEnd)` and `buf[partStart, partEnd)`, if any. */
  get(buf: Uint8Array, roomStart: number, roomEnd: number, partStart: number, partEnd: number): V | undefined {
    const h = this.hash(buf, roomStart, roomEnd, partStart, partEnd);
    for (let s = this.buckets.get(h); s !== undefined; s = s.next) {
      if (equalRange(s.room, buf, roomStart, roomEnd) && equalRange(s.participant, buf, partStart, partEnd)) return s.value;
    }
    return undefined;
  }

  /** Sets the pair's value (copying the id bytes) and returns a handle for {@link delete}. */
  set(buf: Uint8Array, roomStart: number, roomEnd: number, partStart: number, partEnd: number, value: V): object {
    const h = this.hash(buf, roomStart, roomEnd, partStart, partEnd);
    const head = this.buckets.get(h);
    for (let s = head; s !== undefined; s = s.next) {
      if (equalRange(s.room, buf, roomStart, roomEnd) && equalRange(s.participant, buf, partStart, partEnd)) {
        s.value = value;
        return s;
      }
    }
    // copies: `buf` may be a Buffer, whose slice() is a view that would pin (and follow) the block
    const room = new Uint8Array(buf.subarray(roomStart, roomEnd));
    const participant = new Uint8Array(buf.subarray(partStart, partEnd));
    const slot: Slot<V> = { room, participant, hash: h, value, next: head };
    this.buckets.set(h, slot);
    this.count++;
    return slot;
  }

  /** Removes the entry whose handle {@link set} returned. */
  delete(handle: object): void {
    const slot = handle as Slot<V>;
    let s = this.buckets.get(slot.hash);
    if (s === slot) {
      if (slot.next === undefined) this.buckets.delete(slot.hash);
      else this.buckets.set(slot.hash, slot.next);
      this.count--;
      return;
    }
    for (; s !== undefined; s = s.next) {
      if (s.next === slot) {
        s.next = slot.next;
        this.count--;
        return;
      }
    }
  }
}
