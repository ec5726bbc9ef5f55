// Workers, their track slots, and the routes that let a batch find them without the host.
//
// A worker is one StatsWorker's window: a list of slots, one per (bucket, track id), found
// through a hash table keyed by (worker, bucket, track id bytes). A router is one
// TelemetryService: a hash table keyed by (router, room id, participant id) gives the worker
// that a batch message belongs to. Everything here is owned by the engine; the host refers to
// workers and routers by index.

import { blockAlloc, blockFree } from "./heap";
import { META_BUCKET, META_NEXT, META_PREV, META_TRACK_BYTES, META_TRACK_PTR, META_WORKER } from "./layout";
import { allocSlot, freeSlot, isLiveSlot, liveSlotAddress, metaAddress } from "./slots";

/**
 * One worker; only the module reads it (the host names workers by index).
 *
 *  0 ┌───────────┬──────────┬────────────┬─────────────┐
 *    │ state u32 │ head i32 │ router i32 │ pending u32 │
 * 16 ├───────────┼──────────┴──┬─────────┴──┬──────────┴─────┐
 *    │ keyPtr u32│ roomBytes   │ pidBytes   │ patchBytes u32 │
 * 32 └───────────┴─────────────┴────────────┴────────────────┘
 *
 * keyPtr holds the room id, the participant id and the pre-encoded patch fields, back to back;
 * head is the first slot of the worker's list (META next/prev), -1 when empty, and the next free
 * worker index + 1 while the record is free.
 */
@unmanaged class Worker {
  state: u32;
  head: i32;
  router: i32;
  /** stats folded in by batches since the last drain */
  pending: u32;
  keyPtr: u32;
  roomBytes: u32;
  pidBytes: u32;
  patchBytes: u32;
}

// @ts-ignore: decorator
@inline const STATE_FREE: u32 = 0;
// @ts-ignore: decorator
@inline const STATE_OPEN: u32 = 1;
// @ts-ignore: decorator
@inline const STATE_CLOSED: u32 = 2;

let workers: usize = 0;
let workerCapacity: u32 = 0;
let workerHigh: u32 = 0;
/** free worker indices, threaded through Worker.head, as index + 1 */
let workerFreeHead: u32 = 0;
let routerCount: i32 = 0;

// @ts-ignore: decorator
@inline function workerAt(worker: i32): Worker {
  return changetype<Worker>(workers + <usize>worker * offsetof<Worker>());
}

/** Reports whether `worker` names a live (open or closed) worker. */
export function isWorker(worker: i32): bool {
  return worker >= 0 && <u32>worker < workerHigh && workerAt(worker).state != STATE_FREE;
}

// ── hash tables ───────────────────────────────────────────────────────────────────────────────
// Open addressing with linear probing over u32 entries: 0 empty, TOMBSTONE deleted, else the
// value + 1 (a slot index for TRACKS, a worker index for ROUTES). Keys live in the slot meta or
// the worker record, so an entry is 4 bytes. Both tables share one key shape, (owner, sub, first
// bytes, second bytes): a track is (worker, bucket, track id, none), a route is (router, 0, room
// id, participant id).

// @ts-ignore: decorator
@inline const TOMBSTONE: u32 = 0xffff_ffff;
// @ts-ignore: decorator
@inline const MIN_TABLE: u32 = 64;

/** One hash table; only the module reads it. */
@unmanaged class Table {
  entries: usize;
  capacity: u32;
  /** live entries plus tombstones */
  used: u32;
  live: u32;
  /** KIND_TRACKS or KIND_ROUTES: where an entry's key lives */
  kind: u32;
}

// @ts-ignore: decorator
@inline const KIND_TRACKS: u32 = 0;
// @ts-ignore: decorator
@inline const KIND_ROUTES: u32 = 1;

const TRACKS = changetype<Table>(memory.data(offsetof<Table>(), 16));
const ROUTES = changetype<Table>(memory.data(offsetof<Table>(), 16));
// static data starts zeroed: TRACKS.kind is already KIND_TRACKS
ROUTES.kind = KIND_ROUTES;

function hashBytes(h: u32, ptr: usize, bytes: u32): u32 {
  // FNV-1a: a few cycles per byte, and ids are short
  for (let i: usize = 0; i < <usize>bytes; i++) h = (h ^ <u32>load<u8>(ptr + i)) * 0x0100_0193;
  return h;
}

function mix(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85eb_ca6b;
  h ^= h >> 13;
  h *= 0xc2b2_ae35;
  return h ^ (h >> 16);
}

/** The hash of key (owner, sub, [p1, p1 + n1), [p2, p2 + n2)) in a table of `kind`. */
function keyHash(kind: u32, owner: i32, sub: u32, p1: usize, n1: u32, p2: usize, n2: u32): u32 {
  const seed = 0x811c_9dc5 ^ (<u32>owner * 0x9e37_79b1);
  if (kind == KIND_TRACKS) return mix(hashBytes(seed + sub, p1, n1));
  // the room's length goes in too, so ("ab","c") and ("a","bc") differ
  return mix(hashBytes(hashBytes(seed ^ n1, p1, n1), p2, n2));
}

function bytesEqual(a: usize, b: usize, bytes: u32): bool {
  return memory.compare(a, b, <usize>bytes) == 0;
}

/** Reports whether entry `value` of `table` has key (owner, sub, p1/n1, p2/n2). */
// @ts-ignore: decorator
@inline function keyMatches(table: Table, value: u32, owner: i32, sub: u32, p1: usize, n1: u32, p2: usize, n2: u32): bool {
  if (table.kind == KIND_TRACKS) {
    const meta = metaAddress(value);
    return (
      load<i32>(meta + META_WORKER) == owner &&
      load<u32>(meta + META_BUCKET) == sub &&
      load<u32>(meta + META_TRACK_BYTES) == n1 &&
      bytesEqual(load<u32>(meta + META_TRACK_PTR), p1, n1)
    );
  }
  const w = workerAt(<i32>value);
  const key = <usize>w.keyPtr;
  return (
    w.router == owner && w.roomBytes == n1 && w.pidBytes == n2 &&
    bytesEqual(key, p1, n1) && bytesEqual(key + n1, p2, n2)
  );
}

/** The hash of the key stored for entry `value` of `table`. */
function entryHash(table: Table, value: u32): u32 {
  if (table.kind == KIND_TRACKS) {
    const meta = metaAddress(value);
    return keyHash(KIND_TRACKS, load<i32>(meta + META_WORKER), load<u32>(meta + META_BUCKET), load<u32>(meta + META_TRACK_PTR), load<u32>(meta + META_TRACK_BYTES), 0, 0);
  }
  const w = workerAt(<i32>value);
  const key = <usize>w.keyPtr;
  return keyHash(KIND_ROUTES, w.router, 0, key, w.roomBytes, key + w.roomBytes, w.pidBytes);
}

/** The value whose key is (owner, sub, p1/n1, p2/n2) with hash `hash`, or -1: the one probe loop. */
function find(table: Table, hash: u32, owner: i32, sub: u32, p1: usize, n1: u32, p2: usize, n2: u32): i32 {
  if (table.capacity == 0) return -1;
  const mask = table.capacity - 1;
  let j = hash & mask;
  for (;;) {
    const e = load<u32>(table.entries + (<usize>j << 2));
    if (e == 0) return -1;
    if (e != TOMBSTONE && keyMatches(table, e - 1, owner, sub, p1, n1, p2, n2)) return <i32>(e - 1);
    j = (j + 1) & mask;
  }
  // the table is never full (reserve keeps it at most 3/4 used), so the probe always ends above
  return -1;
}

/** Makes room for one more entry; false when memory is exhausted. */
function reserve(table: Table): bool {
  if (table.capacity != 0 && (table.used + 1) * 4 <= table.capacity * 3) return true;
  let capacity = MIN_TABLE;
  while (capacity < (table.live + 1) * 4) capacity <<= 1;
  const entries = blockAlloc(<u64>capacity << 2);
  if (entries == 0) return false;
  memory.fill(entries, 0, <usize>capacity << 2);
  const mask = capacity - 1;
  for (let i: u32 = 0; i < table.capacity; i++) {
    const e = load<u32>(table.entries + (<usize>i << 2));
    if (e == 0 || e == TOMBSTONE) continue;
    let j = entryHash(table, e - 1) & mask;
    while (load<u32>(entries + (<usize>j << 2)) != 0) j = (j + 1) & mask;
    store<u32>(entries + (<usize>j << 2), e);
  }
  blockFree(table.entries);
  table.entries = entries;
  table.capacity = capacity;
  table.used = table.live;
  return true;
}

function insert(table: Table, hash: u32, value: u32): void {
  const mask = table.capacity - 1;
  let j = hash & mask;
  for (;;) {
    const at = table.entries + (<usize>j << 2);
    const e = load<u32>(at);
    if (e == 0 || e == TOMBSTONE) {
      if (e == 0) table.used++;
      table.live++;
      store<u32>(at, value + 1);
      return;
    }
    j = (j + 1) & mask;
  }
}

function remove(table: Table, hash: u32, value: u32): void {
  if (table.capacity == 0) return;
  const mask = table.capacity - 1;
  let j = hash & mask;
  for (;;) {
    const at = table.entries + (<usize>j << 2);
    const e = load<u32>(at);
    if (e == 0) return;
    if (e == value + 1) {
      store<u32>(at, TOMBSTONE);
      table.live--;
      return;
    }
    j = (j + 1) & mask;
  }
}

// @ts-ignore: decorator
@inline function routeHash(router: i32, room: usize, roomBytes: u32, pid: usize, pidBytes: u32): u32 {
  return keyHash(KIND_ROUTES, router, 0, room, roomBytes, pid, pidBytes);
}

/** The worker routed for (router, room, participant), or -1. */
export function findRoute(router: i32, room: usize, roomBytes: u32, pid: usize, pidBytes: u32): i32 {
  return find(ROUTES, routeHash(router, room, roomBytes, pid, pidBytes), router, 0, room, roomBytes, pid, pidBytes);
}

// ── workers ───────────────────────────────────────────────────────────────────────────────

/** A new router (one per TelemetryService); its routes start empty. */
export function routerCreate(): i32 {
  return routerCount++;
}

/**
 * Creates a worker from `[ptr, ptr + roomBytes + pidBytes + patchBytes)`: room id, participant
 * id (UTF-8) and the pre-encoded patch fields (AnalyticsStat fields 5-7). With `router` >= 0 the
 * worker becomes the route of (router, room, participant), replacing any earlier one.
 * Returns the worker index, or -1 when memory is exhausted.
 */
export function workerCreate(ptr: usize, roomBytes: u32, pidBytes: u32, patchBytes: u32, router: i32): i32 {
  const keyBytes = roomBytes + pidBytes + patchBytes;
  const key = blockAlloc(<u64>keyBytes);
  if (key == 0) return -1;
  if (router >= 0 && !reserve(ROUTES)) {
    blockFree(key);
    return -1;
  }
  let worker: i32;
  if (workerFreeHead != 0) {
    worker = <i32>(workerFreeHead - 1);
    workerFreeHead = <u32>workerAt(worker).head;
  } else {
    if (workerHigh == workerCapacity) {
      const capacity = workerCapacity == 0 ? 64 : workerCapacity << 1;
      const grown = blockAlloc(<u64>capacity * offsetof<Worker>());
      if (grown == 0) {
        blockFree(key);
        return -1;
      }
      if (workers != 0) memory.copy(grown, workers, <usize>workerHigh * offsetof<Worker>());
      blockFree(workers);
      workers = grown;
      workerCapacity = capacity;
    }
    worker = <i32>workerHigh;
    workerHigh++;
  }
  memory.copy(key, ptr, <usize>keyBytes);
  const w = workerAt(worker);
  w.state = STATE_OPEN;
  w.head = -1;
  w.router = router;
  w.pending = 0;
  w.keyPtr = <u32>key;
  w.roomBytes = roomBytes;
  w.pidBytes = pidBytes;
  w.patchBytes = patchBytes;
  if (router >= 0) {
    const hash = routeHash(router, key, roomBytes, key + roomBytes, pidBytes);
    const previous = find(ROUTES, hash, router, 0, key, roomBytes, key + roomBytes, pidBytes);
    if (previous >= 0) remove(ROUTES, hash, <u32>previous);
    insert(ROUTES, hash, <u32>worker);
  }
  return worker;
}

/** Frees every slot of `worker` and marks it closed: batch stats for it are dropped. */
export function workerClose(worker: i32): void {
  if (!isWorker(worker)) return;
  freeWorkerSlots(worker);
  workerAt(worker).state = STATE_CLOSED;
}

/** Frees `worker` whole; its route goes too if it is still the route of its key. */
export function workerFree(worker: i32): void {
  if (!isWorker(worker)) return;
  freeWorkerSlots(worker);
  const w = workerAt(worker);
  const router = w.router;
  const key = <usize>w.keyPtr;
  const roomBytes = w.roomBytes;
  const pidBytes = w.pidBytes;
  if (router >= 0) {
    const hash = routeHash(router, key, roomBytes, key + roomBytes, pidBytes);
    if (find(ROUTES, hash, router, 0, key, roomBytes, key + roomBytes, pidBytes) == worker) remove(ROUTES, hash, <u32>worker);
  }
  blockFree(key);
  w.state = STATE_FREE;
  w.head = <i32>workerFreeHead;
  workerFreeHead = <u32>worker + 1;
}

/** Reports whether `worker` is open (not closed, not freed). */
export function isOpenWorker(worker: i32): bool {
  return isWorker(worker) && workerAt(worker).state == STATE_OPEN;
}

/** Stats folded into `worker`'s slots by batches since its last drain. */
export function workerPending(worker: i32): u32 {
  return isWorker(worker) ? workerAt(worker).pending : 0;
}

/** Counts one batch stat folded into live `worker`. */
export function notePending(worker: i32): void {
  workerAt(worker).pending++;
}

/** Forgets live `worker`'s pending batch stats (its window was drained). */
export function clearPending(worker: i32): void {
  workerAt(worker).pending = 0;
}

/** The first slot of live `worker`'s list (META next links the rest), -1 when empty. */
export function workerHead(worker: i32): i32 {
  return workerAt(worker).head;
}

/** Address of live `worker`'s pre-encoded patch fields. */
export function workerPatch(worker: i32): usize {
  const w = workerAt(worker);
  return <usize>w.keyPtr + w.roomBytes + w.pidBytes;
}

/** Bytes of live `worker`'s pre-encoded patch fields. */
export function workerPatchBytes(worker: i32): u32 {
  return workerAt(worker).patchBytes;
}

// ── track slots ───────────────────────────────────────────────────────────────────────────────

// @ts-ignore: decorator
@inline function trackHash(worker: i32, bucket: u32, ptr: usize, bytes: u32): u32 {
  return keyHash(KIND_TRACKS, worker, bucket, ptr, bytes, 0, 0);
}

/**
 * The slot of (`worker`, `bucket`, track id `[ptr, ptr + bytes)`), created (zeroed) on first
 * use. -1 when `worker` is not open or memory is exhausted.
 */
export function trackSlot(worker: i32, bucket: u32, ptr: usize, bytes: u32): i32 {
  if (!isOpenWorker(worker)) return -1;
  const hash = trackHash(worker, bucket, ptr, bytes);
  const found = find(TRACKS, hash, worker, bucket, ptr, bytes, 0, 0);
  if (found >= 0) return found;
  if (!reserve(TRACKS)) return -1;
  let copy: usize = 0;
  if (bytes != 0) {
    copy = blockAlloc(<u64>bytes);
    if (copy == 0) return -1;
    memory.copy(copy, ptr, <usize>bytes);
  }
  const slot = allocSlot();
  if (slot < 0) {
    blockFree(copy);
    return -1;
  }
  const meta = metaAddress(<u32>slot);
  store<i32>(meta + META_WORKER, worker);
  store<u32>(meta + META_BUCKET, bucket);
  store<u32>(meta + META_TRACK_PTR, <u32>copy);
  store<u32>(meta + META_TRACK_BYTES, bytes);
  const w = workerAt(worker);
  const head = w.head;
  store<i32>(meta + META_NEXT, head);
  if (head >= 0) store<i32>(metaAddress(<u32>head) + META_PREV, slot);
  w.head = slot;
  insert(TRACKS, hash, <u32>slot);
  return slot;
}

/** Unlinks a worker's slot from its list and the track table and frees it with its id bytes. */
export function releaseSlot(slot: i32): void {
  const meta = metaAddress(<u32>slot);
  const worker = load<i32>(meta + META_WORKER);
  const next = load<i32>(meta + META_NEXT);
  const prev = load<i32>(meta + META_PREV);
  if (prev >= 0) store<i32>(metaAddress(<u32>prev) + META_NEXT, next);
  else workerAt(worker).head = next;
  if (next >= 0) store<i32>(metaAddress(<u32>next) + META_PREV, prev);
  const trackPtr = <usize>load<u32>(meta + META_TRACK_PTR);
  remove(TRACKS, trackHash(worker, load<u32>(meta + META_BUCKET), trackPtr, load<u32>(meta + META_TRACK_BYTES)), <u32>slot);
  blockFree(trackPtr);
  freeSlot(slot);
}

/**
 * Releases slot `slot` of `worker` (a track whose first stat was malformed); ignores a slot the
 * worker does not own.
 */
export function workerSlotRelease(worker: i32, slot: i32): void {
  if (!isWorker(worker) || !isLiveSlot(slot) || load<i32>(metaAddress(<u32>slot) + META_WORKER) != worker) return;
  releaseSlot(slot);
}

function freeWorkerSlots(worker: i32): void {
  let slot = workerHead(worker);
  while (slot >= 0) {
    const next = load<i32>(metaAddress(<u32>slot) + META_NEXT);
    releaseSlot(slot);
    slot = next;
  }
  clearPending(worker);
}

/** Address of a live slot's meta record (worker, bucket, track id); 0 for a slot not in use. */
export function slotMetaPtr(slot: i32): usize {
  return isLiveSlot(slot) ? metaAddress(<u32>slot) : 0;
}

/** Address of the record of a slot known to be live. */
export function slotAddress(slot: i32): usize {
  return liveSlotAddress(slot);
}
