// The livekit-current profile: what LiveKit's coalesce does today (statsworker.go and
// pkg/utils/math.go at livekit/livekit 788d4c35) beyond the 2022 fold.
//
// The instance follows one profile, set once by the host (setProfile). In livekit-current every
// slot has an EXT record beside it (layout.ts): the sorted positive scores for min and median
// (bounded by EXT_MAX_SCORES: past it a stat is refused with PSTATUS_TOO_MANY_SCORES, never
// folded into a wrong median), the last stat's mime, packets_out_of_order and the streams' time
// window in Go time.Time form. Everything else stays in the O(1) slot record.
//
// Go's start/end choice (`startTime.IsZero() || startTime.After(start)`) restarts at the zero
// time, so it is not associative: the decoder notes each stream's times and they are folded into
// the slot one stream after another once the whole message decoded.

import {
  EXT_END_NSEC, EXT_END_SEC, EXT_INLINE_SCORES, EXT_MAX_SCORES, EXT_MEDIAN_SCORE, EXT_MIME_BYTES,
  EXT_MIME_CAP, EXT_MIME_PTR, EXT_MIN_SCORE, EXT_PACKETS_OUT_OF_ORDER, EXT_SCORE_COUNT, EXT_SCORES,
  EXT_SCORES_CAP, EXT_SCORES_PTR, EXT_SIZE, EXT_START_NSEC, EXT_START_SEC, MAX_STREAMS_PER_STAT,
  PSCRATCH_MIME_BYTES, PSCRATCH_MIME_PTR, PSCRATCH_SIZE, PSCRATCH_STREAMS,
  PSCRATCH_STREAM_END_NANOS, PSCRATCH_STREAM_END_SECONDS, PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER,
  PSCRATCH_STREAM_SIZE, PSCRATCH_STREAM_START_NANOS, PSCRATCH_STREAM_START_SECONDS,
  PSTATUS_TOO_MANY_SCORES, SLOT_COUNT, STATUS_OUT_OF_MEMORY,
} from "./layout";
import { blockAlloc, blockCapacity, blockFree } from "./heap";
import { rawAlloc } from "./memory";
import { isLiveSlot, liveSlotAddress } from "./slots";
import { bytesEqual, zero8 } from "./bytes";

let current: bool = false;

/** Selects the rules: 0 the 2022 reference (the default), 1 livekit-current. Call once, before any fold. */
export function setProfile(profile: i32): void {
  current = profile == 1;
}

/** Whether the instance follows livekit-current. */
// @ts-ignore: decorator
@inline export function isCurrent(): bool {
  return current;
}

// ── EXT records, one per slot index, in blocks found through a directory like the slots' ──────

// @ts-ignore: decorator
@inline const EXT_PER_BLOCK_LOG2: u32 = 10;
// slots.ts never hands out more than 11008 blocks of 1024 slots
// @ts-ignore: decorator
@inline const MAX_EXT_BLOCKS: u32 = 11008;
// allocated on first use, so that an instance of the default profile carries none of it
let extDir: usize = 0;

/** Address of `slot`'s EXT record, its block allocated on first use; 0 when memory is exhausted. */
function extAddress(slot: i32): usize {
  const block = <u32>slot >> EXT_PER_BLOCK_LOG2;
  if (block >= MAX_EXT_BLOCKS) return 0;
  if (extDir == 0) {
    extDir = rawAlloc(<u64>MAX_EXT_BLOCKS << 2);
    if (extDir == 0) return 0;
  }
  const entry = extDir + (<usize>block << 2);
  let base = load<usize>(entry);
  if (base == 0) {
    // rawAlloc memory is zeroed: every record starts with no buffers
    base = rawAlloc(<u64>EXT_SIZE << EXT_PER_BLOCK_LOG2);
    if (base == 0) return 0;
    store<usize>(entry, base);
  }
  return base + (<usize>(<u32>slot & ((1 << EXT_PER_BLOCK_LOG2) - 1))) * EXT_SIZE;
}

/**
 * `slot`'s EXT record for the window in progress: reset (buffers kept) when the slot has folded
 * nothing yet this window; 0 when memory is exhausted.
 */
function windowExt(slot: i32): usize {
  const ext = extAddress(slot);
  if (ext != 0 && load<u32>(liveSlotAddress(slot) + SLOT_COUNT) == 0) {
    store<u32>(ext + EXT_SCORE_COUNT, 0);
    store<f32>(ext + EXT_MIN_SCORE, 0);
    store<f32>(ext + EXT_MEDIAN_SCORE, 0);
    store<u32>(ext + EXT_PACKETS_OUT_OF_ORDER, 0);
    // Go's zero time.Time: both ends start there
    store<i64>(ext + EXT_START_SEC, 0);
    store<i64>(ext + EXT_END_SEC, 0);
    store<u32>(ext + EXT_START_NSEC, 0);
    store<u32>(ext + EXT_END_NSEC, 0);
    store<u32>(ext + EXT_MIME_BYTES, 0);
  }
  return ext;
}

// @ts-ignore: decorator
@inline function scoresOf(ext: usize): usize {
  const heap = <usize>load<u32>(ext + EXT_SCORES_PTR);
  return heap != 0 ? heap : ext + EXT_SCORES;
}

/**
 * Makes sure `slot` can take one more stat: room for its score (when `valid` and positive) and
 * for `mimeBytes` of mime. Returns 0, PSTATUS_TOO_MANY_SCORES or STATUS_OUT_OF_MEMORY; on a
 * status nothing of the window changed.
 */
export function reserveExt(slot: i32, valid: bool, score: f32, mimeBytes: u32): i32 {
  const ext = windowExt(slot);
  if (ext == 0) return STATUS_OUT_OF_MEMORY;
  if (valid && score > 0) {
    const count = load<u32>(ext + EXT_SCORE_COUNT);
    if (count >= EXT_MAX_SCORES) return PSTATUS_TOO_MANY_SCORES;
    const heap = <usize>load<u32>(ext + EXT_SCORES_PTR);
    const capacity = heap != 0 ? load<u32>(ext + EXT_SCORES_CAP) : EXT_INLINE_SCORES;
    if (count == capacity) {
      // past the inline scores: a heap block, doubled up to EXT_MAX_SCORES and kept for later windows
      let grown = capacity << 2;
      if (grown > EXT_MAX_SCORES) grown = EXT_MAX_SCORES;
      const block = blockAlloc(<u64>grown << 2);
      if (block == 0) return STATUS_OUT_OF_MEMORY;
      memory.copy(block, scoresOf(ext), <usize>count << 2);
      blockFree(heap);
      store<u32>(ext + EXT_SCORES_PTR, <u32>block);
      store<u32>(ext + EXT_SCORES_CAP, grown);
    }
  }
  if (mimeBytes > load<u32>(ext + EXT_MIME_CAP)) {
    const block = blockAlloc(<u64>mimeBytes);
    if (block == 0) return STATUS_OUT_OF_MEMORY;
    memory.copy(block, <usize>load<u32>(ext + EXT_MIME_PTR), <usize>load<u32>(ext + EXT_MIME_BYTES));
    blockFree(<usize>load<u32>(ext + EXT_MIME_PTR));
    store<u32>(ext + EXT_MIME_PTR, <u32>block);
    store<u32>(ext + EXT_MIME_CAP, <u32>blockCapacity(block));
  }
  return 0;
}

/** Gives back the heap blocks of `slot`'s EXT record (the slot is being freed). */
export function releaseExt(slot: i32): void {
  if (!current) return;
  const block = <u32>slot >> EXT_PER_BLOCK_LOG2;
  if (extDir == 0 || block >= MAX_EXT_BLOCKS || load<usize>(extDir + (<usize>block << 2)) == 0) return;
  const ext = extAddress(slot);
  blockFree(<usize>load<u32>(ext + EXT_SCORES_PTR));
  blockFree(<usize>load<u32>(ext + EXT_MIME_PTR));
  zero8(ext, EXT_SIZE);
}

/**
 * Go `time.Unix(sec, nanos)` folded into the running start (`earlier`) or end at `ext + secAt`:
 * nanos outside [0, 1e9) carry into the seconds, seconds count from 0001-01-01 and wrap as
 * int64; a running value at the zero time is replaced, else the earlier (later) one is kept.
 */
function foldTime(ext: usize, secAt: usize, nsecAt: usize, sec: i64, nanos: i32, earlier: bool): void {
  let s = sec;
  let n = <i64>nanos;
  if (n < 0 || n >= 1_000_000_000) {
    const q = n / 1_000_000_000;
    s += q;
    n -= q * 1_000_000_000;
    if (n < 0) {
      n += 1_000_000_000;
      s--;
    }
  }
  // Go parity: unixToInternal, added with int64 wrap-around
  s += 62_135_596_800;
  const ns = <u32>n;
  const cs = load<i64>(ext + secAt);
  const cn = load<u32>(ext + nsecAt);
  let replace = cs == 0 && cn == 0;
  if (!replace) replace = earlier ? cs > s || (cs == s && cn > ns) : cs < s || (cs == s && cn < ns);
  if (replace) {
    store<i64>(ext + secAt, s);
    store<u32>(ext + nsecAt, ns);
  }
}

/**
 * Folds the profile's part of one stat into `slot` after reserveExt() said yes: the mime (valid
 * or not), and for a valid stat its positive score, its streams' times (`streams` records in
 * the PSCRATCH stream layout at `times`) and packets_out_of_order.
 */
export function foldExt(slot: i32, valid: bool, score: f32, mimePtr: usize, mimeBytes: u32, times: usize, streams: u32): void {
  const ext = windowExt(slot);
  // `stats[len(stats)-1].Mime`: the last stat's, valid or not; copied only when it changed
  const mime = <usize>load<u32>(ext + EXT_MIME_PTR);
  if (mimeBytes != load<u32>(ext + EXT_MIME_BYTES) || !bytesEqual(mime, mimePtr, mimeBytes)) {
    memory.copy(mime, mimePtr, mimeBytes);
    store<u32>(ext + EXT_MIME_BYTES, mimeBytes);
  }
  if (!valid) return;
  // only positive scores count (NaN and -0 do not); kept sorted for the median
  if (score > 0) {
    const scores = scoresOf(ext);
    let i = load<u32>(ext + EXT_SCORE_COUNT);
    store<u32>(ext + EXT_SCORE_COUNT, i + 1);
    while (i > 0 && load<f32>(scores + (<usize>(i - 1) << 2)) > score) {
      store<f32>(scores + (<usize>i << 2), load<f32>(scores + (<usize>(i - 1) << 2)));
      i--;
    }
    store<f32>(scores + (<usize>i << 2), score);
    store<f32>(ext + EXT_MIN_SCORE, load<f32>(scores));
  }
  let ooo = load<u32>(ext + EXT_PACKETS_OUT_OF_ORDER);
  for (let i: u32 = 0; i < streams; i++) {
    const t = times + <usize>i * PSCRATCH_STREAM_SIZE;
    foldTime(ext, EXT_START_SEC, EXT_START_NSEC, load<i64>(t + PSCRATCH_STREAM_START_SECONDS), load<i32>(t + PSCRATCH_STREAM_START_NANOS), true);
    foldTime(ext, EXT_END_SEC, EXT_END_NSEC, load<i64>(t + PSCRATCH_STREAM_END_SECONDS), load<i32>(t + PSCRATCH_STREAM_END_NANOS), false);
    ooo += load<u32>(t + PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER);
  }
  store<u32>(ext + EXT_PACKETS_OUT_OF_ORDER, ooo);
}

/**
 * Address of live slot `slot`'s EXT record with medianScore written (LiveKit `utils.Median`:
 * the middle score, or `(left + right) / 2` in float32 for an even count, 0 for none); 0 when
 * the slot is not live or the instance does not follow livekit-current.
 */
export function slotExtPtr(slot: i32): usize {
  if (!current || !isLiveSlot(slot)) return 0;
  const ext = extAddress(slot);
  if (ext == 0) return 0;
  const n = load<u32>(ext + EXT_SCORE_COUNT);
  const scores = scoresOf(ext);
  let median: f32 = 0;
  if (n % 2 == 1) median = load<f32>(scores + (<usize>(n >> 1) << 2));
  else if (n != 0) median = (load<f32>(scores + (<usize>((n >> 1) - 1) << 2)) + load<f32>(scores + (<usize>(n >> 1) << 2))) / 2;
  store<f32>(ext + EXT_MEDIAN_SCORE, median);
  return ext;
}

// ── the object path: what the host writes beside the scratch record ─────────────────────────

const PSCRATCH: usize = memory.data(<i32>PSCRATCH_SIZE, 16);
let mimeScratch: usize = 0;

/** Address of the PSCRATCH record the host fills with a stat's mime and stream times. */
export function profileScratchPtr(): usize {
  return PSCRATCH;
}

/** A buffer of at least `bytes` for the host to write a stat's mime into; 0 when memory is exhausted. */
export function mimeScratchPtr(bytes: u32): usize {
  if (mimeScratch != 0 && blockCapacity(mimeScratch) >= <u64>bytes) return mimeScratch;
  const block = blockAlloc(<u64>(bytes < 64 ? 64 : bytes));
  if (block == 0) return 0;
  blockFree(mimeScratch);
  mimeScratch = block;
  return block;
}

/** Whether the PSCRATCH streams pass the profile's extra check: packets_out_of_order < 2^31. */
export function scratchStreamsValid(streams: u32): bool {
  for (let i: u32 = 0; i < streams; i++) {
    if ((load<u32>(PSCRATCH + PSCRATCH_STREAMS + <usize>i * PSCRATCH_STREAM_SIZE + PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER) >> 31) != 0) return false;
  }
  return true;
}

/** reserveExt() for the stat in the scratch records. */
export function reserveScratch(slot: i32, valid: bool, score: f32): i32 {
  return reserveExt(slot, valid, score, load<u32>(PSCRATCH + PSCRATCH_MIME_BYTES));
}

/** foldExt() for the stat in the scratch records. */
export function foldScratchExt(slot: i32, valid: bool, score: f32, streams: u32): void {
  foldExt(slot, valid, score, <usize>load<u32>(PSCRATCH + PSCRATCH_MIME_PTR), load<u32>(PSCRATCH + PSCRATCH_MIME_BYTES), PSCRATCH + PSCRATCH_STREAMS, streams);
}

// ── the decoder's notes for one message ──────────────────────────────────────────────────────

/** the times and packets_out_of_order of each stream decoded so far (PSCRATCH stream layout) */
const NOTED: usize = memory.data(<i32>(<usize>MAX_STREAMS_PER_STAT * PSCRATCH_STREAM_SIZE), 16);
/** the stream being decoded */
const STREAM_NOTE: usize = memory.data(<i32>PSCRATCH_STREAM_SIZE, 16);
let notedStreams: u32 = 0;
let noteMimePtr: usize = 0;
let noteMimeBytes: u32 = 0;

/** Starts the notes of a new message. */
export function noteBegin(): void {
  notedStreams = 0;
  noteMimePtr = 0;
  noteMimeBytes = 0;
}

/** Starts a stream: returns the record its times and packets_out_of_order are decoded into. */
export function noteStreamStart(): usize {
  zero8(STREAM_NOTE, PSCRATCH_STREAM_SIZE);
  return STREAM_NOTE;
}

/** Whether the stream just decoded passes the profile's extra check (packets_out_of_order < 2^31). */
export function noteStreamValid(): bool {
  return (load<u32>(STREAM_NOTE + PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER) >> 31) == 0;
}

/** Keeps the stream just decoded (streams past MAX_STREAMS_PER_STAT fail the message anyway). */
export function noteStreamEnd(): void {
  if (notedStreams >= MAX_STREAMS_PER_STAT) return;
  memory.copy(NOTED + <usize>notedStreams * PSCRATCH_STREAM_SIZE, STREAM_NOTE, PSCRATCH_STREAM_SIZE);
  notedStreams++;
}

/** The message's mime field (the last occurrence wins). */
export function noteMime(ptr: usize, bytes: u32): void {
  noteMimePtr = ptr;
  noteMimeBytes = bytes;
}

/** reserveExt() for the message just decoded. */
export function reserveNoted(slot: i32, valid: bool, score: f32): i32 {
  return reserveExt(slot, valid, score, noteMimeBytes);
}

/** foldExt() for the message just decoded. */
export function foldNoted(slot: i32, valid: bool, score: f32): void {
  foldExt(slot, valid, score, noteMimePtr, noteMimeBytes, NOTED, notedStreams);
}
