/**
 * The TelemetryService side of `statsworker aggregate`: windows by capture time, and the
 * participants' workers joined, closed and reaped as capture time advances, as a live service
 * would see them.
 *
 * A capture holds stats, not joins and leaves, so these are inferred: a participant joins when
 * its first stat is seen (its room name from that stat), is taken to have left when a whole
 * window passes without a stat from it (its worker is closed at that window's end), and is reaped
 * by the service's cleanup once it has been closed for more than `closeWaitMs`. A later stat from
 * a participant that was closed joins it again, so no stat of the capture is dropped.
 *
 * @module
 */
import type { Engine } from "../engine/engine.ts";
import { HAS_PENDING, INGEST_WINDOW, TelemetryService } from "../telemetry-service.ts";
import { IdTable } from "./id-table.ts";
import { MAX_DATE_MS } from "./scan.ts";
import type { WindowSink } from "./window-sink.ts";

interface Participant {
  readonly roomId: string;
  readonly participantId: string;
  /** start of the last window a stat of it was seen in, in ms */
  lastWindow: number;
  /** capture time its worker was closed at, or -1 while open */
  closedAt: number;
  /** its entry in the id table */
  handle: number;
}

/** Where a record's ids are: byte ranges of one buffer (UTF-8, as on the wire). */
export interface IdRanges {
  buf: Uint8Array;
  roomIdStart: number;
  roomIdEnd: number;
  participantIdStart: number;
  participantIdEnd: number;
}

const encoder = new TextEncoder();

/** The {@link IdRanges} of ids given as strings. */
export function idRanges(roomId: string, participantId: string): IdRanges {
  const room = encoder.encode(roomId);
  const buf = new Uint8Array(room.length + participantId.length * 3);
  buf.set(room);
  const { written } = encoder.encodeInto(participantId, buf.subarray(room.length));
  return { buf, roomIdStart: 0, roomIdEnd: room.length, participantIdStart: room.length, participantIdEnd: room.length + written };
}

/** Options of {@link Replay}. */
export interface ReplayOptions {
  engine: Engine;
  sink: WindowSink;
  /** window length in ms */
  windowMs: number;
  /** how long a closed worker stays registered, in ms; default 180 000 (the service's default) */
  closeWaitMs?: number;
}

/** What {@link Replay.ingestWindow} took: messages, and bytes from the start of the buffer. */
export interface Taken {
  readonly messages: number;
  readonly bytes: number;
}

/** Joins, windows and reaps for a replayed capture; the caller ingests the stats themselves. */
export class Replay {
  readonly service: TelemetryService;
  /** start of the current window in ms, or undefined before the first stat */
  current: number | undefined = undefined;
  /** windows ended */
  windows = 0;
  /** stats that belonged to an already ended window (aggregated into the current one) */
  late = 0;
  /** workers created, rejoins included */
  joins = 0;
  /** workers closed because their participant sent nothing for a window */
  idleCloses = 0;
  /** workers reaped by the service's cleanup */
  reaped = 0;
  private clockMs = 0;
  private clockDate = new Date(0);
  // by id-table handle: the window an open participant was last seen in, NaN otherwise
  private seen = new Float64Array(1024).fill(Number.NaN);
  private readonly table = new IdTable<Participant>();
  private readonly participants = new Set<Participant>();
  private readonly sink: WindowSink;
  private readonly windowMs: number;
  private readonly closeWaitMs: number;

  constructor(options: ReplayOptions) {
    this.sink = options.sink;
    this.windowMs = options.windowMs;
    this.closeWaitMs = options.closeWaitMs ?? 180_000;
    this.service = new TelemetryService({
      engine: options.engine,
      reporter: options.sink.reporter,
      closeWaitMs: this.closeWaitMs,
      // every worker reads the clock at every flush: one Date per clock value, not per worker
      // (nothing here mutates a Date it is given)
      now: () => (this.clockDate.getTime() === this.clockMs ? this.clockDate : (this.clockDate = new Date(this.clockMs))),
    });
  }

  /** Participants the replay knows (open or closed, not yet reaped). */
  get participantCount(): number {
    return this.table.size;
  }

  /**
   * The window `ms` falls in, as its start; the caller ends the current window first with
   * {@link endWindow} when this is later than {@link current}.
   */
  windowOf(ms: number): number {
    return Math.floor(ms / this.windowMs) * this.windowMs;
  }

  /**
   * Notes a stat of window `start` (counted late when that window has ended) and makes sure
   * its participant, whose ids are at `ids`, has an open worker; `identity` gives the ids as
   * strings and the room name for a join (it may throw, and then nothing has changed).
   */
  admit(start: number, ids: IdRanges, identity: () => { roomId: string; roomName: string; participantId: string }): void {
    const h = this.table.find(ids.buf, ids.roomIdStart, ids.roomIdEnd, ids.participantIdStart, ids.participantIdEnd);
    // the common case: an open worker already seen in the current window. A typed array by
    // handle, not the Participant object: that object is a cache miss per record
    if (h >= 0 && this.seen[h] === start && start === this.current) return;
    this.admitSlow(start, ids, h < 0 ? undefined : this.table.value(h), identity);
  }

  private admitSlow(
    start: number,
    ids: IdRanges,
    found: Participant | undefined,
    identity: () => { roomId: string; roomName: string; participantId: string },
  ): void {
    const current = this.current ?? start;
    let p = found;
    if (p === undefined || p.closedAt >= 0) {
      const { roomId, roomName, participantId } = identity();
      this.clockMs = current;
      this.service.participantJoined({ sid: roomId, name: roomName }, { sid: participantId, identity: "" });
      this.joins++;
      if (p === undefined) {
        p = { roomId, participantId, lastWindow: current, closedAt: -1, handle: -1 };
        p.handle = this.table.set(ids.buf, ids.roomIdStart, ids.roomIdEnd, ids.participantIdStart, ids.participantIdEnd, p);
        this.participants.add(p);
      } else {
        p.closedAt = -1;
      }
    }
    if (this.current === undefined) this.current = start;
    else if (start < this.current) this.late++;
    p.lastWindow = current;
    // open, and seen in the current window: admit's fast path from now on, until the window ends
    if (p.handle >= this.seen.length) {
      const seen = new Float64Array(Math.max(p.handle + 1, this.seen.length * 2)).fill(Number.NaN);
      seen.set(this.seen);
      this.seen = seen;
    }
    this.seen[p.handle] = current;
  }

  /**
   * Ingests the size-delimited records of `bytes` that need nothing of the replay (each has its
   * routing fields, an open worker and a time stamp no later than the current window, and is
   * well-formed), up to the first that does, which the caller then takes through
   * {@link admit}; that record is where `bytes` of the result ends. Records of an ended window
   * are aggregated into the current one and counted late, as {@link admit} does. Only with a
   * current window.
   */
  ingestWindow(bytes: Uint8Array): Taken {
    const current = this.current!;
    // a window's end must be a valid Date too (aggregate's windowStart)
    const maxMs = MAX_DATE_MS - this.windowMs;
    const r = this.service[INGEST_WINDOW](bytes, {
      fromMs: -maxMs,
      untilMs: Math.min(current + this.windowMs, maxMs + 1),
      lateBeforeMs: current,
    });
    this.late += r.late;
    return { messages: r.messages, bytes: r.taken };
  }

  /**
   * Ends the current window: flushes every worker with the clock at the window's end (the time
   * stamp of its output), writes the output, closes the workers of participants that sent nothing
   * in it, reaps the ones closed long enough, and moves on to the window starting at `next`.
   */
  async endWindow(next: number | undefined): Promise<void> {
    if (this.current === undefined) return;
    const end = this.current + this.windowMs;
    // the stats ingestWindow took did not go through admit: a participant with some waiting for
    // this flush was seen in the window too (read before the flush takes them)
    for (const p of this.participants) {
      if (p.closedAt < 0 && p.lastWindow < this.current && this.service[HAS_PENDING](p.roomId, p.participantId)) p.lastWindow = this.current;
    }
    this.clockMs = end;
    this.service.flush();
    this.windows++;
    await this.sink.writeWindow();
    for (const p of this.participants) {
      if (p.closedAt < 0 && p.lastWindow < this.current) {
        // flushed just above: the close reports nothing
        this.service.participantLeft(p.roomId, p.participantId);
        p.closedAt = end;
        this.seen[p.handle] = Number.NaN;
        this.idleCloses++;
      } else if (p.closedAt >= 0 && end - p.closedAt > this.closeWaitMs) {
        this.participants.delete(p);
        this.table.delete(p.handle);
        // the handle may be given to a new participant
        this.seen[p.handle] = Number.NaN;
        this.reaped++;
      }
    }
    this.service.cleanupWorkers();
    this.current = next;
  }
}
