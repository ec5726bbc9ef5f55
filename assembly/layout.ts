// Record layouts and status codes shared with the host.
//
// Mirrors src/engine/wasm/abi.ts field by field; bump ABI_VERSION whenever either side changes.
// Offsets are built from the previous field so that a reordering cannot leave a gap or overlap.

/** ABI version of this module (src/engine/wasm/abi.ts `ABI_VERSION`). */
// @ts-ignore: decorator
@inline export const ABI_VERSION: i32 = 3;

/** ABI version of this module; the host refuses a module whose version differs from its own. */
export function abiVersion(): i32 {
  return ABI_VERSION;
}

// ╒══════════════════════ Slot record (96 bytes, 8-aligned) ═══════════════════╕
//    3                   2                   1
//  1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0  bits
// ├───────────────────────────────────────────────────────────────┤
// │ count u32: every stat folded in, invalid ones too (R10)       │  0
// ├───────────────────────────────────────────────────────────────┤
// │ score f32: float32 sum of the valid stats' scores (R10)       │  4
// ├───────────────────────────────────────────────────────────────┤
// │ primaryPackets u32     (wrapping sums, R8, from here to 40)   │  8
// │ retransmitPackets u32                                         │ 12
// │ paddingPackets u32                                            │ 16
// │ packetsLost u32                                               │ 20
// │ frames u32                                                    │ 24
// │ nacks u32                                                     │ 28
// │ plis u32                                                      │ 32
// │ firs u32                                                      │ 36
// ├───────────────────────────────────────────────────────────────┤
// │ rtt u32 (max, R8)                                             │ 40
// │ jitter u32 (max, R8)                                          │ 44
// ├───────────────────────────────────────────────────────────────┤
// │ primaryBytes u64                                              │ 48
// │ retransmitBytes u64                                           │ 56
// │ paddingBytes u64                                              │ 64
// ├───────────────────────────────────────────────────────────────┤
// │ layer i32: index of the highest layer seen (R9, Q1)           │ 72
// │ layerPresent u32: 1 once any layer was seen                   │ 76
// │ layerPackets u32                                              │ 80
// │ layerFrames u32                                               │ 84
// │ layerBytes u64                                                │ 88
// └───────────────────────────────────────────────────────────────┘ 96

// @ts-ignore: decorator
@inline export const SLOT_COUNT: usize = 0;
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
// @ts-ignore: decorator
@inline export const SLOT_LAYER: usize = SLOT_PADDING_BYTES + 8;
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

// ╒═════════════════ Scratch record (host-filled from one AnalyticsStat) ═══════╕
//
// header (16 bytes) at SCRATCH_HEADER
// ┌──────────────────────────────┐
// │ score f32                    │  0
// │ streamCount u32              │  4
// │ layerCount u32               │  8
// │ reserved                     │ 12
// └──────────────────────────────┘ 16
//
// stream record (64 bytes), MAX_STREAMS_PER_STAT of them from SCRATCH_HEADER_SIZE
// ┌──────────────────────────────┐
// │ primaryPackets u32           │  0
// │ retransmitPackets u32        │  4
// │ paddingPackets u32           │  8
// │ packetsLost u32              │ 12
// │ frames u32                   │ 16
// │ nacks u32                    │ 20
// │ plis u32                     │ 24
// │ firs u32                     │ 28
// │ rtt u32                      │ 32
// │ jitter u32                   │ 36
// │ primaryBytes u64             │ 40
// │ retransmitBytes u64          │ 48
// │ paddingBytes u64             │ 56
// └──────────────────────────────┘ 64
//
// layer record (24 bytes), SCRATCH_MAX_LAYERS of them from SCRATCH_LAYERS; the layers of all
// streams concatenated
// ┌──────────────────────────────┐
// │ layer i32                    │  0
// │ packets u32                  │  4
// │ frames u32                   │  8
// │ reserved                     │ 12
// │ bytes u64                    │ 16
// └──────────────────────────────┘ 24

/** Most streams one stat may carry (src/limits.ts `maxStreamsPerStat`). */
// @ts-ignore: decorator
@inline export const MAX_STREAMS_PER_STAT: u32 = 64;
/** Most video layers one stream may carry (src/limits.ts `maxLayersPerStream`). */
// @ts-ignore: decorator
@inline export const MAX_LAYERS_PER_STREAM: u32 = 32;

// @ts-ignore: decorator
@inline export const SCRATCH_SCORE: usize = 0;
// @ts-ignore: decorator
@inline export const SCRATCH_STREAM_COUNT: usize = SCRATCH_SCORE + 4;
// @ts-ignore: decorator
@inline export const SCRATCH_LAYER_COUNT: usize = SCRATCH_STREAM_COUNT + 4;
// @ts-ignore: decorator
@inline export const SCRATCH_HEADER_SIZE: usize = SCRATCH_LAYER_COUNT + 4 + 4;

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
@inline export const LAYER_BYTES: usize = LAYER_FRAMES + 4 + 4;
// @ts-ignore: decorator
@inline export const LAYER_SIZE: usize = LAYER_BYTES + 8;

/** Byte offset of the first stream record in the scratch region. */
// @ts-ignore: decorator
@inline export const SCRATCH_STREAMS: usize = SCRATCH_HEADER_SIZE;
/** Byte offset of the first layer record: after MAX_STREAMS_PER_STAT stream records. */
// @ts-ignore: decorator
@inline export const SCRATCH_LAYERS: usize = SCRATCH_STREAMS + <usize>MAX_STREAMS_PER_STAT * STREAM_SIZE;
/** Layer records available in the scratch region. */
// @ts-ignore: decorator
@inline export const SCRATCH_MAX_LAYERS: u32 = MAX_STREAMS_PER_STAT * MAX_LAYERS_PER_STREAM;
/** Total size of the scratch region in bytes. */
// @ts-ignore: decorator
@inline export const SCRATCH_SIZE: usize = SCRATCH_LAYERS + <usize>SCRATCH_MAX_LAYERS * LAYER_SIZE;

// ╒═════════════ Decode info record (32 bytes, written by decodeFold) ═════════╕
// ┌──────────────────────────────────────────────────────────────┐
// │ errorOffset u32: offset of the error within the message      │  0
// │ kind i32: AnalyticsStat.kind, 0 when absent                  │  4
// │ roomIdPtr u32: absolute address inside the input             │  8
// │ roomIdBytes u32                                              │ 12
// │ participantIdPtr u32                                         │ 16
// │ participantIdBytes u32                                       │ 20
// │ trackIdPtr u32                                               │ 24
// │ trackIdBytes u32                                             │ 28
// └──────────────────────────────────────────────────────────────┘ 32

// @ts-ignore: decorator
@inline export const INFO_ERROR_OFFSET: usize = 0;
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
// @ts-ignore: decorator
@inline export const INFO_SIZE: usize = INFO_TRACK_ID_BYTES + 4;

// ╒═════════════════════ Status codes (decodeFold < 0) ══════════════════════╕

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
