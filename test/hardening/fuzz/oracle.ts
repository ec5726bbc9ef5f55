/**
 * The hardening fuzzer's oracle: what the project must do with one encoded `AnalyticsStat`, as
 * protobuf-es `fromBinary` says plus the project's deliberate rejections (over-long unknown
 * varints, the size, stream and layer limits).
 *
 * @module
 */
import { fromBinary, type Message } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, LIMITS, type AnalyticsStat } from "../../../src/index.ts";
import { readVarint } from "./wire.ts";

/** What the project must do with an input. */
export type Expectation =
  | { readonly accept: true; readonly stat: AnalyticsStat }
  | { readonly accept: false; readonly why: "protobuf-es" | "over-long varint" | "limit"; readonly error: "DecodeError" | "LimitError"; readonly codes: readonly string[] };

/** True when an unknown varint anywhere in `message`'s unknown fields is longer than 10 bytes. */
function hasOverlongUnknownVarint(message: Message): boolean {
  for (const field of message.$unknown ?? []) {
    if (field.wireType === 0 && field.data.length > 10) return true;
    if (field.wireType === 3 && groupHasOverlongVarint(field.data)) return true;
  }
  return false;
}

// a group's raw bytes (up to and including its end tag) as protobuf-es keeps them; well-formed,
// since protobuf-es accepted them, so a plain walk suffices
function groupHasOverlongVarint(data: Uint8Array): boolean {
  let p = 0;
  while (p < data.length) {
    const t = readVarint(data, p);
    if (t === undefined) return false;
    p = t.end;
    switch (t.value % 8) {
      case 0: {
        const v = readVarint(data, p);
        if (v === undefined) return false;
        if (v.end - p > 10) return true;
        p = v.end;
        break;
      }
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      case 2: {
        const n = readVarint(data, p);
        if (n === undefined) return false;
        p = n.end + n.value;
        break;
      }
      default: // 3 and 4: nesting needs no bookkeeping to find varints
        break;
    }
  }
  return false;
}

/** What protobuf-es `fromBinary` and the documented deliberate rules say about `bytes`. */
export function expectation(bytes: Uint8Array): Expectation {
  if (bytes.length > LIMITS.maxMessageBytes) return { accept: false, why: "limit", error: "LimitError", codes: ["message_too_large"] };
  let stat: AnalyticsStat;
  try {
    stat = fromBinary(AnalyticsStatSchema, bytes);
  } catch {
    return { accept: false, why: "protobuf-es", error: "DecodeError", codes: [] };
  }
  const messages: Message[] = [stat];
  if (stat.timeStamp) messages.push(stat.timeStamp);
  for (const s of stat.streams) {
    messages.push(s, ...s.videoLayers);
    if (s.startTime) messages.push(s.startTime);
    if (s.endTime) messages.push(s.endTime);
  }
  if (messages.some(hasOverlongUnknownVarint)) return { accept: false, why: "over-long varint", error: "DecodeError", codes: ["bad_varint"] };
  const codes: string[] = [];
  if (stat.streams.length > LIMITS.maxStreamsPerStat) codes.push("too_many_streams");
  if (stat.streams.some((s) => s.videoLayers.length > LIMITS.maxLayersPerStream)) codes.push("too_many_layers");
  if (codes.length > 0) return { accept: false, why: "limit", error: "LimitError", codes };
  return { accept: true, stat };
}
