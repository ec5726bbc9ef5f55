/**
 * The contract between the host and `assembly/`: the typed exports of the WebAssembly module,
 * the record layouts it shares with the host, and its status codes.
 *
 * The records and codes are generated from `assembly/layout.ts` (their one source, with the box
 * diagrams) into `layout.gen.ts`; the loader refuses a module whose `abiVersion()` or
 * `abiLayoutHash()` differs from {@link ABI_VERSION} or {@link LAYOUT_HASH}.
 *
 * @module
 */

// ABI_VERSION, LAYOUT_HASH, the records (SLOT, SCRATCH, INFO, META, DRAIN_ENTRY, BATCH, the
// stamped-id pool IDS, and the livekit-current profile's EXT and PSCRATCH), their word indices
// (SLOT_U32, SLOT_U64, ...), STATUS and PSTATUS
export * from "./layout.gen.ts";

/**
 * The raw exports of the engine module. Pointers and sizes are byte addresses into `memory`
 * (u32 in WebAssembly, non-negative numbers here); no export takes or returns a 64-bit value, so
 * no call allocates a BigInt.
 */
export interface WasmExports {
  readonly memory: WebAssembly.Memory;
  /** {@link ABI_VERSION} of the module */
  abiVersion(): number;
  /** {@link LAYOUT_HASH} of the module: the fingerprint of the layouts it was built with */
  abiLayoutHash(): number;
  /** address of the object-path scratch record (fixed for the life of the instance) */
  scratchPtr(): number;
  /** address of the decode info record (fixed for the life of the instance) */
  infoPtr(): number;
  /** grows the input buffer to at least `bytes` and returns its address; 0 when memory is exhausted */
  inputPtr(bytes: number): number;
  /**
   * gives the input buffer, the output buffers and the drain lists back to the heap when one big
   * input or drain grew them past 64 KiB; the next inputPtr() returns a new address (forget the
   * old one), and no view of the last drain's output may be held
   */
  trimBuffers(): void;
  /** bytes in the engine heap's free blocks, ready for any size to reuse (a measure for tests) */
  heapFreeBytes(): number;
  /**
   * bounds the engine heap to `bytes` (0: only memory's 1 GiB limit); an allocation past it fails
   * like exhausted memory
   */
  setHeapLimit(bytes: number): void;
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
  /**
   * turns decodeFold's canonical-order fast path on (not 0, the default) or off (every message
   * goes to the generic decoder); a switch for the tests that compare the two
   */
  setFastDecode(on: number): void;
  /** messages the fast path tried and left to the generic decoder so far (a test measure, wrapping u32) */
  fastDecodeMisses(): number;

  /**
   * sets the key of the track and route hash tables (SipHash-1-3) from four random u32; call it
   * once before the first worker. 0, or -1 once a table exists (the old key is kept)
   */
  hashKey(a: number, b: number, c: number, d: number): number;
  /** probe steps taken by all hash lookups and inserts so far (a test measure, wrapping u32) */
  hashProbes(): number;
  /**
   * sets the bounds that refuse a new track (existing ones are never refused): live tracks per
   * worker, live tracks per router (one service), bytes of track ids per worker; 0 is no bound,
   * the default. A batch counts the stats they refuse in {@link BATCH}.REFUSED.
   */
  setBounds(workerTracks: number, routerTracks: number, workerIdBytes: number): void;
  /** a new router (one per TelemetryService) for batch routing; -1 when memory is exhausted */
  routerCreate(): number;
  /**
   * frees a router (a stopped service) with every worker it routes, their slots, ids and routes;
   * its index may be handed out again by routerCreate(), so the host must forget it
   */
  routerFree(router: number): void;
  /**
   * creates a worker from `[ptr, ...)`: room id, participant id (UTF-8) and its pre-encoded patch
   * fields (AnalyticsStat fields 4-7: node when stamped, room id, room name, participant id); with `router` >= 0 it becomes the route of its
   * (room, participant), replacing an earlier one. -1 when memory is exhausted.
   */
  workerCreate(ptr: number, roomBytes: number, pidBytes: number, patchBytes: number, router: number): number;
  /** frees the worker's slots and marks it closed (batch stats for it are dropped) */
  workerClose(worker: number): void;
  /** frees the worker whole; its route goes too if it still is the route of its key */
  workerFree(worker: number): void;
  /** stats folded into the worker by batches since its last drain */
  workerPending(worker: number): number;
  /**
   * the slot of (worker, bucket, track id at [ptr, ptr + bytes)), created on first use; -1 when
   * the worker is not open or memory is exhausted, STATUS.WORKER_TRACKS / ROUTER_TRACKS /
   * WORKER_ID_BYTES when a new track would pass a bound set by setBounds()
   */
  trackSlot(worker: number, bucket: number, ptr: number, bytes: number): number;
  /** address of a live slot's {@link META} record; 0 for a slot not in use */
  slotMetaPtr(slot: number): number;
  /** releases a slot of the worker (a track whose first stat was malformed) */
  workerSlotRelease(worker: number, slot: number): void;
  /** lists the worker's live results ({@link DRAIN_ENTRY}) at outputPtr(), UPSTREAM first; releases quiet slots */
  drainList(worker: number): number;
  /**
   * encodes the worker's window as one AnalyticsStats at outputPtr() and resets it; returns its
   * length. With `stampIds` 1 each stat gets an id from the pool ({@link IDS}); when the pool has
   * fewer left than the window has stats it returns IDS.SHORT and encodes nothing (refill, drain
   * again)
   */
  drainEncode(worker: number, seconds: number, nanos: number, stampIds: number): number;
  /** address of the stamped-id pool ({@link IDS}: COUNT ids of CHARS base62 characters) */
  idPoolPtr(): number;
  /** the host wrote IDS.COUNT fresh ids into the pool */
  idPoolFilled(): void;
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
  /**
   * ingests size-delimited stats for `router`; fills the {@link BATCH} record; returns its status.
   * With `windowed` 1 it stops before the first message its host must see (times in ms since the
   * epoch): see assembly/batch.ts
   */
  ingestBatch(ptr: number, bytes: number, router: number, dropAll: number, windowed: number, fromMs: number, untilMs: number, lateBeforeMs: number): number;
  /** address of the batch result record */
  batchResultPtr(): number;
  /** selects the rules, once, before any fold: 0 the 2022 reference, 1 livekit-current */
  setProfile(profile: number): void;
  /** livekit-current: address of live slot `slot`'s {@link EXT} record with its median written; 0 otherwise */
  slotExtPtr(slot: number): number;
  /** address of the {@link PSCRATCH} record the host fills beside the scratch record (livekit-current) */
  profileScratchPtr(): number;
  /** a buffer of at least `bytes` for an object's mime (livekit-current); 0 when memory is exhausted */
  mimeScratchPtr(bytes: number): number;
}
