/**
 * Batch routing for engines that decode with protobuf-es (the ts engine, and the benchmarks'
 * ts-flat): the same framing, counting and errors as the wasm engine's router, in TypeScript.
 *
 * @module
 */
import { badLengthPrefix, inBatch, isDecodeError, isLimitError, isTrackBound } from "../errors.ts";
import { StreamType, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { decodeStat } from "./decode-stat.ts";
import { MAX_INVALID_LISTED, type BatchResult, type BatchRouter, type BatchWindow, type TrackIdentity, type TrackTable } from "./engine.ts";

/** A table's place in a {@link DecodingRouter}, which the table updates as its worker changes. */
export interface Route {
  /** What all the tables of the router hold together, for the per-service bound. */
  readonly service: { tracks: number };
  /** The worker closed: batch stats for it now count as dropped (R5); the route stays. */
  close(): void;
  /** The worker is gone: the route is removed, unless a newer worker of the key took it (Q2). */
  detach(): void;
}

interface Entry {
  readonly table: TrackTable;
  readonly participantId: string;
  open: boolean;
}

/**
 * Frames a buffer of size-delimited `AnalyticsStat` messages (a varint length of at most 5 bytes
 * before each), decodes each with protobuf-es and adds it to the table of its
 * (`room_id`, `participant_id`).
 */
export class DecodingRouter implements BatchRouter {
  // room id -> participant id -> entry; nested maps spare a key string per message
  private readonly routes = new Map<string, Map<string, Entry>>();
  // tracks held by all of the router's tables (TsTrackTable keeps it), for maxTracksPerService
  private readonly service = { tracks: 0 };

  /** Makes `table` the route of its identity's (room id, participant id), replacing an earlier one. */
  attach(identity: TrackIdentity, table: TrackTable): Route {
    const { roomId, participantId } = identity;
    const entry: Entry = { table, participantId, open: true };
    let room = this.routes.get(roomId);
    if (room === undefined) {
      room = new Map();
      this.routes.set(roomId, room);
    }
    room.set(participantId, entry);
    return {
      service: this.service,
      close: () => {
        entry.open = false;
      },
      detach: () => {
        const current = this.routes.get(roomId);
        if (current?.get(participantId) !== entry) return;
        current.delete(participantId);
        if (current.size === 0) this.routes.delete(roomId);
      },
    };
  }

  ingest(bytes: Uint8Array, dropAll: boolean, window?: BatchWindow): BatchResult {
    const result: BatchResult = {
      statsIn: 0,
      invalid: 0,
      dropped: 0,
      malformed: 0,
      refused: 0,
      error: undefined,
      invalidTracks: [],
      messages: 0,
      late: 0,
      taken: bytes.length,
    };
    let pos = 0;
    let index = 0;
    while (pos < bytes.length) {
      const start = pos;
      let length = 0;
      let shift = 0;
      let b: number;
      let framing: "truncated" | "bad_varint" | undefined;
      do {
        if (pos >= bytes.length || shift > 28) {
          framing = pos >= bytes.length ? "truncated" : "bad_varint";
          break;
        }
        b = bytes[pos++]!;
        length += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b & 0x80);
      if (framing === undefined && pos + length > bytes.length) framing = "truncated";
      if (framing !== undefined) {
        if (window !== undefined) result.taken = start;
        else result.error ??= badLengthPrefix(framing, index, start);
        return result;
      }
      const message = bytes.subarray(pos, pos + length);
      pos += length;
      let stat: AnalyticsStat;
      try {
        stat = decodeStat(message);
      } catch (err) {
        if (!isDecodeError(err) && !isLimitError(err)) throw err;
        if (window !== undefined) {
          result.taken = start;
          return result;
        }
        result.messages++;
        result.malformed++;
        result.error ??= inBatch(err, index, start);
        index++;
        continue;
      }
      let ms = 0;
      if (window !== undefined) {
        ms = windowedTimeMs(stat);
        if (!(ms >= window.fromMs && ms < window.untilMs)) {
          result.taken = start;
          return result;
        }
      } else result.messages++;
      index++;
      // T3 (no worker), R5 (a closed worker) and a stopped service drop the stat and count it
      const entry = dropAll ? undefined : this.routes.get(stat.roomId)?.get(stat.participantId);
      if (entry === undefined || !entry.open) {
        if (window !== undefined) {
          result.taken = start;
          return result;
        }
        result.dropped++;
        continue;
      }
      // R1: DOWNSTREAM when kind is DOWNSTREAM, UPSTREAM for every other value
      const bucket = stat.kind === StreamType.DOWNSTREAM ? 1 : 0;
      let valid: boolean;
      try {
        valid = entry.table.add(stat.trackId, bucket, stat);
      } catch (err) {
        // a bound refused the new track: this stat only, the batch goes on
        if (isLimitError(err) && isTrackBound(err.code)) {
          // windowed: its host counts the participant as seen
          if (window !== undefined) {
            result.taken = start;
            return result;
          }
          result.refused++;
          continue;
        }
        // a window that cannot take the stat (livekit-current's score bound) refuses it as malformed
        if (!isLimitError(err)) throw err;
        if (window !== undefined) {
          result.taken = start;
          return result;
        }
        result.malformed++;
        result.error ??= inBatch(err, index - 1, start);
        continue;
      }
      if (window !== undefined) takenOne(result, ms, window);
      result.statsIn++;
      if (!valid) {
        result.invalid++;
        if (result.invalidTracks.length < MAX_INVALID_LISTED) {
          result.invalidTracks.push({ participantId: entry.participantId, trackId: stat.trackId, direction: bucket });
        }
      }
    }
    return result;
  }
}

// Date's range: about 8.64e12 s either side of 1970; past this a time stamp is out of any window
const MAX_WINDOW_SECONDS = 9_000_000_000_000n;

/**
 * A stat's time stamp in ms (`seconds * 1000 + floor(nanos / 1e6)`) as a windowed batch reads
 * it: NaN without every routing field, or out of range.
 */
function windowedTimeMs(stat: AnalyticsStat): number {
  const t = stat.timeStamp;
  if (stat.roomId === "" || stat.participantId === "" || stat.trackId === "" || t === undefined) return Number.NaN;
  if (t.seconds < -MAX_WINDOW_SECONDS || t.seconds > MAX_WINDOW_SECONDS) return Number.NaN;
  return Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
}

function takenOne(result: BatchResult, ms: number, window: BatchWindow): void {
  result.messages++;
  if (ms < window.lateBeforeMs) result.late++;
}
