/**
 * Capture files: the input stats of a run, replayable by `statsworker aggregate`.
 *
 * Two formats:
 * - `delimited`: size-delimited `AnalyticsStat` messages (a varint byte length before each, as
 *   protobuf-es `sizeDelimitedEncode` and Java's `writeDelimitedTo` write them), each carrying
 *   its own `room_id`, `participant_id`, `track_id`, `kind` and `time_stamp`;
 * - `ndjson`: one proto3-JSON `AnalyticsStat` object per line.
 *
 * Reading goes forward in blocks, over a file by position or over a stream (stdin, a FIFO), so
 * memory stays bounded and a malformed record can be reported with its byte offset.
 *
 * @module
 */
import { fromJsonString } from "@bufbuild/protobuf";
import { createWriteStream, open as openCallback, openSync } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { Socket } from "node:net";
import type { Writable } from "node:stream";
import { isDecodeError, isLimitError, type DecodeError, type LimitError } from "../errors.ts";
import { AnalyticsStatSchema, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { LIMITS, checkLimits } from "../limits.ts";
import { CliError } from "./args.ts";

/** The two capture layouts `aggregate` reads. */
export type CaptureFormat = "delimited" | "ndjson";

/** Bytes read at a time: more than a record may hold (LIMITS.maxMessageBytes plus its prefix). */
export const BLOCK_BYTES = 4 << 20;
// a proto3-JSON stat with LIMITS.maxStreamsPerStat streams of LIMITS.maxLayersPerStream layers
// stays far below this; anything longer is a broken file, not a stat
const MAX_LINE_BYTES = 16 << 20;

/**
 * The bytes of a capture, read forward in blocks: a regular file by position (its size known
 * up front), anything else (stdin, a FIFO, process substitution, a character device) as a stream
 * whose size is known once it ends. Only the current block is held, so memory stays bounded
 * whatever the input's size.
 */
export class ByteSource {
  /** total size in bytes; `Infinity` for a stream until its end has been read */
  size: number;
  private readonly file: FileHandle | undefined;
  private readonly stream: AsyncIterator<Buffer> | undefined;
  private block: Uint8Array = new Uint8Array(0);
  private blockStart = 0;
  // a file's two block buffers: `block` views one, the read-ahead fills the other
  private held: Buffer = Buffer.alloc(0);
  private spare: Buffer = Buffer.alloc(0);
  private ahead: ReadAhead | undefined = undefined;

  private readonly signal: AbortSignal | undefined;
  private aborted: Promise<void> | undefined;

  private constructor(size: number, file: FileHandle | undefined, stream: AsyncIterator<Buffer> | undefined, signal: AbortSignal | undefined) {
    this.size = size;
    this.file = file;
    this.stream = stream;
    this.signal = signal;
  }

  /**
   * Opens `path`, or stdin for `-`. Throws a CliError naming the path when it cannot be read or
   * is a directory. Once `signal` aborts, a stream read that waits for more input returns with
   * what is held (the caller checks why), so Ctrl+C works on a pipe that sends nothing.
   */
  static async open(path: string, signal?: AbortSignal): Promise<ByteSource> {
    if (path === "-") return new ByteSource(Infinity, undefined, (process.stdin as AsyncIterable<Buffer>)[Symbol.asyncIterator](), signal);
    let file: FileHandle | undefined;
    try {
      const info = await stat(path);
      if (info.isDirectory()) throw Object.assign(new Error("EISDIR: is a directory"), { code: "EISDIR" });
      if (info.isFIFO()) {
        // A FIFO or process substitution (/dev/fd/N) is read as a pipe (non-blocking, polled),
        // not by the file thread pool: a thread blocked reading a silent pipe would keep the
        // process from exiting on Ctrl+C. The open itself waits for a writer.
        const fd = await new Promise<number>((resolve, reject) => openCallback(path, "r", (err, fd) => (err ? reject(err) : resolve(fd))));
        const pipe = new Socket({ fd, readable: true, writable: false });
        return new ByteSource(Infinity, undefined, (pipe as AsyncIterable<Buffer>)[Symbol.asyncIterator](), signal);
      }
      file = await open(path, "r");
      if (info.isFile()) return new ByteSource((await file.stat()).size, file, undefined, signal);
      // a character device reports size 0: read it as the stream it is
      return new ByteSource(Infinity, undefined, file.createReadStream()[Symbol.asyncIterator]() as AsyncIterator<Buffer>, signal);
    } catch (err) {
      await file?.close().catch(() => {});
      throw new CliError(`cannot read ${path}: ${systemMessage(err)}`);
    }
  }

  /**
   * Makes `[offset, offset + n)` readable with {@link view}, as far as the input goes, reading
   * at least a block from a file. Free when the bytes are already held, which is the common
   * case. Offsets only move forward: bytes before `offset` may be released. A stream read
   * returns as soon as `atLeast` bytes from `offset` are held, so that a live pipe is processed
   * as it comes (the caller asks again for the rest).
   */
  async ensure(offset: number, n: number, atLeast = n): Promise<void> {
    if (this.has(offset, n)) return;
    if (this.file !== undefined) return this.ensureFile(this.file, offset, n);
    if (this.stream === undefined) return;
    if (offset < this.blockStart) throw new Error(`stream read went back from byte ${this.blockStart} to ${offset}`);
    // keep what is held from `offset` on, then read until atLeast (at most n) bytes are held
    const want = Math.min(n, atLeast);
    const heldEnd = this.blockStart + this.block.length;
    const kept = offset < heldEnd ? this.block.subarray(offset - this.blockStart) : new Uint8Array(0);
    const parts: Uint8Array[] = [kept];
    let held = kept.length;
    let toSkip = offset > heldEnd ? offset - heldEnd : 0;
    while (held < want && !Number.isFinite(this.size)) {
      const next = await this.nextChunk();
      if (next === undefined) break;
      if (next.done === true) {
        this.size = offset + held;
        break;
      }
      let chunk: Uint8Array = next.value;
      if (toSkip > 0) {
        const drop = Math.min(toSkip, chunk.length);
        chunk = chunk.subarray(drop);
        toSkip -= drop;
      }
      parts.push(chunk);
      held += chunk.length;
    }
    this.block = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.blockStart = offset;
  }

  // A file is read a block ahead: while the caller works on one block, the file thread reads
  // the next into the spare buffer, after room for the end of the held block (a record that
  // straddles the two), so moving on costs a copy of that end instead of a wait for the disk.
  private async ensureFile(file: FileHandle, offset: number, n: number): Promise<void> {
    const heldEnd = this.blockStart + this.block.length;
    const ahead = this.ahead;
    this.ahead = undefined;
    let block: Uint8Array | undefined;
    if (ahead !== undefined) {
      const read = await ahead.read;
      if (read instanceof Error) throw read;
      const tail = heldEnd - offset;
      // the held bytes from `offset` on, then the read-ahead: usable when they meet and cover
      if (offset >= this.blockStart && tail <= READ_AHEAD_ROOM && Math.min(this.size, offset + n) <= heldEnd + read) {
        this.spare.set(this.block.subarray(offset - this.blockStart), READ_AHEAD_ROOM - tail);
        block = this.spare.subarray(READ_AHEAD_ROOM - tail, READ_AHEAD_ROOM + read);
      }
    }
    if (block === undefined) {
      const length = Math.max(0, Math.min(this.size - offset, Math.max(n, BLOCK_BYTES)));
      // two buffers for every block: views are valid until the next ensure, and a fresh 4 MiB
      // per block would be external memory for the GC to chase
      if (this.spare.length < length) this.spare = Buffer.allocUnsafe(Math.max(length, READ_AHEAD_ROOM + BLOCK_BYTES));
      block = this.spare.subarray(0, await readFully(file, this.spare, 0, length, offset));
    }
    // the buffer `block` views is now the held one, and the other is free for the next block
    [this.held, this.spare] = [this.spare, this.held];
    this.block = block;
    this.blockStart = offset;
    const next = offset + block.length;
    if (next >= this.size) return;
    if (this.spare.length < READ_AHEAD_ROOM + BLOCK_BYTES) this.spare = Buffer.allocUnsafe(READ_AHEAD_ROOM + BLOCK_BYTES);
    const length = Math.min(BLOCK_BYTES, this.size - next);
    // settled with its error, never rejected: a read-ahead nobody waits for must not be an
    // unhandled rejection
    this.ahead = {
      read: readFully(file, this.spare, READ_AHEAD_ROOM, length, next).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
    };
  }

  // the stream's next chunk, or undefined once the signal aborted
  private async nextChunk(): Promise<IteratorResult<Buffer> | undefined> {
    const signal = this.signal;
    if (signal === undefined) return this.stream!.next();
    if (signal.aborted) return undefined;
    this.aborted ??= new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    return Promise.race([this.stream!.next(), this.aborted.then(() => undefined)]);
  }

  /** The held bytes `[offset, offset + n)`, clamped to what is held; valid until the next `ensure`. */
  view(offset: number, n: number): Uint8Array {
    const from = offset - this.blockStart;
    return this.block.subarray(from, Math.min(from + n, this.block.length));
  }

  /** Whether `[offset, offset + n)` (clamped to the end) is held; call {@link ensure} when not. */
  has(offset: number, n: number): boolean {
    const end = Math.min(this.size, offset + n);
    return offset >= this.blockStart && end <= this.blockStart + this.block.length;
  }

  /** Closes the file or stops reading the stream (without waiting for a read that hangs). */
  async close(): Promise<void> {
    // a file read is never left running on a closed handle
    await this.ahead?.read;
    this.ahead = undefined;
    await this.file?.close();
    if (this.signal?.aborted === true) void this.stream?.return?.();
    else await this.stream?.return?.();
  }
}

// room before a read-ahead block for the end of the block before it: a record (at most
// LIMITS.maxMessageBytes and its length prefix) that straddles the two
const READ_AHEAD_ROOM = LIMITS.maxMessageBytes + 16;

/** A read of the next block, started before it is asked for: its byte count, or its error. */
interface ReadAhead {
  readonly read: Promise<number | Error>;
}

/** Reads `length` bytes at file `position` into `buffer` at `at`, fewer only at the file's end. */
async function readFully(file: FileHandle, buffer: Buffer, at: number, length: number, position: number): Promise<number> {
  let read = 0;
  while (read < length) {
    const { bytesRead } = await file.read(buffer, at + read, length - read, position + read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return read;
}

/** A system error as one short phrase: `ENOENT: no such file or directory`. */
function systemMessage(err: unknown): string {
  const e = err as { message?: unknown; syscall?: unknown; path?: unknown };
  const text = String(e.message ?? err);
  // node's messages end in the syscall and path (", open 'x'"); the caller names the path
  const suffix = `, ${String(e.syscall)} '${String(e.path)}'`;
  return (text.endsWith(suffix) ? text.slice(0, -suffix.length) : text).replace(/\s*\n\s*/g, " ");
}

/** One record read from an NDJSON capture. */
export interface CaptureRecord {
  /** byte offset of the record's line in the file */
  readonly offset: number;
  /** position of the record in the file, from 0; bad records count too */
  readonly index: number;
  /** 1-based line number */
  readonly line: number;
  /** bytes of the line, its newline included */
  readonly length: number;
  readonly stat: AnalyticsStat;
}

/** A malformed record: where it starts and what is wrong with it. */
export interface BadRecord {
  readonly offset: number;
  readonly index: number;
  /** 1-based line number (ndjson only) */
  readonly line?: number;
  readonly detail: string;
  /** bytes skipped to reach the next good record (with `skipBad`) */
  skipped: number;
}

/** Describes a bad record as one line: `malformed record 3 at byte offset 120: ...`. */
export function describeBadRecord(bad: BadRecord): string {
  const line = bad.line === undefined ? "" : ` (line ${bad.line})`;
  return `malformed record ${bad.index}${line} at byte offset ${bad.offset}: ${bad.detail}`;
}

/**
 * The reason a DecodeError or LimitError gives, without the error's own framing, for a line
 * that names the record itself.
 */
export function errorDetail(err: DecodeError | LimitError): string {
  // a LimitError's message is its reason alone
  return isDecodeError(err) ? err.detail : err.message;
}

/**
 * Detects the format of a capture: `ndjson` when its first byte that is not white space is `{`
 * and its first line parses as JSON, `delimited` otherwise. The JSON check matters because a
 * delimited file whose first record is 123 bytes long also starts with the byte `{` (0x7b).
 * Whether the line is a valid AnalyticsStat is the reader's question, so that a bad first
 * record is reported as such rather than as a binary file.
 */
export async function detectFormat(src: ByteSource): Promise<CaptureFormat> {
  const HEAD = 64 << 10;
  let head: Uint8Array = new Uint8Array(0);
  let i = 0;
  let nl = -1;
  // a pipe delivers what it has: read until the first line is complete, not until 64 KiB are
  for (;;) {
    await src.ensure(0, HEAD, head.length + 1);
    const held = head.length;
    head = src.view(0, HEAD);
    while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
    if (i < head.length && head[i] !== 0x7b) return "delimited";
    nl = i < head.length ? head.indexOf(0x0a, i) : -1;
    if (nl >= 0 || head.length >= HEAD || head.length >= src.size || head.length === held) break;
  }
  if (head[i] !== 0x7b) return "delimited";
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(i, nl < 0 ? head.length : nl)));
    return "ndjson";
  } catch {
    return "delimited";
  }
}

/** Options of {@link readNdjson}. */
export interface ReadNdjsonOptions {
  /**
   * what to do with a malformed record: with `onBad`, report it there and go on; without it,
   * throw a CliError naming its line and byte offset
   */
  onBad?: (bad: BadRecord) => void;
  /** skip JSON fields AnalyticsStat does not have instead of rejecting the record; default false */
  ignoreUnknownFields?: boolean;
}

/** Yields the records of an NDJSON capture in file order; see {@link ReadNdjsonOptions} for bad ones. */
export async function* readNdjson(src: ByteSource, options: ReadNdjsonOptions = {}): AsyncGenerator<CaptureRecord> {
  const { onBad } = options;
  const jsonOptions = { ignoreUnknownFields: options.ignoreUnknownFields === true };
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let offset = 0;
  let index = 0;
  let line = 0;
  for (;;) {
    if (!src.has(offset, 1)) await src.ensure(offset, 1);
    if (offset >= src.size) break;
    line++;
    let want = 64 << 10;
    let end = -1;
    let held = -1;
    for (;;) {
      if (!src.has(offset, want)) await src.ensure(offset, want, held + 1);
      const view = src.view(offset, want);
      const nl = view.indexOf(0x0a);
      if (nl >= 0) {
        end = offset + nl;
        break;
      }
      if (offset + view.length >= src.size) {
        end = offset + view.length;
        break;
      }
      // a stream read that brought nothing: the read was cut short (Ctrl+C), stop here
      if (view.length === held) return;
      held = view.length;
      if (view.length < want) continue;
      if (want >= MAX_LINE_BYTES) break;
      want *= 4;
    }
    if (end < 0) {
      const bad: BadRecord = { offset, index: index++, line, detail: `line longer than ${MAX_LINE_BYTES} bytes`, skipped: 0 };
      if (onBad === undefined) throw new CliError(describeBadRecord(bad));
      // skip to the end of the overlong line
      let next = offset + want;
      for (;;) {
        await src.ensure(next, BLOCK_BYTES);
        const view = src.view(next, BLOCK_BYTES);
        const nl = view.indexOf(0x0a);
        if (nl >= 0 || view.length === 0) {
          next = nl >= 0 ? next + nl + 1 : next;
          break;
        }
        next += view.length;
      }
      bad.skipped = next - offset;
      onBad(bad);
      offset = next;
      continue;
    }
    const bytes = src.view(offset, end - offset);
    let stat: AnalyticsStat | undefined;
    let detail = "";
    try {
      const text = utf8.decode(bytes);
      if (text.trim() === "") {
        offset = end + 1;
        continue;
      }
      stat = fromJsonString(AnalyticsStatSchema, text, jsonOptions);
      checkLimits(stat);
    } catch (err) {
      stat = undefined;
      detail = isLimitError(err) ? errorDetail(err) : String((err as Error).message).replace(/\s*\n\s*/g, " ");
    }
    if (stat !== undefined) {
      yield { offset, index: index++, line, length: end + 1 - offset, stat };
    } else {
      const bad: BadRecord = { offset, index: index++, line, detail, skipped: end + 1 - offset };
      if (onBad === undefined) throw new CliError(describeBadRecord(bad));
      onBad(bad);
    }
    offset = end + 1;
  }
}

/**
 * Bytes an {@link Output} may hold unwritten before `write` waits: the output is written while
 * the next window is computed (the file thread runs beside the main one), and memory stays
 * bounded by this plus the chunk being written.
 */
export const OUTPUT_BUFFER_BYTES = 8 << 20;

/**
 * A byte or text output (a file, or stdout for `-`) that respects backpressure: `write` resolves
 * at once while less than {@link OUTPUT_BUFFER_BYTES} wait to be written, else once the stream
 * has written what it holds.
 */
export class Output {
  readonly stream: Writable;
  readonly isStdout: boolean;
  private failure: Error | undefined;

  /**
   * Opens `path` for writing now (`-`: stdout), so that a path that cannot be written fails
   * before any work is done. Throws a CliError naming the path.
   */
  constructor(path: string) {
    this.isStdout = path === "-";
    if (this.isStdout) {
      this.stream = process.stdout;
    } else {
      let fd: number;
      try {
        fd = openSync(path, "w");
      } catch (err) {
        throw new CliError(`cannot write ${path}: ${systemMessage(err)}`);
      }
      this.stream = createWriteStream(path, { fd });
    }
    this.stream.on("error", (err: Error) => (this.failure ??= err));
  }

  /**
   * Writes `chunk`, waiting for `"drain"` only when more than {@link OUTPUT_BUFFER_BYTES} wait
   * to be written. A stream's own high-water mark (16 KiB for a file) would make every window's
   * write wait for the disk, with the main thread idle meanwhile.
   */
  async write(chunk: Uint8Array | string): Promise<void> {
    this.check();
    this.stream.write(chunk);
    if (this.stream.writableLength > OUTPUT_BUFFER_BYTES && this.stream.writableNeedDrain) await this.until("drain");
    this.check();
  }

  /** Throws the stream's error, if it failed, as a CliError. */
  check(): void {
    if (this.failure === undefined) return;
    // `statsworker ... --out - | head`: the reader has all it wanted; end quietly, as cat does
    if (this.isStdout && (this.failure as { code?: string }).code === "EPIPE") throw new CliError("", 0);
    throw new CliError(`cannot write output: ${this.failure.message}`);
  }

  /** Ends a file (waiting until it is written) or leaves stdout open. */
  async close(): Promise<void> {
    if (!this.isStdout && !this.stream.writableFinished) {
      this.stream.end();
      await this.until("finish");
    }
    this.check();
  }

  // resolves on `event` or on an error (which check() then reports), leaving no listener behind
  private until(event: string): Promise<void> {
    if (this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off(event, done);
        this.stream.off("error", done);
        resolve();
      };
      this.stream.on(event, done);
      this.stream.on("error", done);
    });
  }
}
