/**
 * Error classes of statsworker-wasm, one per kind of failure.
 *
 * Each class has a stable `name` and a `code`; the `isXError()` guards compare the name, not the
 * prototype, so they keep working when two copies of the package meet in one process.
 *
 * @module
 */

/** Why a protobuf message could not be decoded. */
export type DecodeErrorCode =
  /** a read went past the end of the input (a truncated field, a length past the end, or a group never closed) */
  | "truncated"
  /** a varint longer than 10 bytes, or a tag that overflows uint32 */
  | "bad_varint"
  /** a tag with field number 0, or wire type 6 or 7, or an end-group tag with nothing to end */
  | "bad_tag"
  /** a group closed with another field number than it was opened with */
  | "bad_group"
  /** a string field that is not valid UTF-8 */
  | "bad_utf8"
  /** groups nested deeper than protobuf-es's recursion limit (100) */
  | "too_deep";

/** The reason of each {@link DecodeErrorCode}, in words: the `detail` of an error made without one. */
const DECODE_DETAIL: Record<DecodeErrorCode, string> = {
  truncated: "truncated",
  bad_varint: "bad varint",
  bad_tag: "bad tag",
  bad_group: "bad group",
  bad_utf8: "invalid utf-8",
  too_deep: "groups nested too deep",
};

/** Where a {@link DecodeError} was found, and what else it carries. */
export interface DecodeErrorOptions {
  /** the reason in words, without its location; default: the code in words */
  detail?: string;
  /** the message's position in a batch; default -1 (not in a batch) */
  index?: number;
  /** within a batch: where in the message itself the problem was found; default -1 (unknown) */
  messageOffset?: number;
  /** the error this one was made from (protobuf-es's, for the ts engine) */
  cause?: unknown;
}

/**
 * Malformed protobuf bytes: the message is rejected whole and nothing of it is buffered.
 *
 * `offset` is the byte offset where the problem was found, or -1 when the decoder could not tell;
 * for `ingestBatch` it is the offset in the batch of the bad message's length prefix, `index` is
 * the message's position in the batch (-1 outside one), and `messageOffset` the place of the
 * problem inside that message, when the decoder knows it. The message is composed once, from
 * these fields; read the fields, never the message.
 */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
  readonly code: DecodeErrorCode;
  /** the reason in words, without its location */
  readonly detail: string;
  readonly offset: number;
  readonly index: number;
  readonly messageOffset: number;

  constructor(code: DecodeErrorCode, offset: number, options: DecodeErrorOptions = {}) {
    const detail = options.detail ?? DECODE_DETAIL[code];
    const index = options.index ?? -1;
    const messageOffset = options.messageOffset ?? -1;
    const where =
      (index >= 0 ? ` in batch message ${index}` : "") +
      (offset >= 0 ? ` at byte ${offset}` : "") +
      (messageOffset >= 0 ? ` (byte ${messageOffset} of the message)` : "");
    super(`cannot decode AnalyticsStat: ${detail}${where}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = detail;
    this.offset = offset;
    this.index = index;
    this.messageOffset = messageOffset;
  }
}

/**
 * The error of a batch's message `index`, whose length prefix starts at `offset` in the batch: a
 * DecodeError found inside the message moves there (its own offset becomes `messageOffset`); any
 * other error, a LimitError, is about the message as a whole and comes back as it is.
 */
export function inBatch(err: Error, index: number, offset: number): Error {
  if (!isDecodeError(err)) return err;
  return new DecodeError(err.code, offset, { detail: err.detail, index, messageOffset: err.offset, cause: err.cause });
}

/** The DecodeError of a batch whose length prefix at `offset` (message `index`) is broken. */
export function badLengthPrefix(code: "truncated" | "bad_varint", index: number, offset: number): DecodeError {
  return new DecodeError(code, offset, { detail: "bad length prefix", index });
}

/** Which documented bound was exceeded. */
export type LimitErrorCode =
  | "too_many_streams"
  | "too_many_layers"
  | "message_too_large"
  | "out_of_memory"
  /** more positive scores in one track's window than `LIMITS.maxScoresPerWindow` (livekit-current) */
  | "too_many_scores"
  /** a new track over `maxTracksPerWorker` */
  | "too_many_tracks"
  /** a new track over `maxTracksPerService` */
  | "too_many_service_tracks"
  /** a new track's id over `maxIdBytesPerWorker` */
  | "too_many_id_bytes"
  /** an `ingestBatch` buffer over `maxBatchBytes` */
  | "batch_too_large";

/** Whether a LimitError code is a bound that refuses a new track (the others refuse a message). */
export function isTrackBound(code: LimitErrorCode): boolean {
  return code === "too_many_tracks" || code === "too_many_service_tracks" || code === "too_many_id_bytes";
}

/**
 * A well-formed input over a documented bound (see `LIMITS`); the input is rejected whole.
 */
export class LimitError extends Error {
  override readonly name = "LimitError";
  readonly code: LimitErrorCode;
  /** the bound that was exceeded */
  readonly limit: number;

  constructor(code: LimitErrorCode, limit: number, detail: string) {
    super(detail);
    this.code = code;
    this.limit = limit;
  }
}

/** Which argument was wrong. */
export type ArgumentErrorCode = "invalid_argument" | "closed";

/**
 * Public API misuse: a wrong argument type or value, or a call on a stopped service.
 *
 * `field` names the offending field of a stat object (`streams[1].primaryPackets`) when the error
 * is about one, and is undefined otherwise.
 */
export class ArgumentError extends TypeError {
  override readonly name = "ArgumentError";
  readonly code: ArgumentErrorCode;
  readonly field: string | undefined;

  constructor(message: string, code: ArgumentErrorCode = "invalid_argument", field?: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

/** What went wrong with the WebAssembly engine. */
export type WasmErrorCode = "unavailable" | "abi_mismatch" | "abort" | "trap" | "disposed";

/**
 * The WebAssembly engine could not load, or it stopped on an internal assertion.
 *
 * An `abort` carries the AssemblyScript message, file and line.
 */
export class WasmError extends Error {
  override readonly name = "WasmError";
  readonly code: WasmErrorCode;

  constructor(code: WasmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

function hasName(err: unknown, name: string): boolean {
  return err instanceof Error && err.name === name;
}

/** Reports whether `err` is a {@link DecodeError}, also one from another copy of this package. */
export function isDecodeError(err: unknown): err is DecodeError {
  return hasName(err, "DecodeError");
}

/** Reports whether `err` is a {@link LimitError}, also one from another copy of this package. */
export function isLimitError(err: unknown): err is LimitError {
  return hasName(err, "LimitError");
}

/** Reports whether `err` is an {@link ArgumentError}, also one from another copy of this package. */
export function isArgumentError(err: unknown): err is ArgumentError {
  return hasName(err, "ArgumentError");
}

/** Reports whether `err` is a {@link WasmError}, also one from another copy of this package. */
export function isWasmError(err: unknown): err is WasmError {
  return hasName(err, "WasmError");
}
