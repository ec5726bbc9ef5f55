/**
 * Decoding one encoded `AnalyticsStat` with protobuf-es, under the project's bad-input policy.
 *
 * protobuf-es is the reference for what is well-formed; on top of it, two deliberate rules that
 * the wasm decoder applies identically:
 * - a varint longer than 10 bytes is malformed everywhere (docs/rules.md, bad input), also inside an
 *   unknown field, where protobuf-es would skip it;
 * - a known field with another wire type than its declared one is read by its declared type, as
 *   protobuf-es does (the C++ and Java parsers would keep it as an unknown field instead).
 *
 * @module
 */
import { fromBinary, type Message } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { DecodeError, type DecodeErrorCode } from "../errors.ts";
import { AnalyticsStatSchema, type AnalyticsStat } from "../gen/livekit/livekit_analytics_pb.ts";
import { checkLimits, limitError, LIMITS } from "../limits.ts";

/**
 * Decodes one `AnalyticsStat`; throws `DecodeError` for malformed bytes and `LimitError` for a
 * stat over `LIMITS`. `offset` is -1 on errors found by protobuf-es (it does not say where).
 */
export function decodeStat(bytes: Uint8Array): AnalyticsStat {
  if (bytes.length > LIMITS.maxMessageBytes) {
    throw limitError.messageTooLarge();
  }
  let stat: AnalyticsStat;
  try {
    stat = fromBinary(AnalyticsStatSchema, bytes);
  } catch (err) {
    throw toDecodeError(err);
  }
  checkUnknownVarints(stat);
  for (const stream of stat.streams) {
    checkUnknownVarints(stream);
    for (const layer of stream.videoLayers) checkUnknownVarints(layer);
    if (stream.startTime) checkUnknownVarints(stream.startTime);
    if (stream.endTime) checkUnknownVarints(stream.endTime);
  }
  if (stat.timeStamp) checkUnknownVarints(stat.timeStamp);
  checkLimits(stat);
  return stat;
}

// protobuf-es throws plain Errors without a code, so its words are the only way to tell the kind
// of a foreign error; this is the one place that reads an error message, and only protobuf-es's
function toDecodeError(err: unknown): DecodeError {
  const message = err instanceof Error ? err.message : String(err);
  let code: DecodeErrorCode;
  if (err instanceof TypeError && /utf-?8/i.test(message)) code = "bad_utf8";
  else if (/premature EOF|outside the bounds/i.test(message)) code = "truncated";
  else if (/invalid varint|overflows uint32/.test(message)) code = "bad_varint";
  else if (/illegal tag|cant skip wire type/.test(message)) code = "bad_tag";
  else if (/end group/.test(message)) code = "bad_group";
  else if (/recursion depth/.test(message)) code = "too_deep";
  else code = "truncated";
  return new DecodeError(code, -1, { cause: err });
}

// protobuf-es keeps unknown fields with their raw bytes, so over-long varints can be found after
// the fact; inside an unknown group every varint is checked, nested groups included.
function checkUnknownVarints(message: Message): void {
  const unknown = message.$unknown;
  if (unknown === undefined) return;
  for (const field of unknown) {
    if (field.wireType === WireType.Varint && field.data.length > 10) {
      throw new DecodeError("bad_varint", -1);
    }
    if (field.wireType === WireType.StartGroup) checkGroupVarints(field.data);
  }
}

function checkGroupVarints(data: Uint8Array): void {
  const reader = new BinaryReader(data);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    switch (wireType) {
      case WireType.Varint: {
        const start = reader.pos;
        reader.skip(wireType, no);
        if (reader.pos - start > 10) {
          throw new DecodeError("bad_varint", -1);
        }
        break;
      }
      case WireType.StartGroup:
      case WireType.EndGroup:
        // nested group bounds were already checked by protobuf-es; scan straight through
        break;
      default:
        reader.skip(wireType, no);
    }
  }
}
