/**
 * The bytes the wasm engine keys ids by, and the pre-encoded patch fields of a worker.
 *
 * @module
 */
import type { TrackIdentity } from "../engine.ts";

/**
 * The key bytes of an id: UTF-8, except that an unpaired surrogate is written as its own 3-byte
 * sequence (WTF-8). Keys are then as distinct as JS strings are, the ts engine's map keys, and
 * a well-formed id (the only kind a decoded batch can carry) has its plain UTF-8 bytes.
 */
export function encodeWtf8(text: string): { bytes: Uint8Array; wellFormed: boolean } {
  const out: number[] = [];
  let wellFormed = true;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) wellFormed = false;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return { bytes: Uint8Array.from(out), wellFormed };
}

/** The tag of a length-delimited protobuf field (wire type 2). */
const lengthDelimited = (fieldNo: number): number => (fieldNo << 3) | 2;

/** `AnalyticsStat` field numbers of the worker's own fields in the patch (R3). */
const ROOM_ID = 5;
const ROOM_NAME = 6;
const PARTICIPANT_ID = 7;

/**
 * The worker's `room_id`, `room_name` and `participant_id` as protobuf-es would encode them (R3's
 * patch; unpaired surrogates become U+FFFD there), which the module appends to every result.
 */
export function encodePatchFields(identity: TrackIdentity): Uint8Array {
  const encoder = new TextEncoder();
  const parts: number[] = [];
  const field = (fieldNo: number, text: string) => {
    if (text === "") return; // proto3: an empty string is not written
    const bytes = encoder.encode(text);
    parts.push(lengthDelimited(fieldNo));
    let n = bytes.length;
    while (n > 0x7f) {
      parts.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    parts.push(n);
    for (const b of bytes) parts.push(b);
  };
  field(ROOM_ID, identity.roomId);
  field(ROOM_NAME, identity.roomName);
  field(PARTICIPANT_ID, identity.participantId);
  return Uint8Array.from(parts);
}
