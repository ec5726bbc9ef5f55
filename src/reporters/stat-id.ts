/**
 * Unique stat ids, the shape of LiveKit's `guid.New(utils.AnalyticsStatPrefix)`.
 *
 * @module
 */

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// The same alphabet as character codes, which the id pool holds.
const BASE62_CODES = Uint8Array.from(BASE62, (c) => c.charCodeAt(0));
const PREFIX = [0x41, 0x53, 0x5f]; // "AS_"

/** Length of a stat id made here, in bytes and characters: `"AS_"` and 12 base62 characters. */
export const STAT_ID_LENGTH = 15;

// 16 KiB per getRandomValues call (its limit is 64 KiB): a call costs about a microsecond in
// Node whatever its size, and a flush of 40 000 stats needs 480 000 random bytes.
const randomPool = new Uint8Array(16 * 1024);
// Base62 character codes drawn in bulk from random bytes, ready to copy: an id is then 12 byte
// copies, not 12 draws with rejection and a modulo (measured: the largest cost of stamping a
// batch). Every id, string or bytes, takes its characters from here.
const codePool = new Uint8Array(16 * 1024);
// The code each random byte stands for, 0 for the top 8 byte values, which are rejected
// (248 = 4 * 62 keeps every character equally likely): one lookup per byte, no modulo.
const CODE_OF_BYTE = Uint8Array.from({ length: 256 }, (_, b) => (b < 248 ? BASE62_CODES[b % 62]! : 0));
let codePoolNext = codePool.length;
const ID_CHARS = STAT_ID_LENGTH - PREFIX.length;

function refillCodePool(): void {
  let o = 0;
  while (o < codePool.length) {
    globalThis.crypto.getRandomValues(randomPool);
    const end = randomPool.length;
    for (let i = 0; i < end && o < codePool.length; i++) {
      const code = CODE_OF_BYTE[randomPool[i]!]!;
      if (code !== 0) codePool[o++] = code;
    }
  }
  codePoolNext = 0;
}

/** The pool index of the next id's 12 characters, which are then the caller's to read. */
function takeIdChars(): number {
  if (codePoolNext + ID_CHARS > codePool.length) refillCodePool();
  const at = codePoolNext;
  codePoolNext += ID_CHARS;
  return at;
}

/**
 * Returns a new stat id: `"AS_"` followed by 12 random base62 characters (about 71 bits).
 * Uses `globalThis.crypto` (Node >= 20, browsers).
 */
export function newStatId(): string {
  const at = takeIdChars();
  let id = "AS_";
  for (let i = at; i < at + ID_CHARS; i++) id += String.fromCharCode(codePool[i]!);
  return id;
}

/**
 * Fills `out` with the characters of new ids, {@link STAT_ID_LENGTH} - 3 per id after its `"AS_"`,
 * from the pool every id here is drawn from: what an engine stamps into the stats it encodes.
 */
export function fillIdChars(out: Uint8Array): void {
  // an id is any 12 characters in a row of the pool: whole runs are copied, not id by id
  let o = 0;
  while (o < out.length) {
    if (codePoolNext >= codePool.length) refillCodePool();
    const n = Math.min(out.length - o, codePool.length - codePoolNext);
    out.set(codePool.subarray(codePoolNext, codePoolNext + n), o);
    codePoolNext += n;
    o += n;
  }
}

/**
 * Writes a new stat id as {@link newStatId} makes it, as ASCII bytes into `out` at `offset`,
 * without building a string; returns the offset after it ({@link STAT_ID_LENGTH} bytes on).
 */
export function writeStatIdInto(out: Uint8Array, offset: number): number {
  out[offset] = PREFIX[0]!;
  out[offset + 1] = PREFIX[1]!;
  out[offset + 2] = PREFIX[2]!;
  let next = takeIdChars();
  for (let o = offset + PREFIX.length; o < offset + STAT_ID_LENGTH; o++) out[o] = codePool[next++]!;
  return offset + STAT_ID_LENGTH;
}
