// Batch ingest: one buffer of size-delimited AnalyticsStat messages, each routed by its own
// room_id, participant_id, track_id and kind to its worker's track slot, with no host call per
// message. A malformed message is skipped and counted (the first one is reported); a broken
// length prefix ends the batch there.

import { decodeFold, foldDecodedInto, reserveDecoded } from "./decode";
import { infoPtr } from "./input";
import {
  BATCH_DROPPED, BATCH_ERROR_INDEX, BATCH_ERROR_OFFSET, BATCH_FRAMING, BATCH_INVALID,
  BATCH_INVALID_SLOTS, BATCH_LISTED, BATCH_MALFORMED, BATCH_MAX_INVALID_LISTED,
  BATCH_MAX_MESSAGE_BYTES, BATCH_MESSAGES, BATCH_REFUSED, BATCH_SIZE, BATCH_STATS_IN, BATCH_STATUS, INFO_KIND,
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
 */
export function ingestBatch(ptr: usize, bytes: u32, router: i32, dropAll: i32): i32 {
  zero8(RESULT, BATCH_SIZE);
  if (<u64>ptr + <u64>bytes > (<u64>memory.size() << 16)) {
    failOnce(STATUS_TRUNCATED, 0, 0);
    store<u32>(RESULT + BATCH_FRAMING, 1);
    return STATUS_TRUNCATED;
  }
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
    if (!ok) {
      failOnce(pos >= end ? STATUS_TRUNCATED : STATUS_BAD_VARINT, index, <u32>(start - ptr));
      store<u32>(RESULT + BATCH_FRAMING, 1);
      break;
    }
    if (<u64>pos + length > <u64>end) {
      failOnce(STATUS_TRUNCATED, index, <u32>(start - ptr));
      store<u32>(RESULT + BATCH_FRAMING, 1);
      break;
    }
    const message = pos;
    pos += <usize>length;
    bump(BATCH_MESSAGES);
    const status = length > <u64>BATCH_MAX_MESSAGE_BYTES ? STATUS_MESSAGE_TOO_LARGE : decodeFold(message, <u32>length, -1);
    if (status < 0) {
      bump(BATCH_MALFORMED);
      failOnce(status, index, <u32>(start - ptr));
      index++;
      continue;
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
      bump(BATCH_DROPPED);
      continue;
    }
    // DOWNSTREAM when kind is 1, UPSTREAM for 0 and every other value (as onTrackStat)
    const bucket: u32 = load<i32>(info + INFO_KIND) == 1 ? 1 : 0;
    const slot = trackSlot(worker, bucket, load<u32>(info + INFO_TRACK_ID_PTR), load<u32>(info + INFO_TRACK_ID_BYTES));
    if (slot < -1) {
      // a bound refused the new track: this stat only, the batch goes on
      bump(BATCH_REFUSED);
      continue;
    }
    if (slot < 0) {
      failOnce(STATUS_OUT_OF_MEMORY, index - 1, <u32>(start - ptr));
      break;
    }
    // livekit-current: a window over its score bound refuses the stat like a message over a bound
    const reserved = reserveDecoded(slot);
    if (reserved < 0) {
      bump(BATCH_MALFORMED);
      failOnce(reserved, index - 1, <u32>(start - ptr));
      continue;
    }
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
  return load<i32>(RESULT + BATCH_STATUS);
}
