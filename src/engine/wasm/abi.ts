/**
 * The contract between the host and `assembly/`: the typed exports of the WebAssembly module,
 * the record layouts it shares with the host, and its status codes.
 *
 * `assembly/layout.ts` holds the same numbers; `abiVersion()` changes whenever either side
 * changes, and the loader refuses a module whose version differs from {@link ABI_VERSION}.
 *
 * @module
 */

/** ABI version the host was written for; compared with the module's `abiVersion()` on load. */
export const ABI_VERSION = 3;

/**
 * The raw exports of the engine module. Pointers and sizes are byte addresses into `memory`
 * (u32 in WebAssembly, non-negative numbers here); no export takes or returns a 64-bit value, so
 * no call allocates a BigInt.
 */
export interface WasmExports {
  readonly memory: WebAssembly.Memory;
  /** {@link ABI_VERSION} of the module */
  abiVersion(): number;
  /** address of the object-path scratch record (fixed for the life of the instance) */
  scratchPtr(): number;
  /** address of the decode info record (fixed for the life of the instance) */
  infoPtr(): number;
  /** grows the input buffer to at least `bytes` and returns its address; 0 when memory is exhausted */
  inputPtr(bytes: number): number;
  /** takes a zeroed slot and returns its index; -1 when memory is exhausted */
  allocSlot(): number;
  /** returns a slot to the free list */
  freeSlot(slot: number): void;
  /** address of slot `slot`'s record; a slot never moves once allocated */
  slotPtr(slot: number): number;
  /** zeroes slot `slot` (the start of a new window) */
  resetSlot(slot: number): void;
  /** number of slots currently allocated (in use) */
  slotCount(): number;
  /** validates the scratch record: 1 valid, 0 invalid (R7) */
  validateScratch(): number;
  /** validates the scratch record and folds it into `slot`: 1 folded, 0 invalid (count only) */
  foldScratch(slot: number): number;
  /**
   * Decodes one `AnalyticsStat` at `[ptr, ptr + bytes)`, validates it and folds it into `slot`
   * (`slot` -1: decode and validate only). 1 folded, 0 invalid (count only), < 0 a STATUS code.
   */
  decodeFold(ptr: number, bytes: number, slot: number): number;

  /** a new router (one per TelemetryService) for batch routing */
  routerCreate(): number;
  /**
   * creates a worker from `[ptr, ...)`: room id, participant id (UTF-8) and its pre-encoded patch
   * fields (AnalyticsStat fields 5-7); with `router` >= 0 it becomes the route of its
   * (room, participant), replacing an earlier one. -1 when memory is exhausted.
   */
  workerCreate(ptr: number, roomBytes: number, pidBytes: number, patchBytes: number, router: number): number;
  /** frees the worker's slots and marks it closed (batch stats for it are dropped) */
  workerClose(worker: number): void;
  /** frees the worker whole; its route goes too if it still is the route of its key */
  workerFree(worker: number): void;
  /** stats folded into the worker by batches since its last drain */
  workerPending(worker: number): number;
  /** the slot of (worker, bucket, track id at [ptr, ptr + bytes)), created on first use; -1 if none */
  trackSlot(worker: number, bucket: number, ptr: number, bytes: number): number;
  /** address of a live slot's {@link META} record; 0 for a slot not in use */
  slotMetaPtr(slot: number): number;
  /** releases a slot of the worker (a track whose first stat was malformed) */
  workerSlotRelease(worker: number, slot: number): void;
  /** lists the worker's live results ({@link DRAIN_ENTRY}) at outputPtr(), UPSTREAM first; releases quiet slots */
  drainList(worker: number): number;
  /** encodes the worker's window as one AnalyticsStats at outputPtr() and resets it; returns its length */
  drainEncode(worker: number, seconds: number, nanos: number): number;
  /** lends the output buffer to a reporter: drains write elsewhere until returnOutput(); -1 when nested too deep */
  lendOutput(): number;
  /** takes back the buffer lent last */
  returnOutput(): void;
  /** results of the last drain */
  drainCount(): number;
  /** address of the last drain's output */
  outputPtr(): number;
  /** address of the slots (i32) the last drain released */
  freedPtr(): number;
  /** number of slots the last drain released */
  freedSlots(): number;
  /** ingests size-delimited stats for `router`; fills the {@link BATCH} record; returns its status */
  ingestBatch(ptr: number, bytes: number, router: number, dropAll: number): number;
  /** address of the batch result record */
  batchResultPtr(): number;
}

/** Slot meta record: which worker, bucket and track id a slot belongs to. */
export const META = { WORKER: 0, BUCKET: 4, TRACK_PTR: 8, TRACK_BYTES: 12, SIZE: 24 } as const;

/** One entry of `drainList`'s output. */
export const DRAIN_ENTRY = { SLOT: 0, BUCKET: 4, TRACK_PTR: 8, TRACK_BYTES: 12, SIZE: 16 } as const;

/**
 * Result record of `ingestBatch`.
 *
 * ```
 *  0 ┌────────────┬──────────────┬─────────────┬──────────┐
 *    │ status i32 │ errorIndex   │ errorOffset │ statsIn  │
 * 16 ├────────────┼──────────────┼─────────────┼──────────┤
 *    │ invalid    │ dropped      │ malformed   │ messages │
 * 32 ├────────────┼──────────────┼─────────────┴──────────┤
 *    │ framing    │ listed       │ reserved               │
 * 48 ├────────────┴──────────────┴────────────────────────┤
 *    │ invalid slots i32 x 64 (the first `listed`)        │
 *    └────────────────────────────────────────────────────┘
 * ```
 */
export const BATCH = {
  STATUS: 0,
  ERROR_INDEX: 4,
  ERROR_OFFSET: 8,
  STATS_IN: 12,
  INVALID: 16,
  DROPPED: 20,
  MALFORMED: 24,
  MESSAGES: 28,
  FRAMING: 32,
  LISTED: 36,
  INVALID_SLOTS: 48,
} as const;

/** Return codes of `decodeFold` below zero. */
export const STATUS = {
  TRUNCATED: -1,
  BAD_VARINT: -2,
  BAD_TAG: -3,
  BAD_GROUP: -4,
  BAD_UTF8: -5,
  TOO_DEEP: -6,
  TOO_MANY_STREAMS: -10,
  TOO_MANY_LAYERS: -11,
  MESSAGE_TOO_LARGE: -12,
  OUT_OF_MEMORY: -20,
} as const;

/**
 * Slot record: the running fold of one (worker, direction, track) in one window.
 *
 * ```
 *  0 ┌───────────┬───────────┬────────────────┬───────────────────┐
 *    │ count u32 │ score f32 │ primaryPackets │ retransmitPackets │
 * 16 ├───────────┴───────────┼────────────────┼───────────────────┤
 *    │ paddingPackets        │ packetsLost    │ frames            │ nacks (28)
 * 32 ├───────────┬───────────┼────────────────┼───────────────────┤
 *    │ plis      │ firs      │ rtt (max)      │ jitter (max)      │
 * 48 ├───────────┴───────────┼────────────────┴───────────────────┤
 *    │ primaryBytes u64      │ retransmitBytes u64                │
 * 64 ├───────────────────────┼───────────┬────────────────────────┤
 *    │ paddingBytes u64      │ layer i32 │ layerPresent u32       │
 * 80 ├───────────┬───────────┼───────────┴────────────────────────┤
 *    │ layerPkts │ layerFrms │ layerBytes u64                     │
 * 96 └───────────┴───────────┴────────────────────────────────────┘
 * ```
 * `count` counts every stat folded in, invalid ones included (the R10 divisor); `score` is the
 * float32 sum of the valid stats' scores in arrival order.
 */
export const SLOT = {
  COUNT: 0,
  SCORE: 4,
  PRIMARY_PACKETS: 8,
  RETRANSMIT_PACKETS: 12,
  PADDING_PACKETS: 16,
  PACKETS_LOST: 20,
  FRAMES: 24,
  NACKS: 28,
  PLIS: 32,
  FIRS: 36,
  RTT: 40,
  JITTER: 44,
  PRIMARY_BYTES: 48,
  RETRANSMIT_BYTES: 56,
  PADDING_BYTES: 64,
  LAYER: 72,
  LAYER_PRESENT: 76,
  LAYER_PACKETS: 80,
  LAYER_FRAMES: 84,
  LAYER_BYTES: 88,
  SIZE: 96,
} as const;

/**
 * Scratch record the host fills from one `AnalyticsStat` object before `foldScratch()`:
 * a header, then `streamCount` stream records, then `layerCount` layer records (the layers of
 * all streams, concatenated) at {@link SCRATCH.LAYERS}.
 *
 * ```
 * header   0 ┌───────────┬─────────────────┬────────────────┬──────────┐
 *            │ score f32 │ streamCount u32 │ layerCount u32 │ reserved │
 *         16 └───────────┴─────────────────┴────────────────┴──────────┘
 * stream   0 ┌────────────────┬───────────────────┬────────────────┬─────────────┐
 *            │ primaryPackets │ retransmitPackets │ paddingPackets │ packetsLost │
 *         16 ├────────────────┼───────────────────┼────────────────┼─────────────┤
 *            │ frames         │ nacks             │ plis           │ firs        │
 *         32 ├────────────────┼───────────────────┼────────────────┴─────────────┤
 *            │ rtt            │ jitter            │ primaryBytes u64             │
 *         48 ├────────────────┴───────────────────┼──────────────────────────────┤
 *            │ retransmitBytes u64                │ paddingBytes u64             │
 *         64 └────────────────────────────────────┴──────────────────────────────┘
 * layer    0 ┌───────────┬─────────────┬────────────┬──────────┬────────────────┐
 *            │ layer i32 │ packets u32 │ frames u32 │ reserved │ bytes u64      │
 *         24 └───────────┴─────────────┴────────────┴──────────┴────────────────┘
 * ```
 */
export const SCRATCH = {
  SCORE: 0,
  STREAM_COUNT: 4,
  LAYER_COUNT: 8,
  HEADER_SIZE: 16,
  STREAM_PRIMARY_PACKETS: 0,
  STREAM_RETRANSMIT_PACKETS: 4,
  STREAM_PADDING_PACKETS: 8,
  STREAM_PACKETS_LOST: 12,
  STREAM_FRAMES: 16,
  STREAM_NACKS: 20,
  STREAM_PLIS: 24,
  STREAM_FIRS: 28,
  STREAM_RTT: 32,
  STREAM_JITTER: 36,
  STREAM_PRIMARY_BYTES: 40,
  STREAM_RETRANSMIT_BYTES: 48,
  STREAM_PADDING_BYTES: 56,
  STREAM_SIZE: 64,
  /** byte offset of the first layer record: header + 64 stream records (LIMITS.maxStreamsPerStat) */
  LAYERS: 16 + 64 * 64,
  LAYER_LAYER: 0,
  LAYER_PACKETS: 4,
  LAYER_FRAMES: 8,
  LAYER_BYTES: 16,
  LAYER_SIZE: 24,
  /** layer records available: LIMITS.maxStreamsPerStat * LIMITS.maxLayersPerStream */
  MAX_LAYERS: 64 * 32,
} as const;

/**
 * Decode info record, written by every `decodeFold` call (fields of the last occurrence win).
 *
 * ```
 *  0 ┌──────────────────┬──────────┬──────────────┬──────────────┐
 *    │ errorOffset u32  │ kind i32 │ roomIdPtr    │ roomIdBytes  │
 * 16 ├──────────────────┼──────────┴───┬──────────┴──────────────┤
 *    │ participantIdPtr │ partIdBytes  │ trackIdPtr │ trackIdBytes│
 * 32 └──────────────────┴──────────────┴────────────┴─────────────┘
 * ```
 * `errorOffset` is relative to the start of the message; the string pointers are absolute
 * addresses into memory (inside the input), 0 bytes when the field is absent.
 */
export const INFO = {
  ERROR_OFFSET: 0,
  KIND: 4,
  ROOM_ID_PTR: 8,
  ROOM_ID_BYTES: 12,
  PARTICIPANT_ID_PTR: 16,
  PARTICIPANT_ID_BYTES: 20,
  TRACK_ID_PTR: 24,
  TRACK_ID_BYTES: 28,
  SIZE: 32,
} as const;
