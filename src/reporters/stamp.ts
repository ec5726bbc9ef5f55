/**
 * Stamping `node` and unique ids into an encoded `AnalyticsStats` batch without decoding it.
 *
 * A network reporter receives the engine's batch as bytes (`reportBytes`) and must send every stat
 * with the node that produced it and an id the receiver can de-duplicate by, as LiveKit's
 * `SendStats` does. Building message objects for that would throw away the point of the engine's
 * zero-object path, so the fields are spliced into each stat's encoding instead: in protobuf, a
 * singular field that appears again overrides the earlier value, so appending `node` (field 4) and
 * `id` (field 14) to a stat's bytes and re-writing its length prefix gives exactly the stat with
 * those two fields set.
 *
 * @module
 */
import { DecodeError } from "../errors.ts";
import { STAT_ID_LENGTH, writeStatIdInto } from "./stat-id.ts";

/** Options of {@link stampBatch}. */
export interface StampOptions {
  /**
   * Written into `node` of every stat, replacing what it had. Default: none, `node` is left as
   * it is in each stat.
   */
  node?: string;
  /**
   * Makes the id of a stat that has none. Default: {@link newStatId}'s ids (`"AS_"` and 12 base62
   * characters), written straight into the output without building strings.
   */
  newId?: () => string;
}

/** The result of {@link stampBatch}. */
export interface StampedBatch {
  /** the stamped batch: one encoded `AnalyticsStats`, a fresh buffer owned by the caller */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** number of stats in it */
  readonly stats: number;
}

// AnalyticsStats.stats = 1 (length-delimited), AnalyticsStat.node = 4, AnalyticsStat.id = 14.
const TAG_STATS = 0x0a;
const TAG_NODE = 0x22;
const TAG_ID = 0x72;
// protobuf-es's recursion limit (100) less the depth of the message holding the group: groups in
// AnalyticsStats (depth 1) nest at most 99 deep, groups in an AnalyticsStat (depth 2) 98.
const BATCH_GROUP_BUDGET = 99;
const STAT_GROUP_BUDGET = 98;

// How protobuf-es reads each known AnalyticsStat field: by its declared type, whatever wire type
// the tag says. 0 varint (kind), 5 fixed32 (the float scores), 2 length-delimited (the rest).
const STAT_FIELD_WIRE_TYPES = [-1, 2, 0, 2, 2, 2, 2, 2, 2, 5, 2, 2, 5, 5, 2];

// Segments of the batch found by the scan, STRIDE int32 each: kind, start, end, kept id length,
// and where the segment's field began (its tag).
// A module-level scratch that only grows: stamping a 10 000-stat batch allocates no per-stat
// objects. Safe because stampBatch is synchronous and does not re-enter itself.
const KIND_STAT = 0;
const KIND_RAW = 1;
const STRIDE = 5;
let segments = new Int32Array(STRIDE * 1024);

// Cursor of the scan, shared by the helpers below for the same reason.
let pos = 0;

const encoder = new TextEncoder();
let lastNode: string | undefined;
let lastNodeBytes = new Uint8Array(0);

/**
 * Returns a copy of one encoded `AnalyticsStats` in which every stat carries `node` (when the
 * option is given) and a unique `id`, without building message objects.
 *
 * A stat that already has a non-empty `id` keeps it, so a batch stamped twice (forwarded by a
 * collector, or retried) keeps its ids and the receiver can still de-duplicate. Fields other than
 * `stats` at the top level are copied unchanged. Each stat's own fields are walked, not decoded:
 * its tags and lengths are checked (a field running past the end of its stat is refused, which
 * protobuf-es tolerates), its values and nested messages are not. A known field is read by its
 * declared type whatever wire type its tag says, as protobuf-es does.
 *
 * @param batch one encoded `AnalyticsStats` message; read during the call only
 * @throws {DecodeError} when the batch or a stat's field structure is malformed (a truncated
 *   field, a bad tag or varint, an unbalanced or too deep group); `index` names the stat
 */
export function stampBatch(batch: Uint8Array, options: StampOptions = {}): StampedBatch {
  const size = scanBatch(batch, options);
  const out = new Uint8Array(size);
  writeScanned(batch, out, 0, size);
  return { bytes: out, stats: scanStats };
}

/**
 * Stamped batches appended into one reusable buffer: what a network reporter accumulates between
 * two sends, so that stamping the 10 000 batches of a flush allocates one buffer, not 10 000.
 *
 * {@link StampBuffer.add} stamps as {@link stampBatch} does; {@link StampBuffer.take} hands over
 * what was added (one valid `AnalyticsStats`, the batches concatenated) without copying it, and
 * starts a new buffer; {@link StampBuffer.recycle} gives a taken buffer back once nothing reads
 * it, so a steady reporter writes every window into the same two or three buffers instead of
 * allocating (and making V8 collect, for their external memory) one per window.
 */
export class StampBuffer {
  #bytes = new Uint8Array(0);
  #length = 0;
  #stats = 0;
  #batches = 0;
  // Taken buffers given back, newest last; at most SPARES, each within twice the limit.
  readonly #spares: Uint8Array<ArrayBuffer>[] = [];

  /**
   * @param limit bytes after which {@link add} refuses a batch, unless the buffer is empty
   * @param options what to stamp, see {@link StampOptions}
   * @param maxStats stats after which {@link add} refuses a batch, unless the buffer is empty. Default: `Infinity`.
   * @param maxBatches batches after which {@link add} refuses one. Default: `Infinity`.
   */
  constructor(
    readonly limit: number,
    readonly options: StampOptions = {},
    readonly maxStats = Infinity,
    readonly maxBatches = Infinity,
  ) {}

  /** bytes held */
  get length(): number {
    return this.#length;
  }

  /** stats held */
  get stats(): number {
    return this.#stats;
  }

  /** batches added since the last {@link take} */
  get batches(): number {
    return this.#batches;
  }

  /**
   * Stamps one encoded `AnalyticsStats` and appends it. Returns `false`, adding nothing, when the
   * buffer is not empty and the stamped batch would take it past `limit`, `maxStats` or
   * `maxBatches`.
   *
   * @throws {DecodeError} as {@link stampBatch} does; nothing is added then
   */
  add(batch: Uint8Array): boolean {
    const size = scanBatch(batch, this.options);
    const stats = scanStats;
    if (!this.#room(size, stats)) return false;
    writeScanned(batch, this.#bytes, this.#length, size);
    this.#appended(size, stats);
    return true;
  }

  /**
   * Appends a batch that a StatsWorker's engine already stamped as this buffer's options say
   * (`node`, and a new id in every stat), as it is: one copy, no walk. Returns `false` as
   * {@link add} does.
   *
   * @param stats the number of stats in `batch`, which the engine counted
   */
  addStamped(batch: Uint8Array, stats: number): boolean {
    if (!this.#room(batch.length, stats)) return false;
    this.#bytes.set(batch, this.#length);
    this.#appended(batch.length, stats);
    return true;
  }

  // whether a batch of `size` bytes and `stats` stats may be added, with the room made for it
  #room(size: number, stats: number): boolean {
    if (
      this.#batches > 0 &&
      (this.#length + size > this.limit || this.#stats + stats > this.maxStats || this.#batches + 1 > this.maxBatches)
    ) {
      return false;
    }
    if (this.#length + size > this.#bytes.length) {
      const wanted = this.#length + size;
      let grown = this.#length === 0 ? this.#spare(wanted) : undefined;
      if (grown === undefined) {
        grown = new Uint8Array(Math.max(wanted, this.#bytes.length * 2, Math.min(this.limit, 64 * 1024), 4096));
        grown.set(this.#bytes.subarray(0, this.#length));
      }
      this.#bytes = grown;
    }
    return true;
  }

  #appended(size: number, stats: number): void {
    this.#length += size;
    this.#stats += stats;
    this.#batches++;
  }

  /**
   * Hands over what was added, without copying, and empties the buffer: the bytes are the
   * caller's until it gives them back with {@link recycle} (or forever, if it never does).
   */
  take(): { bytes: Uint8Array<ArrayBuffer>; stats: number; batches: number } {
    const taken = { bytes: this.#bytes.subarray(0, this.#length), stats: this.#stats, batches: this.#batches };
    this.#bytes = new Uint8Array(0);
    this.#length = 0;
    this.#stats = 0;
    this.#batches = 0;
    return taken;
  }

  /**
   * Gives back bytes {@link take} handed out, for a later batch to be written into: the caller
   * must not read them any more. Bytes from elsewhere, a buffer grown past twice `limit` by one
   * huge batch, or more than a few spares are let go instead.
   */
  recycle(bytes: Uint8Array<ArrayBuffer>): void {
    const buffer = bytes.buffer;
    if (bytes.byteOffset !== 0 || buffer.byteLength > 2 * Math.max(this.limit, 4096) || this.#spares.length >= SPARES) return;
    if (buffer === this.#bytes.buffer || this.#spares.some((s) => s.buffer === buffer)) return;
    this.#spares.push(new Uint8Array(buffer));
  }

  /** A given-back buffer of at least `size` bytes, if there is one. */
  #spare(size: number): Uint8Array<ArrayBuffer> | undefined {
    for (let i = this.#spares.length - 1; i >= 0; i--) {
      const s = this.#spares[i]!;
      if (s.length < size) continue;
      this.#spares.splice(i, 1);
      return s;
    }
    return undefined;
  }
}

// Spare buffers a StampBuffer keeps: one being filled, one queued, one being sent is the steady
// state of a reporter whose endpoint keeps up.
const SPARES = 3;

// What scanBatch found, for writeScanned: module state again, as `segments`.
let scanCount = 0;
// Whether no segment is shorter stamped than it came, which lets writeScanned copy in place.
let scanGrows = true;
let scanStats = 0;
let scanNodeBytes: Uint8Array | undefined;
let scanNodeField = 0;
let scanIds: Uint8Array[] | undefined;

/** Walks the batch into `segments` and returns the stamped size; writeScanned writes it. */
function scanBatch(batch: Uint8Array, options: StampOptions): number {
  const end = batch.length;
  let count = 0; // segments
  let stats = 0;
  pos = 0;
  while (pos < end) {
    const fieldStart = pos;
    const tag = readTag(batch, end, stats);
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (count * STRIDE + STRIDE > segments.length) {
      const grown = new Int32Array(segments.length * 2);
      grown.set(segments);
      segments = grown;
    }
    const s = count * STRIDE;
    if (field === 1) {
      // Read as a message whatever the wire type says, as protobuf-es does; the output gets a
      // canonical tag, which protobuf-es reads the same way.
      const length = readVarint32(batch, end, stats);
      const start = pos;
      if (length > end - start) throw new DecodeError("truncated", fieldStart, { detail: "stat length past the end", index: stats });
      const statEnd = start + length;
      segments[s] = KIND_STAT;
      segments[s + 1] = start;
      segments[s + 2] = statEnd;
      segments[s + 3] = scanStat(batch, statEnd, stats);
      segments[s + 4] = fieldStart;
      pos = statEnd;
      stats++;
    } else {
      skipField(batch, end, field, wireType, fieldStart, stats, BATCH_GROUP_BUDGET);
      segments[s] = KIND_RAW;
      segments[s + 1] = fieldStart;
      segments[s + 2] = pos;
      segments[s + 3] = 0;
      segments[s + 4] = fieldStart;
    }
    count++;
  }

  const node = options.node;
  let nodeBytes: Uint8Array | undefined;
  if (node !== undefined) {
    if (node !== lastNode) {
      lastNodeBytes = encoder.encode(node);
      lastNode = node;
    }
    nodeBytes = lastNodeBytes;
  }
  const nodeField = nodeBytes === undefined ? 0 : 1 + varintSize(nodeBytes.length) + nodeBytes.length;
  const newId = options.newId;
  // Custom ids are encoded up front (they may be any length); the default ones have a fixed size.
  const ids: Uint8Array[] | undefined = newId === undefined ? undefined : [];

  let size = 0;
  let grows = true;
  for (let i = 0; i < count; i++) {
    const s = i * STRIDE;
    const length = segments[s + 2]! - segments[s + 1]!;
    if (segments[s] === KIND_RAW) {
      size += length;
      continue;
    }
    let added = nodeField;
    if (segments[s + 3] === 0) {
      if (ids === undefined) added += 2 + STAT_ID_LENGTH;
      else {
        const id = encoder.encode(newId!());
        ids.push(id);
        added += 1 + varintSize(id.length) + id.length;
      }
    }
    const out = 1 + varintSize(length + added) + length + added;
    // Over-long input headers and nothing stamped can make a stat shorter than it came.
    if (out < segments[s + 2]! - segments[s + 4]!) grows = false;
    size += out;
  }
  scanGrows = grows;
  scanCount = count;
  scanStats = stats;
  scanNodeBytes = nodeBytes;
  scanNodeField = nodeField;
  scanIds = ids;
  return size;
}

/**
 * Writes the batch last scanned, stamped, into `out` at `offset` (`size` bytes, as scanBatch
 * returned); returns the offset after it.
 *
 * The whole batch is first copied to the end of the region in one set(), then each segment is
 * moved into place with copyWithin(): no object per stat. That is safe because every segment
 * grows or keeps its length, so the write position never passes the next segment not yet moved.
 */
function writeScanned(batch: Uint8Array, out: Uint8Array, offset: number, size: number): number {
  const inPlace = scanGrows;
  const base = offset + size - batch.length;
  if (inPlace) out.set(batch, base);
  const count = scanCount;
  const nodeBytes = scanNodeBytes;
  const nodeField = scanNodeField;
  const ids = scanIds;
  let o = offset;
  let nextId = 0;
  for (let i = 0; i < count; i++) {
    const s = i * STRIDE;
    const start = segments[s + 1]!;
    const segmentEnd = segments[s + 2]!;
    const length = segmentEnd - start;
    if (segments[s] === KIND_RAW) {
      o = inPlace ? moveWithin(out, o, base + start, base + segmentEnd) : copyInto(out, o, batch, start, segmentEnd);
      continue;
    }
    const id = segments[s + 3] !== 0 ? undefined : ids === undefined ? null : ids[nextId++]!;
    let added = nodeField;
    if (id === null) added += 2 + STAT_ID_LENGTH;
    else if (id !== undefined) added += 1 + varintSize(id.length) + id.length;
    out[o++] = TAG_STATS;
    o = writeVarint(out, o, length + added);
    o = inPlace ? moveWithin(out, o, base + start, base + segmentEnd) : copyInto(out, o, batch, start, segmentEnd);
    if (nodeBytes !== undefined) {
      out[o++] = TAG_NODE;
      o = writeVarint(out, o, nodeBytes.length);
      out.set(nodeBytes, o);
      o += nodeBytes.length;
    }
    if (id === null) {
      out[o++] = TAG_ID;
      out[o++] = STAT_ID_LENGTH;
      o = writeStatIdInto(out, o);
    } else if (id !== undefined) {
      out[o++] = TAG_ID;
      o = writeVarint(out, o, id.length);
      out.set(id, o);
      o += id.length;
    }
  }
  return o;
}

/**
 * Concatenates encoded `AnalyticsStats` messages into one buffer, which is itself one valid
 * `AnalyticsStats` holding all their stats in order (repeated fields append).
 */
export function concatBatches(batches: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (batches.length === 1) return batches[0]!.slice() as Uint8Array<ArrayBuffer>;
  let size = 0;
  for (const b of batches) size += b.length;
  const out = new Uint8Array(size);
  let o = 0;
  for (const b of batches) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/**
 * Walks the fields of one stat in `batch[pos, end)`, checking its structure; returns the length
 * of the last `id` it holds (0 when it has none, or an empty one).
 */
function scanStat(b: Uint8Array, end: number, index: number): number {
  let idLength = 0;
  // A local cursor, and one-byte tags and lengths (nearly all of them) read inline: this loop
  // runs for every field of every stat a reporter sends.
  let p = pos;
  while (p < end) {
    const fieldStart = p;
    let tag = b[p]!;
    if (tag < 0x80 && tag >= 8 && (tag & 7) <= 5) p++;
    else {
      pos = p;
      tag = readTag(b, end, index);
      p = pos;
    }
    const field = tag >>> 3;
    const declared = field < STAT_FIELD_WIRE_TYPES.length ? STAT_FIELD_WIRE_TYPES[field]! : -1;
    if (declared === 2) {
      let length: number;
      if (p < end && b[p]! < 0x80) length = b[p++]!;
      else {
        pos = p;
        length = readVarint32(b, end, index);
        p = pos;
      }
      if (length > end - p) throw new DecodeError("truncated", fieldStart, { index });
      p += length;
      if (field === 14) idLength = length;
    } else if (declared === 0) {
      if (p < end && b[p]! < 0x80) p++;
      else {
        pos = p;
        readVarint32(b, end, index);
        p = pos;
      }
    } else if (declared === 5) {
      if (4 > end - p) throw new DecodeError("truncated", fieldStart, { index });
      p += 4;
    } else {
      pos = p;
      skipField(b, end, field, tag & 7, fieldStart, index, STAT_GROUP_BUDGET);
      p = pos;
    }
  }
  pos = p;
  return idLength;
}

/** Moves `pos` past the value of one field whose tag has been read. */
function skipField(
  b: Uint8Array,
  end: number,
  field: number,
  wireType: number,
  fieldStart: number,
  index: number,
  budget: number,
): void {
  switch (wireType) {
    case 0:
      readVarint32(b, end, index);
      return;
    case 1:
    case 5: {
      const width = wireType === 1 ? 8 : 4;
      if (width > end - pos) throw new DecodeError("truncated", fieldStart, { index });
      pos += width;
      return;
    }
    case 2: {
      const length = readVarint32(b, end, index);
      if (length > end - pos) throw new DecodeError("truncated", fieldStart, { index });
      pos += length;
      return;
    }
    case 3: {
      if (budget <= 0) throw new DecodeError("too_deep", fieldStart, { index });
      for (;;) {
        if (pos >= end) throw new DecodeError("truncated", fieldStart, { detail: "group never closed", index });
        const innerStart = pos;
        const tag = readTag(b, end, index);
        const innerField = tag >>> 3;
        const innerWireType = tag & 7;
        if (innerWireType === 4) {
          if (innerField !== field) throw new DecodeError("bad_group", innerStart, { index });
          return;
        }
        skipField(b, end, innerField, innerWireType, innerStart, index, budget - 1);
      }
    }
    default:
      // 4: an end-group with no group open.
      throw new DecodeError("bad_tag", fieldStart, { detail: `wire type ${wireType}`, index });
  }
}

/**
 * Reads a tag as protobuf-es does: at most 5 bytes that fit in uint32, field number > 0, wire
 * type <= 5.
 */
function readTag(b: Uint8Array, end: number, index: number): number {
  const start = pos;
  const tag = readVarint32(b, end, index);
  const read = pos - start;
  if (read > 5 || (read === 5 && b[pos - 1]! > 0x0f)) {
    throw new DecodeError("bad_varint", start, { detail: "tag overflows uint32", index });
  }
  if (tag >>> 3 === 0) throw new DecodeError("bad_tag", start, { detail: "field number 0", index });
  if ((tag & 7) > 5) throw new DecodeError("bad_tag", start, { detail: `wire type ${tag & 7}`, index });
  return tag;
}

/**
 * Reads a varint of up to 10 bytes at `pos` and returns its low 32 bits, as protobuf-es does for
 * tags and lengths.
 */
function readVarint32(b: Uint8Array, end: number, index: number): number {
  let p = pos;
  let result = 0;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new DecodeError("truncated", pos, { index });
    const byte = b[p++]!;
    if (i < 5) result |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      pos = p;
      return result >>> 0;
    }
  }
  throw new DecodeError("bad_varint", pos, { index });
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5;
}

function writeVarint(out: Uint8Array, o: number, v: number): number {
  while (v >= 0x80) {
    out[o++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[o++] = v;
  return o;
}

function moveWithin(out: Uint8Array, o: number, start: number, end: number): number {
  if (o !== start) out.copyWithin(o, start, end);
  return o + (end - start);
}

function copyInto(out: Uint8Array, o: number, from: Uint8Array, start: number, end: number): number {
  // set() of a subarray (a short-lived object) beats a byte loop from about 32 bytes on; a stat is
  // usually 100-200 bytes (measured on the engine's W2 batches: about 40 % less time per stat).
  if (end - start <= 32) {
    for (let i = start; i < end; i++) out[o++] = from[i]!;
    return o;
  }
  out.set(from.subarray(start, end), o);
  return o + (end - start);
}
