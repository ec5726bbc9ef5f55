/**
 * Reading W3C RTCStats dictionaries defensively: every field the collector uses is checked here,
 * and a dictionary with a field of the wrong type or range is rejected as a whole, with the reason.
 *
 * Field names and units are those of https://www.w3.org/TR/webrtc-stats/ as Chromium fills them.
 */

/** The RTCStats types the collector reads; every other type is ignored. */
export type RtcReadType =
  | "outbound-rtp"
  | "inbound-rtp"
  | "remote-inbound-rtp"
  | "remote-outbound-rtp"
  | "media-source"
  | "codec"
  | "transport"
  | "candidate-pair";

const READ_TYPES: ReadonlySet<string> = new Set<RtcReadType>([
  "outbound-rtp",
  "inbound-rtp",
  "remote-inbound-rtp",
  "remote-outbound-rtp",
  "media-source",
  "codec",
  "transport",
  "candidate-pair",
]);

/** The cumulative counters of a local RTP stream, already mapped to sender/receiver-neutral names. */
export interface RtpCounters {
  /** packetsSent / packetsReceived */
  packets: number;
  /** bytesSent / bytesReceived: RTP payload bytes */
  payloadBytes: number;
  /** headerBytesSent / headerBytesReceived: RTP header and padding bytes */
  headerBytes: number;
  /** retransmittedPacketsSent / retransmittedPacketsReceived */
  retransmittedPackets: number;
  /** retransmittedBytesSent / retransmittedBytesReceived: payload bytes */
  retransmittedBytes: number;
  /** framesSent / framesReceived (framesEncoded / framesDecoded when absent) */
  frames: number;
  nacks: number;
  plis: number;
  firs: number;
}

/** An outbound-rtp or inbound-rtp dictionary, checked. */
export interface RtpRecord {
  readonly type: "outbound-rtp" | "inbound-rtp";
  readonly id: string;
  /** milliseconds */
  readonly timestamp: number;
  readonly ssrc: number;
  readonly kind: "audio" | "video";
  readonly counters: RtpCounters;
  /** inbound-rtp: its own jitter in seconds */
  readonly jitter: number | undefined;
  /** inbound-rtp: packetsLost as it reports it (may be negative) */
  readonly packetsLost: number | undefined;
  readonly trackIdentifier: string | undefined;
  readonly mediaSourceId: string | undefined;
  readonly remoteId: string | undefined;
  readonly codecId: string | undefined;
  readonly transportId: string | undefined;
  readonly mid: string | undefined;
  readonly rid: string | undefined;
  readonly encodingIndex: number | undefined;
}

/** A remote-inbound-rtp or remote-outbound-rtp dictionary, checked. */
export interface RemoteRecord {
  readonly type: "remote-inbound-rtp" | "remote-outbound-rtp";
  readonly id: string;
  /** milliseconds: when the RTCP report it came from arrived */
  readonly timestamp: number;
  readonly localId: string | undefined;
  /** remote-inbound-rtp: cumulative, may be negative (duplicates) */
  readonly packetsLost: number | undefined;
  /** remote-inbound-rtp: seconds */
  readonly jitter: number | undefined;
  /** seconds */
  readonly roundTripTime: number | undefined;
}

/** Any other dictionary the collector reads, checked (only the fields it uses). */
export interface OtherRecord {
  readonly type: "media-source" | "codec" | "transport" | "candidate-pair";
  readonly id: string;
  readonly trackIdentifier?: string | undefined;
  readonly mimeType?: string | undefined;
  readonly sdpFmtpLine?: string | undefined;
  readonly selectedCandidatePairId?: string | undefined;
  /** seconds */
  readonly currentRoundTripTime?: number | undefined;
}

/** A dictionary the collector reads. */
export type RtcRecord = RtpRecord | RemoteRecord | OtherRecord;

/** What {@link readRtcStats} made of one entry. */
export type ReadResult = { ok: true; record: RtcRecord } | { ok: false; ignored: true } | { ok: false; ignored: false; reason: string };

// thrown inside this module only; readRtcStats turns it into a result
class Malformed extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

type Dict = Record<string, unknown>;

function str(d: Dict, name: string): string | undefined {
  const v = d[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new Malformed(`${name} is not a string: ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "object") return v === null ? "null" : Array.isArray(v) ? "an array" : "an object";
  return String(v);
}

/** A non-negative integer counter that a double holds exactly, or undefined when absent. */
function count(d: Dict, name: string): number | undefined {
  const v = d[name];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new Malformed(`${name} is not a counter: ${describe(v)}`);
  return v;
}

/** An integer that may be negative (packetsLost). */
function signedCount(d: Dict, name: string): number | undefined {
  const v = d[name];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new Malformed(`${name} is not an integer: ${describe(v)}`);
  return v;
}

/** A finite non-negative measurement (seconds). */
function seconds(d: Dict, name: string): number | undefined {
  const v = d[name];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new Malformed(`${name} is not a duration: ${describe(v)}`);
  return v;
}

function timestamp(d: Dict): number {
  const v = d["timestamp"];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Malformed(`timestamp is not a number: ${describe(v)}`);
  return v;
}

function ssrc(d: Dict): number {
  const v = d["ssrc"];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new Malformed(`ssrc is not a u32: ${describe(v)}`);
  return v;
}

function kind(d: Dict): "audio" | "video" {
  // older browsers name it mediaType
  const v = d["kind"] ?? d["mediaType"];
  if (v !== "audio" && v !== "video") throw new Malformed(`kind is neither audio nor video: ${describe(v)}`);
  return v;
}

function readRtp(d: Dict, type: "outbound-rtp" | "inbound-rtp", id: string): RtpRecord {
  const out = type === "outbound-rtp";
  const frames = out ? (count(d, "framesSent") ?? count(d, "framesEncoded")) : (count(d, "framesReceived") ?? count(d, "framesDecoded"));
  return {
    type,
    id,
    timestamp: timestamp(d),
    ssrc: ssrc(d),
    kind: kind(d),
    counters: {
      packets: count(d, out ? "packetsSent" : "packetsReceived") ?? 0,
      payloadBytes: count(d, out ? "bytesSent" : "bytesReceived") ?? 0,
      headerBytes: count(d, out ? "headerBytesSent" : "headerBytesReceived") ?? 0,
      retransmittedPackets: count(d, out ? "retransmittedPacketsSent" : "retransmittedPacketsReceived") ?? 0,
      retransmittedBytes: count(d, out ? "retransmittedBytesSent" : "retransmittedBytesReceived") ?? 0,
      frames: frames ?? 0,
      nacks: count(d, "nackCount") ?? 0,
      plis: count(d, "pliCount") ?? 0,
      firs: count(d, "firCount") ?? 0,
    },
    jitter: out ? undefined : seconds(d, "jitter"),
    packetsLost: out ? undefined : signedCount(d, "packetsLost"),
    trackIdentifier: out ? undefined : str(d, "trackIdentifier"),
    mediaSourceId: out ? str(d, "mediaSourceId") : undefined,
    remoteId: str(d, "remoteId"),
    codecId: str(d, "codecId"),
    transportId: str(d, "transportId"),
    mid: str(d, "mid"),
    rid: out ? str(d, "rid") : undefined,
    encodingIndex: out ? count(d, "encodingIndex") : undefined,
  };
}

function readRecord(d: Dict, type: RtcReadType, id: string): RtcRecord {
  switch (type) {
    case "outbound-rtp":
    case "inbound-rtp":
      return readRtp(d, type, id);
    case "remote-inbound-rtp":
    case "remote-outbound-rtp":
      return {
        type,
        id,
        timestamp: timestamp(d),
        localId: str(d, "localId"),
        packetsLost: type === "remote-inbound-rtp" ? signedCount(d, "packetsLost") : undefined,
        jitter: type === "remote-inbound-rtp" ? seconds(d, "jitter") : undefined,
        roundTripTime: seconds(d, "roundTripTime"),
      };
    case "media-source":
      return { type, id, trackIdentifier: str(d, "trackIdentifier") };
    case "codec":
      return { type, id, mimeType: str(d, "mimeType"), sdpFmtpLine: str(d, "sdpFmtpLine") };
    case "transport":
      return { type, id, selectedCandidatePairId: str(d, "selectedCandidatePairId") };
    case "candidate-pair":
      return { type, id, currentRoundTripTime: seconds(d, "currentRoundTripTime") };
  }
}

/**
 * Checks one entry of a stats report: an RTCStats dictionary, or a `[id, dictionary]` pair as a
 * Map iterates. Never throws: a getter that throws counts as a malformed dictionary too.
 */
export function readRtcStats(entry: unknown): ReadResult {
  try {
    let d = entry;
    if (Array.isArray(d) && d.length === 2 && typeof d[0] === "string") d = d[1];
    if (typeof d !== "object" || d === null) return { ok: false, ignored: false, reason: `not a dictionary: ${describe(d)}` };
    const dict = d as Dict;
    const type = dict["type"];
    if (typeof type !== "string") return { ok: false, ignored: false, reason: `type is not a string: ${describe(type)}` };
    if (!READ_TYPES.has(type)) return { ok: false, ignored: true };
    const id = dict["id"];
    if (typeof id !== "string") return { ok: false, ignored: false, reason: `id is not a string: ${describe(id)}` };
    return { ok: true, record: readRecord(dict, type as RtcReadType, id) };
  } catch (err) {
    return { ok: false, ignored: false, reason: err instanceof Malformed ? err.reason : `reading it threw: ${String(err)}` };
  }
}
