// Workers, their track slots, and the routes that let a batch find them without the host.
//
// A worker is one StatsWorker's window: a list of slots, one per (bucket, track id), found
// through a hash table keyed by (worker, bucket, track id bytes). A router is one
// TelemetryService: a hash table keyed by (router, room id, participant id) gives the worker
// that a batch message belongs to. Everything here is owned by the engine; the host refers to
// workers and routers by index.

import { bytesEqual } from "./bytes";
import { blockAlloc, blockCapacity, blockFree } from "./heap";
import {
  META_BUCKET, META_INLINE, META_INLINE_BYTES, META_NEXT, META_PREV, META_TRACK_BYTES, META_TRACK_PTR, META_WORKER,
  STATUS_ROUTER_TRACKS, STATUS_WORKER_ID_BYTES, STATUS_WORKER_TRACKS,
} from "./layout";
import { allocSlot, freeSlot, isLiveSlot, liveSlotAddress, metaAddress } from "./slots";

/**
 * One worker; only the module reads it (the host names workers by index).
 *
 *  0 ┌───────────┬──────────┬────────────┬─────────────┐
 *    │ state u32 │ head i32 │ router i32 │ pending u32 │
 * 16 ├───────────┼──────────┴──┬─────────┴──┬──────────┴─────┐
 *    │ keyPtr u32│ roomBytes   │ pidBytes   │ patchBytes u32 │
 * 32 ├───────────┼─────────────┼────────────┴────────────────┘
 *    │ tracks u32│ idBytes u32 │
 * 40 └───────────┴─────────────┘
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
  /** live track slots */
  tracks: u32;
  /** bytes of the track ids those slots hold */
  idBytes: u32;
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
/**
 * live track slots per router (u32 by router index), for the router bound; a freed router's word
 * is ROUTER_FREE | (the next free router + 1)
 */
let routerTracks: usize = 0;
/** free router indices, threaded through their words, as index + 1 */
let routerFreeHead: u32 = 0;
// @ts-ignore: decorator
@inline const ROUTER_FREE: u32 = 0x8000_0000;

// Bounds on what one participant or one service can make the engine hold (setBounds); a new
// track over any of them is refused, and nothing that exists changes.
let maxWorkerTracks: u32 = 0xffff_ffff;
let maxRouterTracks: u32 = 0xffff_ffff;
let maxWorkerIdBytes: u32 = 0xffff_ffff;

/**
 * Sets the bounds that refuse a new track: live tracks per worker, live tracks per router (all
 * the workers of one service), and bytes of track ids per worker. 0 means no bound, which is
 * also the default; existing tracks are never refused, only new ones.
 */
export function setBounds(workerTracks: u32, routerTracksBound: u32, workerIdBytes: u32): void {
  maxWorkerTracks = workerTracks == 0 ? 0xffff_ffff : workerTracks;
  maxRouterTracks = routerTracksBound == 0 ? 0xffff_ffff : routerTracksBound;
  maxWorkerIdBytes = workerIdBytes == 0 ? 0xffff_ffff : workerIdBytes;
}

// @ts-ignore: decorator
@inline function workerAt(worker: i32): Worker {
  return changetype<Worker>(workers + <usize>worker * offsetof<Worker>());
}

/** Reports whether `worker` names a live (open or closed) worker. */
export function isWorker(worker: i32): bool {
  return worker >= 0 && <u32>worker < workerHigh && workerAt(worker).state != STATE_FREE;
}

// ── hash tables ───────────────────────────────────────────────────────────────────────────────
// Open addressing with linear probing over 8-byte entries. Keys live in the slot meta or the
// worker record; the hash kept in the entry lets a probe pass an entry of another key without
// loading that record (a cache miss per probe otherwise). Both tables share one key shape,
// (owner, sub, first bytes, second bytes): a track is (worker, bucket, track id, none), a route
// is (router, 0, room id, participant id).
//
//   ┌───────────────────────────────────────┬──────────────────────┐
//   │ value + 1: u32 (0 empty, TOMBSTONE)   │ key hash: u32        │
//   └───────────────────────────────────────┴──────────────────────┘
//   +0                                      +4
//
// The value is a slot index for TRACKS, a worker index for ROUTES.

// @ts-ignore: decorator
@inline const TOMBSTONE: u32 = 0xffff_ffff;
// @ts-ignore: decorator
@inline const MIN_TABLE: u32 = 64;

/** log2 of an entry's bytes */
// @ts-ignore: decorator
@inline const ENTRY_SHIFT: usize = 3;
// @ts-ignore: decorator
@inline const ENTRY_HASH: usize = 4;

/** Probe steps after which an insert asks for its table to be rebuilt. */
// @ts-ignore: decorator
@inline const MAX_PROBE: u32 = 48;

/** One hash table; only the module reads it. */
@unmanaged class Table {
  entries: usize;
  capacity: u32;
  /** live entries plus tombstones */
  used: u32;
  live: u32;
  /** KIND_TRACKS or KIND_ROUTES: where an entry's key lives */
  kind: u32;
  /** the table's SipHash key, derived from the instance key and `epoch` */
  k0: u64;
  k1: u64;
  /** how many times the table was rekeyed */
  epoch: u32;
  /** an insert probed longer than MAX_PROBE: the next reserve() rebuilds the table */
  long: u32;
}

// @ts-ignore: decorator
@inline const KIND_TRACKS: u32 = 0;
// @ts-ignore: decorator
@inline const KIND_ROUTES: u32 = 1;

const TRACKS = changetype<Table>(memory.data(offsetof<Table>(), 16));
const ROUTES = changetype<Table>(memory.data(offsetof<Table>(), 16));
// static data starts zeroed: TRACKS.kind is already KIND_TRACKS
ROUTES.kind = KIND_ROUTES;

// ── keyed hash ────────────────────────────────────────────────────────────────────────────────
// SipHash-1-3 (one compression round per 8-byte block, three finalization rounds) keyed per
// instance: the host sets a random key at instantiate time (hashKey), so ids that collide cannot
// be computed in advance. The message is an 8-byte header (owner, then the bucket for a track or
// the room id's length for a route, so ("ab","c") and ("a","bc") differ) and the key bytes.

/** the instance key; a fixed one until the host sets its own */
let key0: u64 = 0x0706_0504_0302_0100;
let key1: u64 = 0x0f0e_0d0c_0b0a_0908;
/** probe steps taken by every lookup and insert, for the tests (hashProbes) */
let probes: u32 = 0;

/** `count` (at most 8) bytes from offset `off` of the stream `[p1, p1 + n1)` then `p2...`, little-endian. */
function gather(p1: usize, n1: u32, p2: usize, off: u32, count: u32): u64 {
  let m: u64 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const at = off + i;
    const byte = at < n1 ? load<u8>(p1 + at) : load<u8>(p2 + (at - n1));
    m |= <u64>byte << (<u64>i << 3);
  }
  return m;
}

/**
 * SipHash-1-3 with key (k0, k1) of the message: `header` (8 bytes, little-endian), then
 * `[p1, p1 + n1)`, then `[p2, p2 + n2)`. The state stays in locals, so the round is written out
 * twice: once for the message words, once for the finalization.
 */
function sipHash13(k0: u64, k1: u64, header: u64, p1: usize, n1: u32, p2: usize, n2: u32): u64 {
  let v0 = k0 ^ 0x736f_6d65_7073_6575;
  let v1 = k1 ^ 0x646f_7261_6e64_6f6d;
  let v2 = k0 ^ 0x6c79_6765_6e65_7261;
  let v3 = k1 ^ 0x7465_6462_7974_6573;
  const bytes: u32 = n1 + n2;
  const total: u32 = 8 + bytes;
  // word 0 is the header, words 1 .. last - 1 are full words of the id bytes, and the last holds
  // the remaining 0-7 bytes with the message length in its top byte
  const last: u32 = total >>> 3;
  for (let k: u32 = 0; k <= last; k++) {
    let m: u64;
    if (k == 0) {
      m = header;
    } else {
      const off = (k - 1) << 3;
      if (k == last) m = gather(p1, n1, p2, off, bytes - off) | (<u64>total << 56);
      else if (off + 8 <= n1) m = load<u64>(p1 + off);
      else if (off >= n1) m = load<u64>(p2 + (off - n1));
      else m = gather(p1, n1, p2, off, 8);
    }
    v3 ^= m;
    v0 += v1;
    v1 = rotl<u64>(v1, 13) ^ v0;
    v0 = rotl<u64>(v0, 32);
    v2 += v3;
    v3 = rotl<u64>(v3, 16) ^ v2;
    v0 += v3;
    v3 = rotl<u64>(v3, 21) ^ v0;
    v2 += v1;
    v1 = rotl<u64>(v1, 17) ^ v2;
    v2 = rotl<u64>(v2, 32);
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 3; r++) {
    v0 += v1;
    v1 = rotl<u64>(v1, 13) ^ v0;
    v0 = rotl<u64>(v0, 32);
    v2 += v3;
    v3 = rotl<u64>(v3, 16) ^ v2;
    v0 += v3;
    v3 = rotl<u64>(v3, 21) ^ v0;
    v2 += v1;
    v1 = rotl<u64>(v1, 17) ^ v2;
    v2 = rotl<u64>(v2, 32);
  }
  return v0 ^ v1 ^ v2 ^ v3;
}

/** Derives `table`'s key from the instance key and its kind and epoch. */
function deriveKey(table: Table): void {
  const header = <u64>table.kind | (<u64>table.epoch << 32);
  table.k0 = sipHash13(key0, key1, header, 0, 0, 0, 0);
  table.k1 = sipHash13(key0, key1, ~header, 0, 0, 0, 0);
}

/** The hash of key (owner, sub, [p1, p1 + n1), [p2, p2 + n2)) in `table`. */
function keyHash(table: Table, owner: i32, sub: u32, p1: usize, n1: u32, p2: usize, n2: u32): u32 {
  const header = <u64><u32>owner | (<u64>(table.kind == KIND_TRACKS ? sub : n1) << 32);
  return <u32>sipHash13(table.k0, table.k1, header, p1, n1, p2, n2);
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
    return keyHash(table, load<i32>(meta + META_WORKER), load<u32>(meta + META_BUCKET), load<u32>(meta + META_TRACK_PTR), load<u32>(meta + META_TRACK_BYTES), 0, 0);
  }
  const w = workerAt(<i32>value);
  const key = <usize>w.keyPtr;
  return keyHash(table, w.router, 0, key, w.roomBytes, key + w.roomBytes, w.pidBytes);
}

/** The value whose key is (owner, sub, p1/n1, p2/n2) with hash `hash`, or -1: the one probe loop. */
function find(table: Table, hash: u32, owner: i32, sub: u32, p1: usize, n1: u32, p2: usize, n2: u32): i32 {
  if (table.capacity == 0) return -1;
  const mask = table.capacity - 1;
  let j = hash & mask;
  for (;;) {
    probes++;
    const at = table.entries + (<usize>j << ENTRY_SHIFT);
    const e = load<u32>(at);
    if (e == 0) return -1;
    if (e != TOMBSTONE && load<u32>(at, ENTRY_HASH) == hash && keyMatches(table, e - 1, owner, sub, p1, n1, p2, n2)) {
      return <i32>(e - 1);
    }
    j = (j + 1) & mask;
  }
  // the table is never full (reserve keeps it at most 3/4 used), so the probe always ends above
  return -1;
}

/**
 * Rebuilds `table` with `capacity` entries under its current key, hashing every key again when
 * `rehash` (the key changed) and keeping each entry's hash otherwise; false when memory is
 * exhausted (the table is unchanged then).
 */
function rebuild(table: Table, capacity: u32, rehash: bool): bool {
  const entries = blockAlloc(<u64>capacity << ENTRY_SHIFT);
  if (entries == 0) return false;
  memory.fill(entries, 0, <usize>capacity << ENTRY_SHIFT);
  const mask = capacity - 1;
  for (let i: u32 = 0; i < table.capacity; i++) {
    const from = table.entries + (<usize>i << ENTRY_SHIFT);
    const e = load<u32>(from);
    if (e == 0 || e == TOMBSTONE) continue;
    const hash = rehash ? entryHash(table, e - 1) : load<u32>(from, ENTRY_HASH);
    let j = hash & mask;
    while (load<u32>(entries + (<usize>j << ENTRY_SHIFT)) != 0) j = (j + 1) & mask;
    const at = entries + (<usize>j << ENTRY_SHIFT);
    store<u32>(at, e);
    store<u32>(at, hash, ENTRY_HASH);
  }
  blockFree(table.entries);
  table.entries = entries;
  table.capacity = capacity;
  table.used = table.live;
  table.long = 0;
  return true;
}

/**
 * Makes room for one more entry; false when memory is exhausted.
 *
 * A table at most 3/4 used (tombstones included) is kept as it is, unless an insert probed
 * longer than MAX_PROBE: then a table at least 1/8 full doubles, and a sparser one (whose long
 * probe no load explains) takes a new key.
 */
function reserve(table: Table): bool {
  if (table.capacity != 0 && (table.used + 1) * 4 <= table.capacity * 3 && table.long == 0) return true;
  const k0 = table.k0;
  const k1 = table.k1;
  const epoch = table.epoch;
  if (k0 == 0 && k1 == 0) deriveKey(table);
  let capacity = MIN_TABLE;
  while (capacity < (table.live + 1) * 4) capacity <<= 1;
  if (table.long != 0) {
    if (table.live * 8 >= table.capacity) {
      if (capacity <= table.capacity) capacity = table.capacity << 1;
    } else {
      table.epoch++;
      deriveKey(table);
    }
  }
  if (rebuild(table, capacity, table.k0 != k0 || table.k1 != k1)) return true;
  // the entries stay where the old key put them, so the table keeps that key
  table.k0 = k0;
  table.k1 = k1;
  table.epoch = epoch;
  return false;
}

function insert(table: Table, hash: u32, value: u32): void {
  const mask = table.capacity - 1;
  let j = hash & mask;
  for (let steps: u32 = 1; ; steps++) {
    probes++;
    const at = table.entries + (<usize>j << ENTRY_SHIFT);
    const e = load<u32>(at);
    if (e == 0 || e == TOMBSTONE) {
      if (e == 0) table.used++;
      table.live++;
      store<u32>(at, value + 1);
      store<u32>(at, hash, ENTRY_HASH);
      if (steps > MAX_PROBE) table.long = 1;
      return;
    }
    j = (j + 1) & mask;
  }
}

/**
 * Sets the instance's hash key from four random u32 (the host's crypto.getRandomValues): call
 * it once, before the first worker. 0, or -1 once a table exists (the key is kept then).
 */
export function hashKey(a: u32, b: u32, c: u32, d: u32): i32 {
  if (TRACKS.capacity != 0 || ROUTES.capacity != 0) return -1;
  key0 = <u64>a | (<u64>b << 32);
  key1 = <u64>c | (<u64>d << 32);
  return 0;
}

/** Probe steps taken by every hash lookup and insert so far (wrapping): a test measure. */
export function hashProbes(): u32 {
  return probes;
}

function remove(table: Table, hash: u32, value: u32): void {
  if (table.capacity == 0) return;
  const mask = table.capacity - 1;
  let j = hash & mask;
  for (;;) {
    const at = table.entries + (<usize>j << ENTRY_SHIFT);
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
  return keyHash(ROUTES, router, 0, room, roomBytes, pid, pidBytes);
}

/** The worker routed for (router, room, participant), or -1. */
export function findRoute(router: i32, room: usize, roomBytes: u32, pid: usize, pidBytes: u32): i32 {
  return find(ROUTES, routeHash(router, room, roomBytes, pid, pidBytes), router, 0, room, roomBytes, pid, pidBytes);
}

// ── workers ───────────────────────────────────────────────────────────────────────────────

/** A new router (one per TelemetryService); its routes start empty. -1 when memory is exhausted. */
export function routerCreate(): i32 {
  if (routerFreeHead != 0) {
    const reused = <i32>(routerFreeHead - 1);
    routerFreeHead = load<u32>(routerTracksAt(reused)) & ~ROUTER_FREE;
    store<u32>(routerTracksAt(reused), 0);
    return reused;
  }
  const router = routerCount;
  const need = (<u64>router + 1) << 2;
  if (routerTracks == 0 || blockCapacity(routerTracks) < need) {
    const grown = blockAlloc(need << 1);
    if (grown == 0) return -1;
    if (routerTracks != 0) memory.copy(grown, routerTracks, <usize>router << 2);
    blockFree(routerTracks);
    routerTracks = grown;
  }
  store<u32>(routerTracks + (<usize>router << 2), 0);
  routerCount++;
  return router;
}

// @ts-ignore: decorator
@inline function routerTracksAt(router: i32): usize {
  return routerTracks + (<usize>router << 2);
}

/**
 * Frees `router` (a stopped TelemetryService) with every worker it routes, their slots, ids and
 * routes; its index is reused by a later routerCreate(). Ignores a router that is not live.
 */
export function routerFree(router: i32): void {
  if (router < 0 || router >= routerCount || (load<u32>(routerTracksAt(router)) & ROUTER_FREE) != 0) return;
  for (let worker: i32 = 0; <u32>worker < workerHigh; worker++) {
    if (isWorker(worker) && workerAt(worker).router == router) workerFree(worker);
  }
  store<u32>(routerTracksAt(router), ROUTER_FREE | routerFreeHead);
  routerFreeHead = <u32>router + 1;
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
  w.tracks = 0;
  w.idBytes = 0;
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

/** Slots of a worker, newest first, that trackSlot compares before it hashes the id. */
// @ts-ignore: decorator
@inline const SCAN_TRACKS: u32 = 4;

// @ts-ignore: decorator
@inline function trackHash(worker: i32, bucket: u32, ptr: usize, bytes: u32): u32 {
  return keyHash(TRACKS, worker, bucket, ptr, bytes, 0, 0);
}

/**
 * The slot of (`worker`, `bucket`, track id `[ptr, ptr + bytes)`), created (zeroed) on first
 * use. -1 when `worker` is not open or memory is exhausted; STATUS_WORKER_TRACKS,
 * STATUS_ROUTER_TRACKS or STATUS_WORKER_ID_BYTES when a new track would pass a bound.
 */
export function trackSlot(worker: i32, bucket: u32, ptr: usize, bytes: u32): i32 {
  if (!isOpenWorker(worker)) return -1;
  const w = workerAt(worker);
  // A participant has a handful of tracks: its newest SCAN_TRACKS slots are compared directly,
  // which costs less than hashing the id; past them the keyed table answers, so a worker with
  // many tracks (or ids chosen to collide) costs a bounded scan more, never a long one.
  let scanned = w.head;
  for (let i: u32 = 0; i < SCAN_TRACKS && scanned >= 0; i++) {
    const meta = metaAddress(<u32>scanned);
    if (
      load<u32>(meta + META_BUCKET) == bucket && load<u32>(meta + META_TRACK_BYTES) == bytes &&
      bytesEqual(load<u32>(meta + META_TRACK_PTR), ptr, bytes)
    ) return scanned;
    scanned = load<i32>(meta + META_NEXT);
  }
  let hash = trackHash(worker, bucket, ptr, bytes);
  // with every live slot of the worker scanned, the id is new: no lookup
  if (w.tracks > SCAN_TRACKS) {
    const found = find(TRACKS, hash, worker, bucket, ptr, bytes, 0, 0);
    if (found >= 0) return found;
  }
  if (w.tracks >= maxWorkerTracks) return STATUS_WORKER_TRACKS;
  if (w.router >= 0 && load<u32>(routerTracksAt(w.router)) >= maxRouterTracks) return STATUS_ROUTER_TRACKS;
  if (<u64>w.idBytes + bytes > <u64>maxWorkerIdBytes) return STATUS_WORKER_ID_BYTES;
  const k0 = TRACKS.k0;
  if (!reserve(TRACKS)) return -1;
  // a rebuild may have rekeyed the table
  if (TRACKS.k0 != k0) hash = trackHash(worker, bucket, ptr, bytes);
  // a long id gets a block of its own; a short one is copied into the meta once it exists
  let copy: usize = 0;
  if (<usize>bytes > META_INLINE_BYTES) {
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
  if (copy == 0) {
    copy = meta + META_INLINE;
    memory.copy(copy, ptr, <usize>bytes);
  }
  store<i32>(meta + META_WORKER, worker);
  store<u32>(meta + META_BUCKET, bucket);
  store<u32>(meta + META_TRACK_PTR, <u32>copy);
  store<u32>(meta + META_TRACK_BYTES, bytes);
  w.tracks++;
  w.idBytes += bytes;
  if (w.router >= 0) {
    const count = routerTracksAt(w.router);
    store<u32>(count, load<u32>(count) + 1);
  }
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
  const w = workerAt(worker);
  if (prev >= 0) store<i32>(metaAddress(<u32>prev) + META_NEXT, next);
  else w.head = next;
  if (next >= 0) store<i32>(metaAddress(<u32>next) + META_PREV, prev);
  const trackPtr = <usize>load<u32>(meta + META_TRACK_PTR);
  w.tracks--;
  w.idBytes -= load<u32>(meta + META_TRACK_BYTES);
  if (w.router >= 0) {
    const count = routerTracksAt(w.router);
    store<u32>(count, load<u32>(count) - 1);
  }
  remove(TRACKS, trackHash(worker, load<u32>(meta + META_BUCKET), trackPtr, load<u32>(meta + META_TRACK_BYTES)), <u32>slot);
  if (trackPtr != meta + META_INLINE) blockFree(trackPtr);
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
