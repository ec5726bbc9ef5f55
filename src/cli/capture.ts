/**
 * Capture files: the input stats of a run, replayable by `statsworker aggregate`.
 *
 * Two formats:
 * - `delimited`: size-delimited `AnalyticsStat` messages (a varint byte length before each, as
 *   protobuf-es `sizeDelimitedEncode` and Java's `writeDelimitedTo` write them), each carrying
 *   its own `room_id`, `participant_id`, `track_id`, `kind` and `time_stamp`;
 * - `ndjson`: one proto3-JSON `AnalyticsStat` object per line.
 *
 * Reading is random access over a file handle with a block cache (or over stdin read whole), so
 * a malformed record can be reported with its byte offset and skipped by resynchronising.
 *
 * @module
 */
import { fromJsonString } from "@bufbuild/protobuf";
import { createWriteStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import { decodeStat } from "../engine/decode-stat.ts";
import { isDecodeError, isLimitError } from "../errors.ts";
import { AnalyticsStatSchema, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { checkLimits, LIMITS } from "../limits.ts";
import { CliError } from "./args.ts";

/** The two capture layouts `aggregate` reads. */
export type CaptureFormat = "delimited" | "ndjson";

const BLOCK_BYTES = 4 << 20;
// a proto3-JSON stat with LIMITS.maxStreamsPerStat streams of LIMITS.maxLayersPerStream layers
// stays far below this; anything longer is a broken file, not a stat
const MAX_LINE_BYTES = 16 << 20;

/** Random-access bytes of a file (block-cached) or of stdin (read whole). */
export class ByteSource {
  /** total size in bytes */
  readonly size: number;
  private readonly file: FileHandle | undefined;
  private block: Uint8Array;
  private blockStart = 0;

  private constructor(size: number, file: FileHandle | undefined, whole: Uint8Array) {
    this.size = size;
    this.file = file;
    this.block = whole;
  }

  /** Opens `path`, or reads all of stdin for `-`. Throws a CliError naming the path. */
  static async open(path: string): Promise<ByteSource> {
    if (path === "-") {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      const whole = Buffer.concat(chunks);
      return new ByteSource(whole.length, undefined, whole);
    }
    try {
      const file = await open(path, "r");
      const { size } = await file.stat();
      return new ByteSource(size, file, new Uint8Array(0));
    } catch (err) {
      throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
    }
  }

  /**
   * Makes `[offset, offset + n)` (clamped to the end) readable with {@link view}. Synchronous
   * and free when the bytes are already cached, which is the common case.
   */
  async ensure(offset: number, n: number): Promise<void> {
    const end = Math.min(this.size, offset + n);
    if (offset >= this.blockStart && end <= this.blockStart + this.block.length) return;
    if (this.file === undefined) return;
    const length = Math.min(this.size - offset, Math.max(n, BLOCK_BYTES));
    const block = Buffer.allocUnsafe(length);
    let read = 0;
    while (read < length) {
      const { bytesRead } = await this.file.read(block, read, length - read, offset + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    this.block = block.subarray(0, read);
    this.blockStart = offset;
  }

  /** The cached bytes `[offset, offset + n)`, clamped to the end; valid until the next `ensure`. */
  view(offset: number, n: number): Uint8Array {
    const from = offset - this.blockStart;
    return this.block.subarray(from, Math.min(from + n, this.block.length));
  }

  /** Whether `[offset, offset + n)` is cached (call {@link ensure} first when not). */
  has(offset: number, n: number): boolean {
    const end = Math.min(this.size, offset + n);
    return offset >= this.blockStart && end <= this.blockStart + this.block.length;
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.file?.close();
  }
}

/** One record read from a capture. */
export interface CaptureRecord {
  /** byte offset of the record in the file (its length prefix, or its line) */
  readonly offset: number;
  /** position of the record in the file, from 0; bad records count too */
  readonly index: number;
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

/** Options of {@link readCapture}. */
export interface ReadCaptureOptions {
  /** `"delimited"` or `"ndjson"`; default: detected by {@link detectFormat} */
  format?: CaptureFormat;
  /**
   * what to do with a malformed record: with `onBad`, report it there and go on (resynchronising
   * a delimited file at the next well-formed record); without it, throw a CliError naming its
   * byte offset
   */
  onBad?: (bad: BadRecord) => void;
}

/**
 * Detects the format of a capture: `ndjson` when the first byte is `{` and the first line parses
 * as a proto3-JSON AnalyticsStat, `delimited` otherwise. The second check matters because a
 * delimited file whose first record is 123 bytes long also starts with the byte `{` (0x7b).
 */
export async function detectFormat(src: ByteSource): Promise<CaptureFormat> {
  await src.ensure(0, 64 << 10);
  const head = src.view(0, 64 << 10);
  if (head[0] !== 0x7b) return "delimited";
  const nl = head.indexOf(0x0a);
  try {
    fromJsonString(AnalyticsStatSchema, new TextDecoder("utf-8", { fatal: true }).decode(nl < 0 ? head : head.subarray(0, nl)));
    return "ndjson";
  } catch {
    return "delimited";
  }
}

/** Yields the records of a capture in file order; see {@link ReadCaptureOptions} for bad ones. */
export async function* readCapture(src: ByteSource, options: ReadCaptureOptions = {}): AsyncGenerator<CaptureRecord> {
  const format = options.format ?? (await detectFormat(src));
  if (format === "ndjson") yield* readNdjson(src, options.onBad);
  else yield* readDelimited(src, options.onBad);
}

type Attempt = { ok: true; stat: AnalyticsStat; end: number } | { ok: false; detail: string };

async function readDelimitedAt(src: ByteSource, offset: number): Promise<Attempt> {
  if (!src.has(offset, 10)) await src.ensure(offset, 10);
  const head = src.view(offset, 10);
  let length = 0;
  let prefix = 0;
  for (;;) {
    if (prefix === head.length) {
      return { ok: false, detail: head.length < 10 ? "truncated length prefix at the end of the file" : "length prefix is not a varint" };
    }
    const b = head[prefix]!;
    length += (b & 0x7f) * 2 ** (7 * prefix);
    prefix++;
    if ((b & 0x80) === 0) break;
  }
  if (length > LIMITS.maxMessageBytes) {
    return { ok: false, detail: `record length ${length} is over the limit of ${LIMITS.maxMessageBytes} bytes` };
  }
  const end = offset + prefix + length;
  if (end > src.size) {
    return { ok: false, detail: `record length ${length} runs past the end of the file (${src.size - offset - prefix} bytes left)` };
  }
  if (!src.has(offset + prefix, length)) await src.ensure(offset, prefix + length);
  try {
    return { ok: true, stat: decodeStat(src.view(offset + prefix, length)), end };
  } catch (err) {
    if (isDecodeError(err)) {
      // the decoder's offset is relative to the message; name the byte in the file
      const detail = err.message.replace(/^cannot decode AnalyticsStat: /, "").replace(/ at byte \d+$/, "");
      return { ok: false, detail: err.offset >= 0 ? `${detail} at byte ${offset + prefix + err.offset}` : detail };
    }
    if (isLimitError(err)) return { ok: false, detail: err.message };
    throw err;
  }
}

// A resynchronisation point must look like a real capture record, not merely decode: random
// bytes decode as an AnalyticsStat surprisingly often, but rarely with every routing field set.
function plausible(stat: AnalyticsStat): boolean {
  return stat.roomId !== "" && stat.participantId !== "" && stat.trackId !== "" && stat.timeStamp !== undefined;
}

async function* readDelimited(src: ByteSource, onBad: ((bad: BadRecord) => void) | undefined): AsyncGenerator<CaptureRecord> {
  let offset = 0;
  let index = 0;
  while (offset < src.size) {
    const attempt = await readDelimitedAt(src, offset);
    if (attempt.ok) {
      yield { offset, index: index++, stat: attempt.stat };
      offset = attempt.end;
      continue;
    }
    const bad: BadRecord = { offset, index: index++, detail: attempt.detail, skipped: 0 };
    if (onBad === undefined) throw new CliError(describeBadRecord(bad));
    // Size-delimited streams have no sync marks: scan forward for the next offset where a
    // plausible record starts.
    let next = offset + 1;
    while (next < src.size) {
      const probe = await readDelimitedAt(src, next);
      if (probe.ok && plausible(probe.stat)) break;
      next++;
    }
    bad.skipped = next - offset;
    onBad(bad);
    offset = next;
  }
}

async function* readNdjson(src: ByteSource, onBad: ((bad: BadRecord) => void) | undefined): AsyncGenerator<CaptureRecord> {
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let offset = 0;
  let index = 0;
  let line = 0;
  while (offset < src.size) {
    line++;
    let want = 64 << 10;
    let end = -1;
    for (;;) {
      if (!src.has(offset, want)) await src.ensure(offset, want);
      const view = src.view(offset, want);
      const nl = view.indexOf(0x0a);
      if (nl >= 0) {
        end = offset + nl;
        break;
      }
      if (offset + view.length >= src.size) {
        end = src.size;
        break;
      }
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
          next = nl >= 0 ? next + nl + 1 : src.size;
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
    let text: string;
    let stat: AnalyticsStat | undefined;
    let detail = "";
    try {
      text = utf8.decode(bytes);
      if (text.trim() === "") {
        offset = end + 1;
        continue;
      }
      stat = fromJsonString(AnalyticsStatSchema, text);
      checkLimits(stat);
    } catch (err) {
      stat = undefined;
      detail = (err as Error).message;
    }
    if (stat !== undefined) {
      yield { offset, index: index++, stat };
    } else {
      const bad: BadRecord = { offset, index: index++, line, detail, skipped: end + 1 - offset };
      if (onBad === undefined) throw new CliError(describeBadRecord(bad));
      onBad(bad);
    }
    offset = end + 1;
  }
}

/**
 * A byte or text output (a file, or stdout for `-`) that respects backpressure: `write` resolves
 * once the stream can take more.
 */
export class Output {
  readonly stream: Writable;
  readonly isStdout: boolean;
  private failure: Error | undefined;

  constructor(path: string) {
    this.isStdout = path === "-";
    this.stream = this.isStdout ? process.stdout : createWriteStream(path);
    this.stream.on("error", (err: Error) => (this.failure ??= err));
  }

  /** Writes `chunk`, waiting for `"drain"` when the stream asks for it. */
  async write(chunk: Uint8Array | string): Promise<void> {
    this.check();
    if (!this.stream.write(chunk)) await this.until("drain");
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
