/**
 * The pre-encoded patch fields of a worker (ids' key bytes are in `../ids.ts`).
 *
 * @module
 */
import type { TrackIdentity } from "../engine.ts";

/** The tag of a length-delimited protobuf field (wire type 2). */
const lengthDelimited = (fieldNo: number): number => (fieldNo << 3) | 2;

/** `AnalyticsStat` field numbers of the worker's own fields in the patch (R3, and the stamped node). */
const NODE = 4;
const ROOM_ID = 5;
const ROOM_NAME = 6;
const PARTICIPANT_ID = 7;

/**
 * The worker's `room_id`, `room_name` and `participant_id` as protobuf-es would encode them (R3's
 * patch; unpaired surrogates become U+FFFD there), which the module appends to every result,
 * after the `node` of a stamping reporter when the identity has one.
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
  if (identity.node !== undefined) field(NODE, identity.node);
  field(ROOM_ID, identity.roomId);
  field(ROOM_NAME, identity.roomName);
  field(PARTICIPANT_ID, identity.participantId);
  return Uint8Array.from(parts);
}
