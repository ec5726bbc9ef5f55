// Every record the host and the module share, and every status code: the one source of truth.
//
// scripts/gen-abi.mjs reads this file at build time and writes the host's constants
// (src/engine/wasm/layout.gen.ts, re-exported by abi.ts) and the layout fingerprint
// (assembly/layout-hash.gen.ts) that the loader compares with the module's, so a host and a
// module built from different layouts cannot load together.
//
// Format the generator relies on: `// @record NAME description` starts a record (the host gets
// an object NAME whose keys are the constant names without their `NAME_` prefix); each constant
// is `@inline export const X: type = expression;` over integer literals and earlier constants,
// preceded by an optional one-line `/** doc */`. Offsets are built from the previous field, so a
// reordering cannot leave a gap or an overlap.

import { LAYOUT_HASH } from "./layout-hash.gen";

/** ABI version; bump it whenever an export's meaning changes (the layout has its own check). */
// @ts-ignore: decorator
@inline export const ABI_VERSION: i32 = 11;

/** ABI version of this module; the host refuses a module whose version differs from its own. */
export function abiVersion(): i32 {
  return ABI_VERSION;
}

/** Fingerprint of every constant in this file; the host refuses a module whose value differs. */
export function abiLayoutHash(): u32 {
  return LAYOUT_HASH;
}

// @record SLOT the running fold of one (worker, direction, track) in one window
//
//  0 ┌───────────┬───────────┬────────────────┬───────────────────┐
//    │ count u32 │ score f32 │ primaryPackets │ retransmitPackets │
// 16 ├───────────┴───────────┼────────────────┼───────────────────┤
//    │ paddingPackets        │ packetsLost    │ frames            │ nacks (28)
// 32 ├───────────┬───────────┼────────────────┼───────────────────┤
//    │ plis      │ firs      │ rtt (max)      │ jitter (max)      │
// 48 ├───────────┴───────────┼────────────────┴───────────────────┤
//    │ primaryBytes u64      │ retransmitBytes u64                │
// 64 ├───────────────────────┼───────────┬────────────────────────┤
//    │ paddingBytes u64      │ layer i32 │ layerPresent u32       │
// 80 ├───────────┬───────────┼───────────┴────────────────────────┤
//    │ layerPkts │ layerFrms │ layerBytes u64                     │
// 96 └───────────┴───────────┴────────────────────────────────────┘
//
// The u32 fields from primaryPackets to firs and the u64 fields are wrapping sums (R8), rtt and
// jitter maxima; the layer fields accumulate the highest layer index seen (R9, Q1). The decoder
// keeps one stat's own fold in the same layout (count 1) before merging it.

/** every stat folded in, invalid ones too: the divisor of the score */
// @ts-ignore: decorator
@inline export const SLOT_COUNT: usize = 0;
/** f32 sum of the valid stats' scores, rounded after every addition */
// @ts-ignore: decorator
@inline export const SLOT_SCORE: usize = SLOT_COUNT + 4;
// @ts-ignore: decorator
@inline export const SLOT_PRIMARY_PACKETS: usize = SLOT_SCORE + 4;
// @ts-ignore: decorator
@inline export const SLOT_RETRANSMIT_PACKETS: usize = SLOT_PRIMARY_PACKETS + 4;
// @ts-ignore: decorator
@inline export const SLOT_PADDING_PACKETS: usize = SLOT_RETRANSMIT_PACKETS + 4;
// @ts-ignore: decorator
@inline export const SLOT_PACKETS_LOST: usize = SLOT_PADDING_PACKETS + 4;
// @ts-ignore: decorator
@inline export const SLOT_FRAMES: usize = SLOT_PACKETS_LOST + 4;
// @ts-ignore: decorator
@inline export const SLOT_NACKS: usize = SLOT_FRAMES + 4;
// @ts-ignore: decorator
@inline export const SLOT_PLIS: usize = SLOT_NACKS + 4;
// @ts-ignore: decorator
@inline export const SLOT_FIRS: usize = SLOT_PLIS + 4;
// @ts-ignore: decorator
@inline export const SLOT_RTT: usize = SLOT_FIRS + 4;
// @ts-ignore: decorator
@inline export const SLOT_JITTER: usize = SLOT_RTT + 4;
// @ts-ignore: decorator
@inline export const SLOT_PRIMARY_BYTES: usize = SLOT_JITTER + 4;
// @ts-ignore: decorator
@inline export const SLOT_RETRANSMIT_BYTES: usize = SLOT_PRIMARY_BYTES + 8;
// @ts-ignore: decorator
@inline export const SLOT_PADDING_BYTES: usize = SLOT_RETRANSMIT_BYTES + 8;
/** i32 index of the highest layer seen */
// @ts-ignore: decorator
@inline export const SLOT_LAYER: usize = SLOT_PADDING_BYTES + 8;
/** 1 once any layer was seen */
// @ts-ignore: decorator
@inline export const SLOT_LAYER_PRESENT: usize = SLOT_LAYER + 4;
// @ts-ignore: decorator
@inline export const SLOT_LAYER_PACKETS: usize = SLOT_LAYER_PRESENT + 4;
// @ts-ignore: decorator
@inline export const SLOT_LAYER_FRAMES: usize = SLOT_LAYER_PACKETS + 4;
// @ts-ignore: decorator
@inline export const SLOT_LAYER_BYTES: usize = SLOT_LAYER_FRAMES + 4;
// @ts-ignore: decorator
@inline export const SLOT_SIZE: usize = SLOT_LAYER_BYTES + 8;

// @record SCRATCH the record the host fills from one AnalyticsStat object before foldScratch()
//
// A header, then streamCount stream records from STREAMS, then layerCount layer records from
// LAYERS (the layers of all streams, concatenated). The decoder keeps the stream and the layer
// it is reading in the same stream and layer layouts.
//
// header   0 ┌───────────┬─────────────────┬────────────────┬──────────────┐
//            │ score f32 │ streamCount u32 │ layerCount u32 │ reserved u32 │
//         16 └───────────┴─────────────────┴────────────────┴──────────────┘
// stream   0 ┌────────────────┬───────────────────┬────────────────┬─────────────┐
//            │ primaryPackets │ retransmitPackets │ paddingPackets │ packetsLost │
//         16 ├────────────────┼───────────────────┼────────────────┼─────────────┤
//            │ frames         │ nacks             │ plis           │ firs        │
//         32 ├────────────────┼───────────────────┼────────────────┴─────────────┤
//            │ rtt            │ jitter            │ primaryBytes u64             │
//         48 ├────────────────┴───────────────────┼──────────────────────────────┤
//            │ retransmitBytes u64                │ paddingBytes u64             │
//         64 └────────────────────────────────────┴──────────────────────────────┘
// layer    0 ┌───────────┬─────────────┬────────────┬──────────────┬───────────┐
//            │ layer i32 │ packets u32 │ frames u32 │ reserved u32 │ bytes u64 │
//         24 └───────────┴─────────────┴────────────┴──────────────┴───────────┘

/** most streams one stat may carry (LIMITS.maxStreamsPerStat in src/limits.ts) */
// @ts-ignore: decorator
@inline export const MAX_STREAMS_PER_STAT: u32 = 64;
/** most video layers one stream may carry (LIMITS.maxLayersPerStream) */
// @ts-ignore: decorator
@inline export const MAX_LAYERS_PER_STREAM: u32 = 32;
// @ts-ignore: decorator
@inline export const SCRATCH_SCORE: usize = 0;
// @ts-ignore: decorator
@inline export const SCRATCH_STREAM_COUNT: usize = SCRATCH_SCORE + 4;
// @ts-ignore: decorator
@inline export const SCRATCH_LAYER_COUNT: usize = SCRATCH_STREAM_COUNT + 4;
// @ts-ignore: decorator
@inline export const SCRATCH_RESERVED: usize = SCRATCH_LAYER_COUNT + 4;
// @ts-ignore: decorator
@inline export const SCRATCH_HEADER_SIZE: usize = SCRATCH_RESERVED + 4;
// @ts-ignore: decorator
@inline export const STREAM_PRIMARY_PACKETS: usize = 0;
// @ts-ignore: decorator
@inline export const STREAM_RETRANSMIT_PACKETS: usize = STREAM_PRIMARY_PACKETS + 4;
// @ts-ignore: decorator
@inline export const STREAM_PADDING_PACKETS: usize = STREAM_RETRANSMIT_PACKETS + 4;
// @ts-ignore: decorator
@inline export const STREAM_PACKETS_LOST: usize = STREAM_PADDING_PACKETS + 4;
// @ts-ignore: decorator
@inline export const STREAM_FRAMES: usize = STREAM_PACKETS_LOST + 4;
// @ts-ignore: decorator
@inline export const STREAM_NACKS: usize = STREAM_FRAMES + 4;
// @ts-ignore: decorator
@inline export const STREAM_PLIS: usize = STREAM_NACKS + 4;
// @ts-ignore: decorator
@inline export const STREAM_FIRS: usize = STREAM_PLIS + 4;
// @ts-ignore: decorator
@inline export const STREAM_RTT: usize = STREAM_FIRS + 4;
// @ts-ignore: decorator
@inline export const STREAM_JITTER: usize = STREAM_RTT + 4;
// @ts-ignore: decorator
@inline export const STREAM_PRIMARY_BYTES: usize = STREAM_JITTER + 4;
// @ts-ignore: decorator
@inline export const STREAM_RETRANSMIT_BYTES: usize = STREAM_PRIMARY_BYTES + 8;
// @ts-ignore: decorator
@inline export const STREAM_PADDING_BYTES: usize = STREAM_RETRANSMIT_BYTES + 8;
// @ts-ignore: decorator
@inline export const STREAM_SIZE: usize = STREAM_PADDING_BYTES + 8;
// @ts-ignore: decorator
@inline export const LAYER_LAYER: usize = 0;
// @ts-ignore: decorator
@inline export const LAYER_PACKETS: usize = LAYER_LAYER + 4;
// @ts-ignore: decorator
@inline export const LAYER_FRAMES: usize = LAYER_PACKETS + 4;
// @ts-ignore: decorator
@inline export const LAYER_RESERVED: usize = LAYER_FRAMES + 4;
// @ts-ignore: decorator
@inline export const LAYER_BYTES: usize = LAYER_RESERVED + 4;
// @ts-ignore: decorator
@inline export const LAYER_SIZE: usize = LAYER_BYTES + 8;
/** byte offset of the first stream record */
// @ts-ignore: decorator
@inline export const SCRATCH_STREAMS: usize = SCRATCH_HEADER_SIZE;
/** byte offset of the first layer record, after MAX_STREAMS_PER_STAT stream records */
// @ts-ignore: decorator
@inline export const SCRATCH_LAYERS: usize = SCRATCH_STREAMS + <usize>MAX_STREAMS_PER_STAT * STREAM_SIZE;
/** layer records the scratch region holds */
// @ts-ignore: decorator
@inline export const SCRATCH_MAX_LAYERS: u32 = MAX_STREAMS_PER_STAT * MAX_LAYERS_PER_STREAM;
/** bytes of the whole scratch region */
// @ts-ignore: decorator
@inline export const SCRATCH_SIZE: usize = SCRATCH_LAYERS + <usize>SCRATCH_MAX_LAYERS * LAYER_SIZE;

// @record INFO what the last decodeFold found: its error offset, the stat's kind, ids and time stamp
//
//  0 ┌──────────────────┬──────────────────────┬────────────────┬──────────────────┐
//    │ errorOffset u32  │ kind i32             │ roomIdPtr u32  │ roomIdBytes u32  │
// 16 ├──────────────────┼──────────────────────┼────────────────┼──────────────────┤
//    │ participantIdPtr │ participantIdBytes   │ trackIdPtr u32 │ trackIdBytes u32 │
// 32 ├──────────────────┼──────────────────────┼────────────────┴──────────────────┤
//    │ hasTime u32      │ timeNanos i32        │ timeSeconds i64                   │
// 48 └──────────────────┴──────────────────────┴───────────────────────────────────┘
//
// errorOffset is relative to the start of the message; the id pointers are absolute addresses
// inside the input, with 0 bytes when the field is absent (the last occurrence wins). The time
// stamp is the top-level time_stamp, its occurrences merged as protobuf does (each field's last
// occurrence wins); hasTime is 1 when it occurs at all.

// @ts-ignore: decorator
@inline export const INFO_ERROR_OFFSET: usize = 0;
/** AnalyticsStat.kind, 0 when absent */
// @ts-ignore: decorator
@inline export const INFO_KIND: usize = INFO_ERROR_OFFSET + 4;
// @ts-ignore: decorator
@inline export const INFO_ROOM_ID_PTR: usize = INFO_KIND + 4;
// @ts-ignore: decorator
@inline export const INFO_ROOM_ID_BYTES: usize = INFO_ROOM_ID_PTR + 4;
// @ts-ignore: decorator
@inline export const INFO_PARTICIPANT_ID_PTR: usize = INFO_ROOM_ID_BYTES + 4;
// @ts-ignore: decorator
@inline export const INFO_PARTICIPANT_ID_BYTES: usize = INFO_PARTICIPANT_ID_PTR + 4;
// @ts-ignore: decorator
@inline export const INFO_TRACK_ID_PTR: usize = INFO_PARTICIPANT_ID_BYTES + 4;
// @ts-ignore: decorator
@inline export const INFO_TRACK_ID_BYTES: usize = INFO_TRACK_ID_PTR + 4;
/** 1 when the stat has a time_stamp */
// @ts-ignore: decorator
@inline export const INFO_HAS_TIME: usize = INFO_TRACK_ID_BYTES + 4;
// @ts-ignore: decorator
@inline export const INFO_TIME_NANOS: usize = INFO_HAS_TIME + 4;
// @ts-ignore: decorator
@inline export const INFO_TIME_SECONDS: usize = INFO_TIME_NANOS + 4;
// @ts-ignore: decorator
@inline export const INFO_SIZE: usize = INFO_TIME_SECONDS + 8;

// @record META who owns a slot: read by the host through slotMetaPtr()
//
//  0 ┌────────────┬────────────┬──────────────┬────────────────┬──────────┬──────────┐
//    │ worker i32 │ bucket u32 │ trackPtr u32 │ trackBytes u32 │ next i32 │ prev i32 │
// 24 ├────────────┴────────────┴──────────────┴────────────────┴──────────┴──────────┤
//    │ inline: the track id itself when it has at most META_INLINE_BYTES bytes        │
// 40 └────────────────────────────────────────────────────────────────────────────────┘
//
// worker -1 is a slot the host manages by index alone (coalesce()); next and prev link the
// slots of one worker (-1 ends the list). trackPtr points at `inline` for a short id (LiveKit's
// are 15 bytes), so that comparing an id with a slot's loads no second cache line.

// @ts-ignore: decorator
@inline export const META_WORKER: usize = 0;
/** 0 UPSTREAM, 1 DOWNSTREAM */
// @ts-ignore: decorator
@inline export const META_BUCKET: usize = META_WORKER + 4;
/** address of the engine's copy of the track id */
// @ts-ignore: decorator
@inline export const META_TRACK_PTR: usize = META_BUCKET + 4;
// @ts-ignore: decorator
@inline export const META_TRACK_BYTES: usize = META_TRACK_PTR + 4;
// @ts-ignore: decorator
@inline export const META_NEXT: usize = META_TRACK_BYTES + 4;
// @ts-ignore: decorator
@inline export const META_PREV: usize = META_NEXT + 4;
// @ts-ignore: decorator
@inline export const META_INLINE: usize = META_PREV + 4;
/** the longest track id kept inline */
// @ts-ignore: decorator
@inline export const META_INLINE_BYTES: usize = 16;
// @ts-ignore: decorator
@inline export const META_SIZE: usize = META_INLINE + META_INLINE_BYTES;

// @record DRAIN_ENTRY one result of drainList(), at outputPtr()
//
//  0 ┌──────────┬────────────┬──────────────┬────────────────┐
//    │ slot i32 │ bucket u32 │ trackPtr u32 │ trackBytes u32 │
// 16 └──────────┴────────────┴──────────────┴────────────────┘

// @ts-ignore: decorator
@inline export const DRAIN_ENTRY_SLOT: usize = 0;
// @ts-ignore: decorator
@inline export const DRAIN_ENTRY_BUCKET: usize = DRAIN_ENTRY_SLOT + 4;
// @ts-ignore: decorator
@inline export const DRAIN_ENTRY_TRACK_PTR: usize = DRAIN_ENTRY_BUCKET + 4;
// @ts-ignore: decorator
@inline export const DRAIN_ENTRY_TRACK_BYTES: usize = DRAIN_ENTRY_TRACK_PTR + 4;
// @ts-ignore: decorator
@inline export const DRAIN_ENTRY_SIZE: usize = DRAIN_ENTRY_TRACK_BYTES + 4;

// @record BATCH the result of the last ingestBatch(), at batchResultPtr()
//
//  0 ┌────────────┬────────────────┬─────────────────┬──────────────┐
//    │ status i32 │ errorIndex u32 │ errorOffset u32 │ statsIn u32  │
// 16 ├────────────┼────────────────┼─────────────────┼──────────────┤
//    │ invalid    │ dropped        │ malformed       │ messages     │
// 32 ├────────────┼────────────────┼─────────────────┼──────────────┤
//    │ framing    │ listed         │ refused         │ late         │
// 48 ├────────────┼────────────────┴─────────────────┴──────────────┤
//    │ taken      │ invalid slots i32 x MAX_INVALID_LISTED          │
//    │            │ (the first `listed`)                            │
//308 └────────────┴─────────────────────────────────────────────────┘
//
// status is 0 or the STATUS of the first bad message, whose index and byte offset in the batch
// follow; every count is u32. late and taken are those of a windowed batch (see ingestBatch).

// @ts-ignore: decorator
@inline export const BATCH_STATUS: usize = 0;
// @ts-ignore: decorator
@inline export const BATCH_ERROR_INDEX: usize = BATCH_STATUS + 4;
// @ts-ignore: decorator
@inline export const BATCH_ERROR_OFFSET: usize = BATCH_ERROR_INDEX + 4;
/** stats folded into a worker */
// @ts-ignore: decorator
@inline export const BATCH_STATS_IN: usize = BATCH_ERROR_OFFSET + 4;
/** of those, invalid stats (counted, not folded) */
// @ts-ignore: decorator
@inline export const BATCH_INVALID: usize = BATCH_STATS_IN + 4;
/** well-formed stats with no open worker */
// @ts-ignore: decorator
@inline export const BATCH_DROPPED: usize = BATCH_INVALID + 4;
// @ts-ignore: decorator
@inline export const BATCH_MALFORMED: usize = BATCH_DROPPED + 4;
// @ts-ignore: decorator
@inline export const BATCH_MESSAGES: usize = BATCH_MALFORMED + 4;
/** 1 when a broken length prefix ended the batch */
// @ts-ignore: decorator
@inline export const BATCH_FRAMING: usize = BATCH_MESSAGES + 4;
// @ts-ignore: decorator
@inline export const BATCH_LISTED: usize = BATCH_FRAMING + 4;
/** well-formed stats refused because a new track would pass a bound (setBounds) */
// @ts-ignore: decorator
@inline export const BATCH_REFUSED: usize = BATCH_LISTED + 4;
/** windowed: stats taken whose time stamp is before the window's lateBeforeMs */
// @ts-ignore: decorator
@inline export const BATCH_LATE: usize = BATCH_REFUSED + 4;
/** windowed: bytes taken, the batch offset of the message it stopped before (or its length) */
// @ts-ignore: decorator
@inline export const BATCH_TAKEN: usize = BATCH_LATE + 4;
// @ts-ignore: decorator
@inline export const BATCH_INVALID_SLOTS: usize = BATCH_TAKEN + 4;
/** most invalid stats listed per batch for the host to log */
// @ts-ignore: decorator
@inline export const BATCH_MAX_INVALID_LISTED: u32 = 64;
// @ts-ignore: decorator
@inline export const BATCH_SIZE: usize = BATCH_INVALID_SLOTS + (<usize>BATCH_MAX_INVALID_LISTED << 2);
/** largest batch member (LIMITS.maxMessageBytes); a larger one is MESSAGE_TOO_LARGE */
// @ts-ignore: decorator
@inline export const BATCH_MAX_MESSAGE_BYTES: u32 = 1 << 20;

// @record STATUS the codes below zero that decodeFold, foldScratch, trackSlot and ingestBatch return

// @ts-ignore: decorator
@inline export const STATUS_TRUNCATED: i32 = -1;
// @ts-ignore: decorator
@inline export const STATUS_BAD_VARINT: i32 = -2;
// @ts-ignore: decorator
@inline export const STATUS_BAD_TAG: i32 = -3;
// @ts-ignore: decorator
@inline export const STATUS_BAD_GROUP: i32 = -4;
// @ts-ignore: decorator
@inline export const STATUS_BAD_UTF8: i32 = -5;
// @ts-ignore: decorator
@inline export const STATUS_TOO_DEEP: i32 = -6;
// @ts-ignore: decorator
@inline export const STATUS_TOO_MANY_STREAMS: i32 = -10;
// @ts-ignore: decorator
@inline export const STATUS_TOO_MANY_LAYERS: i32 = -11;
// @ts-ignore: decorator
@inline export const STATUS_MESSAGE_TOO_LARGE: i32 = -12;
/** a track slot could not be allocated */
// @ts-ignore: decorator
@inline export const STATUS_OUT_OF_MEMORY: i32 = -20;
/** trackSlot: a new track would pass the worker's track bound (setBounds) */
// @ts-ignore: decorator
@inline export const STATUS_WORKER_TRACKS: i32 = -21;
/** trackSlot: a new track would pass the router's track bound (setBounds) */
// @ts-ignore: decorator
@inline export const STATUS_ROUTER_TRACKS: i32 = -22;
/** trackSlot: a new track id would pass the bound on the id bytes a worker holds (setBounds) */
// @ts-ignore: decorator
@inline export const STATUS_WORKER_ID_BYTES: i32 = -23;


// @record IDS the stamped-id pool the host fills for drainEncode
//
// COUNT ids of CHARS base62 characters each, back to back. A stamping drainEncode writes each
// stat's `id` (field 14) as "AS_" and the next unused id's characters.

/** base62 characters of one id, after its "AS_" prefix */
// @ts-ignore: decorator
@inline export const IDS_CHARS: u32 = 12;
/** ids the pool holds when full */
// @ts-ignore: decorator
@inline export const IDS_COUNT: u32 = 1024;
/** bytes of the pool */
// @ts-ignore: decorator
@inline export const IDS_SIZE: u32 = IDS_COUNT * IDS_CHARS;
/** drainEncode: fewer unused ids than the window has stats (nothing encoded): refill, drain again */
// @ts-ignore: decorator
@inline export const IDS_SHORT: i32 = -2;

// @record EXT what the livekit-current profile keeps per slot beside the slot record
//
//  0 ┌────────────────┬──────────────┬─────────────────┬───────────────────────┐
//    │ scoreCount u32 │ minScore f32 │ medianScore f32 │ packetsOutOfOrder u32 │
// 16 ├────────────────┴──────────────┼─────────────────┴───────────────────────┤
//    │ startSec i64                  │ endSec i64                              │
// 32 ├────────────────┬──────────────┼─────────────────┬───────────────────────┤
//    │ startNsec u32  │ endNsec u32  │ mimePtr u32     │ mimeBytes u32         │
// 48 ├────────────────┼──────────────┼─────────────────┼───────────────────────┤
//    │ mimeCap u32    │ scoresPtr u32│ scoresCap u32   │ reserved u32          │
// 64 ├────────────────┴──────────────┴─────────────────┴───────────────────────┤
//    │ inline scores f32 x EXT_INLINE_SCORES                                   │
// 96 └─────────────────────────────────────────────────────────────────────────┘
//
// Valid only while the slot's count is not 0: the first stat of a window resets it. The
// positive scores of the window's valid stats are kept sorted, in the inline array up to
// EXT_INLINE_SCORES of them, past that in a heap block (scoresPtr) of at most
// EXT_MAX_SCORES; minScore is the first of them and medianScore is written by slotExtPtr().
// startSec/endSec and the nanoseconds are Go time.Time values (seconds since 0001-01-01, a
// wrapping int64; 0 and 0 is Go's zero time). mimePtr is a heap block of mimeCap bytes holding
// the last stat's mime.

// @ts-ignore: decorator
@inline export const EXT_SCORE_COUNT: usize = 0;
// @ts-ignore: decorator
@inline export const EXT_MIN_SCORE: usize = EXT_SCORE_COUNT + 4;
// @ts-ignore: decorator
@inline export const EXT_MEDIAN_SCORE: usize = EXT_MIN_SCORE + 4;
// @ts-ignore: decorator
@inline export const EXT_PACKETS_OUT_OF_ORDER: usize = EXT_MEDIAN_SCORE + 4;
// @ts-ignore: decorator
@inline export const EXT_START_SEC: usize = EXT_PACKETS_OUT_OF_ORDER + 4;
// @ts-ignore: decorator
@inline export const EXT_END_SEC: usize = EXT_START_SEC + 8;
// @ts-ignore: decorator
@inline export const EXT_START_NSEC: usize = EXT_END_SEC + 8;
// @ts-ignore: decorator
@inline export const EXT_END_NSEC: usize = EXT_START_NSEC + 4;
// @ts-ignore: decorator
@inline export const EXT_MIME_PTR: usize = EXT_END_NSEC + 4;
// @ts-ignore: decorator
@inline export const EXT_MIME_BYTES: usize = EXT_MIME_PTR + 4;
// @ts-ignore: decorator
@inline export const EXT_MIME_CAP: usize = EXT_MIME_BYTES + 4;
// @ts-ignore: decorator
@inline export const EXT_SCORES_PTR: usize = EXT_MIME_CAP + 4;
// @ts-ignore: decorator
@inline export const EXT_SCORES_CAP: usize = EXT_SCORES_PTR + 4;
// @ts-ignore: decorator
@inline export const EXT_RESERVED: usize = EXT_SCORES_CAP + 4;
// @ts-ignore: decorator
@inline export const EXT_SCORES: usize = EXT_RESERVED + 4;
/** positive scores kept in the record itself: a window of a few stats allocates nothing */
// @ts-ignore: decorator
@inline export const EXT_INLINE_SCORES: u32 = 8;
// @ts-ignore: decorator
@inline export const EXT_SIZE: usize = EXT_SCORES + (<usize>EXT_INLINE_SCORES << 2);
/** most positive scores one window of one track may hold (LIMITS.maxScoresPerWindow) */
// @ts-ignore: decorator
@inline export const EXT_MAX_SCORES: u32 = 1024;

// @record PSCRATCH what the host adds to the scratch record in the livekit-current profile
//
// header   0 ┌──────────────┬───────────────┬─────────────────────────────┐
//            │ mimePtr u32  │ mimeBytes u32 │ reserved (8)                │
//         16 └──────────────┴───────────────┴─────────────────────────────┘
// stream   0 ┌──────────────────────┬──────────────────────┐
//            │ startSeconds i64     │ endSeconds i64       │
//         16 ├────────────┬─────────┴──┬───────────────────┤
//            │ startNanos │ endNanos   │ packetsOutOfOrder │ reserved u32
//         32 └────────────┴────────────┴───────────────────┘
//
// One stream record per scratch stream, from PSCRATCH_STREAMS; the times are the raw Timestamp
// fields (0 and 0 for a missing one). mimePtr points into the buffer mimeScratchPtr() returns.

// @ts-ignore: decorator
@inline export const PSCRATCH_MIME_PTR: usize = 0;
// @ts-ignore: decorator
@inline export const PSCRATCH_MIME_BYTES: usize = PSCRATCH_MIME_PTR + 4;
// @ts-ignore: decorator
@inline export const PSCRATCH_RESERVED: usize = PSCRATCH_MIME_BYTES + 4;
// @ts-ignore: decorator
@inline export const PSCRATCH_STREAMS: usize = PSCRATCH_RESERVED + 8;
// @ts-ignore: decorator
@inline export const PSCRATCH_STREAM_START_SECONDS: usize = 0;
// @ts-ignore: decorator
@inline export const PSCRATCH_STREAM_END_SECONDS: usize = PSCRATCH_STREAM_START_SECONDS + 8;
// @ts-ignore: decorator
@inline export const PSCRATCH_STREAM_START_NANOS: usize = PSCRATCH_STREAM_END_SECONDS + 8;
// @ts-ignore: decorator
@inline export const PSCRATCH_STREAM_END_NANOS: usize = PSCRATCH_STREAM_START_NANOS + 4;
// @ts-ignore: decorator
@inline export const PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER: usize = PSCRATCH_STREAM_END_NANOS + 4;
// @ts-ignore: decorator
@inline export const PSCRATCH_STREAM_RESERVED: usize = PSCRATCH_STREAM_PACKETS_OUT_OF_ORDER + 4;
// @ts-ignore: decorator
@inline export const PSCRATCH_STREAM_SIZE: usize = PSCRATCH_STREAM_RESERVED + 4;
// @ts-ignore: decorator
@inline export const PSCRATCH_SIZE: usize = PSCRATCH_STREAMS + <usize>MAX_STREAMS_PER_STAT * PSCRATCH_STREAM_SIZE;

// @record PSTATUS the status codes the livekit-current profile adds

/** a track's window already holds EXT_MAX_SCORES positive scores */
// @ts-ignore: decorator
@inline export const PSTATUS_TOO_MANY_SCORES: i32 = -13;
