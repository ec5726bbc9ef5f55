/**
 * A map from (room id, participant id) byte strings to values, looked up straight from byte
 * ranges of a buffer: replaying a capture looks up every record's participant, and making two
 * strings per record for a `Map` key costs more than the rest of the record's routing.
 *
 * The keys live in one byte arena and the index is an open-addressing table of typed arrays, so
 * a lookup touches a few cache lines and allocates nothing.
 *
 * @module
 */

const EMPTY = 0;
const DELETED = -1;

/** (room, participant) byte pairs to values; linear probing over a seeded 32-bit hash. */
export class IdTable<V> {
  // a per-table seed, so that colliding ids cannot be prepared for every run
  private readonly seed = (Math.random() * 2 ** 32) >>> 0;
  private count = 0;
  // index: entry + 1, EMPTY or DELETED; its length is a power of two
  private index = new Int32Array(64);
  private tombstones = 0;
  // entries, four words each (together: one cache line holds what a probe compares): the hash,
  // where the key starts in the arena, the room's and the participant's byte lengths
  private meta = new Int32Array(32 * 4);
  private values: (V | undefined)[] = [];
  private free: number[] = [];
  private entries = 0;
  private arena = new Uint8Array(1024);
  private arenaUsed = 0;

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
    return h ^ (h >>> 12);
  }

  private matches(e: number, h: number, buf: Uint8Array, roomStart: number, roomEnd: number, partStart: number, partEnd: number): boolean {
    const rl = roomEnd - roomStart;
    const pl = partEnd - partStart;
    const m = this.meta;
    if (m[4 * e] !== h || m[4 * e + 2] !== rl || m[4 * e + 3] !== pl) return false;
    const a = this.arena;
    const k = m[4 * e + 1]!;
    // the participant first: ids of one room share their room bytes
    for (let i = 0; i < pl; i++) if (a[k + rl + i] !== buf[partStart + i]) return false;
    for (let i = 0; i < rl; i++) if (a[k + i] !== buf[roomStart + i]) return false;
    return true;
  }

  // the index position of the pair, or of the EMPTY slot that ends its probe (negated, minus one)
  private slot(h: number, buf: Uint8Array, roomStart: number, roomEnd: number, partStart: number, partEnd: number): number {
    const index = this.index;
    const mask = index.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = index[i]!;
      if (v === EMPTY) return -i - 1;
      if (v !== DELETED && this.matches(v - 1, h, buf, roomStart, roomEnd, partStart, partEnd)) return i;
    }
  }

  /**
   * The handle of the pair at `buf[roomStart, roomEnd)` and `buf[partStart, partEnd)` (what
   * {@link set} returned for it), or -1. Handles are small integers, reused after a delete.
   */
  find(buf: Uint8Array, roomStart: number, roomEnd: number, partStart: number, partEnd: number): number {
    const i = this.slot(this.hash(buf, roomStart, roomEnd, partStart, partEnd), buf, roomStart, roomEnd, partStart, partEnd);
    return i < 0 ? -1 : this.index[i]! - 1;
  }

  /** The value held under a live handle. */
  value(handle: number): V | undefined {
    return this.values[handle];
  }

  /** Sets the pair's value (copying the id bytes) and returns a handle for {@link delete}. */
  set(buf: Uint8Array, roomStart: number, roomEnd: number, partStart: number, partEnd: number, value: V): number {
    const h = this.hash(buf, roomStart, roomEnd, partStart, partEnd);
    let i = this.slot(h, buf, roomStart, roomEnd, partStart, partEnd);
    if (i >= 0) {
      const e = this.index[i]! - 1;
      this.values[e] = value;
      return e;
    }
    if ((this.count + this.tombstones + 1) * 2 > this.index.length) {
      this.rebuild();
      i = this.slot(h, buf, roomStart, roomEnd, partStart, partEnd);
    }
    const rl = roomEnd - roomStart;
    const pl = partEnd - partStart;
    const e = this.newEntry();
    // a copy: `buf` may be a block of the input that is overwritten later
    const k = this.reserve(rl + pl);
    this.arena.set(buf.subarray(roomStart, roomEnd), k);
    this.arena.set(buf.subarray(partStart, partEnd), k + rl);
    this.meta[4 * e] = h;
    this.meta[4 * e + 1] = k;
    this.meta[4 * e + 2] = rl;
    this.meta[4 * e + 3] = pl;
    this.values[e] = value;
    this.index[-i - 1] = e + 1;
    this.count++;
    return e;
  }

  /** Removes the entry whose handle {@link set} returned; a handle already removed is ignored. */
  delete(handle: number): void {
    const e = handle;
    if (!(e >= 0 && e < this.entries) || this.values[e] === undefined) return;
    const index = this.index;
    const mask = index.length - 1;
    for (let i = this.meta[4 * e]! & mask; index[i] !== EMPTY; i = (i + 1) & mask) {
      if (index[i] === e + 1) {
        index[i] = DELETED;
        this.tombstones++;
        this.values[e] = undefined;
        this.free.push(e);
        this.count--;
        return;
      }
    }
  }

  private newEntry(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.entries * 4 === this.meta.length) this.meta = grow(this.meta, this.meta.length * 2);
    return this.entries++;
  }

  // room in the arena for `n` bytes; when full, live keys are compacted into a new arena
  private reserve(n: number): number {
    if (this.arenaUsed + n > this.arena.length) {
      let live = n;
      const m = this.meta;
      for (let e = 0; e < this.entries; e++) if (this.values[e] !== undefined) live += m[4 * e + 2]! + m[4 * e + 3]!;
      const next = new Uint8Array(Math.max(1024, live * 2));
      let used = 0;
      for (let e = 0; e < this.entries; e++) {
        if (this.values[e] === undefined) continue;
        const len = m[4 * e + 2]! + m[4 * e + 3]!;
        next.set(this.arena.subarray(m[4 * e + 1]!, m[4 * e + 1]! + len), used);
        m[4 * e + 1] = used;
        used += len;
      }
      this.arena = next;
      this.arenaUsed = used;
    }
    const at = this.arenaUsed;
    this.arenaUsed += n;
    return at;
  }

  // a new index without tombstones, at least four times the live entries
  private rebuild(): void {
    let size = this.index.length;
    while (size < (this.count + 1) * 4) size *= 2;
    const index = new Int32Array(size);
    const mask = size - 1;
    for (let e = 0; e < this.entries; e++) {
      if (this.values[e] === undefined) continue;
      let i = this.meta[4 * e]! & mask;
      while (index[i] !== EMPTY) i = (i + 1) & mask;
      index[i] = e + 1;
    }
    this.index = index;
    this.tombstones = 0;
  }
}

function grow(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}
