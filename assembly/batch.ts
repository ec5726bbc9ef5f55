// Batch ingest: one buffer of size-delimited AnalyticsStat messages, each routed by its own
// room_id, participant_id, track_id and kind to its worker's track slot, with no host call per
// message. A malformed message is skipped and counted (the first one is reported); a broken
// length prefix ends the batch there. A windowed batch (a replay's) stops instead where its host
// has something to do.

import { decodeFold, foldDecodedInto, reserveDecoded } from "./decode";
import { infoPtr } from "./input";
import {
  BATCH_DROPPED, BATCH_ERROR_INDEX, BATCH_ERROR_OFFSET, BATCH_FRAMING, BATCH_INVALID,
  BATCH_INVALID_SLOTS, BATCH_LISTED, BATCH_MALFORMED, BATCH_MAX_INVALID_LISTED,
  BATCH_LATE, BATCH_MAX_MESSAGE_BYTES, BATCH_MESSAGES, BATCH_REFUSED, BATCH_SIZE, BATCH_STATS_IN, BATCH_STATUS,
  BATCH_TAKEN, INFO_HAS_TIME, INFO_KIND, INFO_TIME_NANOS, INFO_TIME_SECONDS,
  INFO_PARTICIPANT_ID_BYTES, INFO_PARTICIPANT_ID_PTR, INFO_ROOM_ID_BYTES, INFO_ROOM_ID_PTR,
  INFO_TRACK_ID_BYTES, INFO_TRACK_ID_PTR, STATUS_BAD_VARINT, STATUS_MESSAGE_TOO_LARGE,
  STATUS_OUT_OF_MEMORY, STATUS_TRUNCATED,
} from "./layout";
import { findRoute, isOpenWorker, notePending, trackSlot } from "./registry";
import { bytesEqual, zero8 } from "./bytes";

const RESULT: usize = memory.data(<i32>BATCH_SIZE, 16);

/** Address of the last ingestBatch's result record (BATCH in layout.ts). */
export function batchResultPtr(): usize {
  return RESULT;
}

function failOnce(status: i32, index: u32, offset: u32): void {
  if (load<i32>(RESULT + BATCH_STATUS) != 0) return;
  store<i32>(RESULT + BATCH_STATUS, status);
  store<u32>(RESULT + BATCH_ERROR_INDEX, index);
  store<u32>(RESULT + BATCH_ERROR_OFFSET, offset);
}

// @ts-ignore: decorator
@inline function bump(field: usize): void {
  store<u32>(RESULT + field, load<u32>(RESULT + field) + 1);
}

/**
 * Ingests `[ptr, ptr + bytes)` for `router`; with `dropAll` every well-formed message is counted
 * as dropped (a stopped service). Fills the result record (batchResultPtr()); returns its status:
 * 0, or the status of the first bad message (its index and batch offset are in the record).
 *
 * With `windowed` not 0 it takes messages only while each is one a replay can take without its
 * host, and stops before the first that is not: a broken length prefix, a malformed or
 * over-bound message, one without room_id, participant_id, track_id or time_stamp, one whose
 * time stamp in ms (`seconds * 1000 + floor(nanos / 1e6)`) is outside `[fromMs, untilMs)`, one
 * with no open worker, or one whose new track a bound refuses. Nothing is counted for that
 * message; the record's `taken` says where it starts (the batch's length when every message was
 * taken), and `late` counts the messages taken whose time is before `lateBeforeMs`. Only running
 * out of memory is an error.
 */
export function ingestBatch(
  ptr: usize, bytes: u32, router: i32, dropAll: i32,
  windowed: i32, fromMs: f64, untilMs: f64, lateBeforeMs: f64,
): i32 {
  zero8(RESULT, BATCH_SIZE);
  if (<u64>ptr + <u64>bytes > (<u64>memory.size() << 16)) {
    failOnce(STATUS_TRUNCATED, 0, 0);
    store<u32>(RESULT + BATCH_FRAMING, 1);
    return STATUS_TRUNCATED;
  }
  const window = windowed != 0;
  const info = infoPtr();
  const end = ptr + <usize>bytes;
  // -2: no previous message (a route lookup may give -1, "no worker", which is cached too)
  let lastWorker: i32 = -2;
  let lastRoomPtr: usize = 0;
  let lastRoomBytes: u32 = 0;
  let lastPidPtr: usize = 0;
  let lastPidBytes: u32 = 0;
  let pos = ptr;
  let index: u32 = 0;
  // windowed: where the message being looked at starts, which is where a stop leaves the batch
  let stopAt = end;
  while (pos < end) {
    const start = pos;
    // the length prefix: a varint of at most 5 bytes (a message is at most 4 GiB)
    let length: u64 = 0;
    let shift: u32 = 0;
    let ok = false;
    while (pos < end && shift <= 28) {
      const b = <u32>load<u8>(pos++);
      length |= <u64>(b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0) {
        ok = true;
        break;
      }
    }
    const framing = !ok ? (pos >= end ? STATUS_TRUNCATED : STATUS_BAD_VARINT) : <u64>pos + length > <u64>end ? STATUS_TRUNCATED : 0;
    if (framing != 0) {
      if (window) {
        stopAt = start;
        break;
      }
      failOnce(framing, index, <u32>(start - ptr));
      store<u32>(RESULT + BATCH_FRAMING, 1);
      break;
    }
    const message = pos;
    pos += <usize>length;
    const status = length > <u64>BATCH_MAX_MESSAGE_BYTES ? STATUS_MESSAGE_TOO_LARGE : decodeFold(message, <u32>length, -1);
    // windowed: the stat's time, read once for the window and the late count
    const ms = window && status >= 0 ? windowedTimeMs(info) : 0;
    if (window) {
      if (status < 0 || !(ms >= fromMs && ms < untilMs)) {
        stopAt = start;
        break;
      }
    } else {
      bump(BATCH_MESSAGES);
      if (status < 0) {
        bump(BATCH_MALFORMED);
        failOnce(status, index, <u32>(start - ptr));
        index++;
        continue;
      }
    }
    index++;
    const roomPtr = <usize>load<u32>(info + INFO_ROOM_ID_PTR);
    const roomBytes = load<u32>(info + INFO_ROOM_ID_BYTES);
    const pidPtr = <usize>load<u32>(info + INFO_PARTICIPANT_ID_PTR);
    const pidBytes = load<u32>(info + INFO_PARTICIPANT_ID_BYTES);
    // a participant's stats usually come one after another: the previous message's route is
    // checked byte for byte before the hash table (nothing can change routes during the call)
    let worker: i32;
    if (dropAll != 0) {
      worker = -1;
    } else if (
      lastWorker >= -1 && roomBytes == lastRoomBytes && pidBytes == lastPidBytes &&
      bytesEqual(roomPtr, lastRoomPtr, roomBytes) && bytesEqual(pidPtr, lastPidPtr, pidBytes)
    ) {
      worker = lastWorker;
    } else {
      worker = findRoute(router, roomPtr, roomBytes, pidPtr, pidBytes);
      lastWorker = worker;
      lastRoomPtr = roomPtr;
      lastRoomBytes = roomBytes;
      lastPidPtr = pidPtr;
      lastPidBytes = pidBytes;
    }
    // no worker and a closed worker both drop the stat and count it
    if (worker < 0 || !isOpenWorker(worker)) {
      if (window) {
        stopAt = start;
        break;
      }
      bump(BATCH_DROPPED);
      continue;
    }
    // DOWNSTREAM when kind is 1, UPSTREAM for 0 and every other value (as onTrackStat)
    const bucket: u32 = load<i32>(info + INFO_KIND) == 1 ? 1 : 0;
    const slot = trackSlot(worker, bucket, load<u32>(info + INFO_TRACK_ID_PTR), load<u32>(info + INFO_TRACK_ID_BYTES));
    if (slot < -1) {
      // windowed: its host counts the participant as seen
      if (window) {
        stopAt = start;
        break;
      }
      // a bound refused the new track: this stat only, the batch goes on
      bump(BATCH_REFUSED);
      continue;
    }
    if (slot < 0) {
      failOnce(STATUS_OUT_OF_MEMORY, index - 1, <u32>(start - ptr));
      stopAt = start;
      break;
    }
    // livekit-current: a window over its score bound refuses the stat like a message over a bound
    const reserved = reserveDecoded(slot);
    if (reserved < 0) {
      if (window) {
        stopAt = start;
        break;
      }
      bump(BATCH_MALFORMED);
      failOnce(reserved, index - 1, <u32>(start - ptr));
      continue;
    }
    if (window) takenOne(ms, lateBeforeMs);
    foldDecodedInto(slot);
    notePending(worker);
    bump(BATCH_STATS_IN);
    if (status == 0) {
      const listed = load<u32>(RESULT + BATCH_LISTED);
      if (listed < BATCH_MAX_INVALID_LISTED) {
        store<i32>(RESULT + BATCH_INVALID_SLOTS + (<usize>listed << 2), slot);
        store<u32>(RESULT + BATCH_LISTED, listed + 1);
      }
      bump(BATCH_INVALID);
    }
  }
  store<u32>(RESULT + BATCH_TAKEN, <u32>(stopAt - ptr));
  return load<i32>(RESULT + BATCH_STATUS);
}

// Date's range: about 8.64e12 s either side of 1970; past this a time stamp is out of any window
// @ts-ignore: decorator
@inline const MAX_WINDOW_SECONDS: i64 = 9_000_000_000_000;

/**
 * The decoded stat's time stamp in ms (`seconds * 1000 + floor(nanos / 1e6)`) as a windowed
 * batch reads it: NaN without every routing field, or out of range.
 */
function windowedTimeMs(info: usize): f64 {
  if (
    load<u32>(info + INFO_ROOM_ID_BYTES) == 0 || load<u32>(info + INFO_PARTICIPANT_ID_BYTES) == 0 ||
    load<u32>(info + INFO_TRACK_ID_BYTES) == 0 || load<u32>(info + INFO_HAS_TIME) == 0
  ) return NaN;
  const seconds = load<i64>(info + INFO_TIME_SECONDS);
  if (seconds < -MAX_WINDOW_SECONDS || seconds > MAX_WINDOW_SECONDS) return NaN;
  const nanos = load<i32>(info + INFO_TIME_NANOS);
  let ms = nanos / 1_000_000;
  if (nanos % 1_000_000 < 0) ms--;
  return <f64>(seconds * 1000 + <i64>ms);
}

/** A windowed batch took a stat of time `ms`: counted, and counted late before `lateBeforeMs`. */
function takenOne(ms: f64, lateBeforeMs: f64): void {
  bump(BATCH_MESSAGES);
  if (ms < lateBeforeMs) bump(BATCH_LATE);
}
