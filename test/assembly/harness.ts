/**
 * Test harness for the raw WebAssembly exports: instantiates build/debug.wasm and
 * build/release.wasm directly (no host code), and moves records in and out of linear memory.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  AnalyticsStatSchema,
  type AnalyticsStat,
} from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { INFO, SCRATCH, SLOT, STATUS, type WasmExports } from "../../src/engine/wasm/abi.ts";

/** The two targets of asconfig.json; every suite runs against both. */
export const BUILDS = ["debug", "release"] as const;
export type Build = (typeof BUILDS)[number];

const modules = new Map<Build, WebAssembly.Module>();

/** A fresh instance of `build` (its own memory), with an `env.abort` that throws a readable error. */
export function instantiate(build: Build): WasmExports {
  let mod = modules.get(build);
  if (mod === undefined) {
    mod = new WebAssembly.Module(readFileSync(new URL(`../../build/${build}.wasm`, import.meta.url)));
    modules.set(build, mod);
  }
  let exports: WasmExports | undefined;
  const imports = {
    env: {
      abort(msg: number, file: number, line: number, col: number): never {
        const str = (ptr: number): string => {
          if (exports === undefined || ptr === 0) return "?";
          const dv = new DataView(exports.memory.buffer);
          const len = dv.getUint32(ptr - 4, true) >>> 1;
          return String.fromCharCode(...new Uint16Array(exports.memory.buffer, ptr, len));
        };
        throw new Error(`wasm abort: ${str(msg)} at ${str(file)}:${line}:${col}`);
      },
    },
  };
  const instance = new WebAssembly.Instance(mod, imports);
  exports = instance.exports as unknown as WasmExports;
  return exports;
}

/** A DataView over the current memory buffer (memory.grow detaches older views). */
export function view(wasm: WasmExports): DataView {
  return new DataView(wasm.memory.buffer);
}

/** A slot record read out of memory, 64-bit fields as bigint. */
export interface SlotRecord {
  count: number;
  score: number;
  primaryPackets: number;
  retransmitPackets: number;
  paddingPackets: number;
  packetsLost: number;
  frames: number;
  nacks: number;
  plis: number;
  firs: number;
  rtt: number;
  jitter: number;
  primaryBytes: bigint;
  retransmitBytes: bigint;
  paddingBytes: bigint;
  layer: number;
  layerPresent: number;
  layerPackets: number;
  layerFrames: number;
  layerBytes: bigint;
}

/** Reads slot `slot`'s record. */
export function readSlot(wasm: WasmExports, slot: number): SlotRecord {
  const p = wasm.slotPtr(slot);
  if (p === 0) throw new Error(`slot ${slot} is not in use`);
  const dv = view(wasm);
  const u32 = (o: number) => dv.getUint32(p + o, true);
  const u64 = (o: number) => dv.getBigUint64(p + o, true);
  return {
    count: u32(SLOT.COUNT),
    score: dv.getFloat32(p + SLOT.SCORE, true),
    primaryPackets: u32(SLOT.PRIMARY_PACKETS),
    retransmitPackets: u32(SLOT.RETRANSMIT_PACKETS),
    paddingPackets: u32(SLOT.PADDING_PACKETS),
    packetsLost: u32(SLOT.PACKETS_LOST),
    frames: u32(SLOT.FRAMES),
    nacks: u32(SLOT.NACKS),
    plis: u32(SLOT.PLIS),
    firs: u32(SLOT.FIRS),
    rtt: u32(SLOT.RTT),
    jitter: u32(SLOT.JITTER),
    primaryBytes: u64(SLOT.PRIMARY_BYTES),
    retransmitBytes: u64(SLOT.RETRANSMIT_BYTES),
    paddingBytes: u64(SLOT.PADDING_BYTES),
    layer: dv.getInt32(p + SLOT.LAYER, true),
    layerPresent: u32(SLOT.LAYER_PRESENT),
    layerPackets: u32(SLOT.LAYER_PACKETS),
    layerFrames: u32(SLOT.LAYER_FRAMES),
    layerBytes: u64(SLOT.LAYER_BYTES),
  };
}

/** The raw 96 bytes of slot `slot` (a copy). */
export function slotBytes(wasm: WasmExports, slot: number): Uint8Array {
  const p = wasm.slotPtr(slot);
  return new Uint8Array(wasm.memory.buffer, p, SLOT.SIZE).slice();
}

/**
 * Asserts-friendly form of two slot records' raw bytes: equal bytes, except that two NaN scores
 * compare equal whatever their payload (wasm does not fix NaN bits).
 */
export function normalizedSlotBytes(bytes: Uint8Array): string {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const copy = bytes.slice();
  if (Number.isNaN(dv.getFloat32(SLOT.SCORE, true))) new DataView(copy.buffer).setUint32(SLOT.SCORE, 0x7fc00000, true);
  return Buffer.from(copy).toString("hex");
}

/**
 * Writes `stat` into the scratch record the way the host does: header, stream records, then
 * the layers of all streams concatenated.
 */
export function writeScratch(wasm: WasmExports, stat: AnalyticsStat): void {
  const s = wasm.scratchPtr();
  const dv = view(wasm);
  new Uint8Array(wasm.memory.buffer, s, SCRATCH.LAYERS + SCRATCH.MAX_LAYERS * SCRATCH.LAYER_SIZE).fill(0);
  dv.setFloat32(s + SCRATCH.SCORE, stat.score, true);
  dv.setUint32(s + SCRATCH.STREAM_COUNT, stat.streams.length, true);
  let layers = 0;
  stat.streams.forEach((st, i) => {
    const p = s + SCRATCH.HEADER_SIZE + i * SCRATCH.STREAM_SIZE;
    dv.setUint32(p + SCRATCH.STREAM_PRIMARY_PACKETS, st.primaryPackets, true);
    dv.setUint32(p + SCRATCH.STREAM_RETRANSMIT_PACKETS, st.retransmitPackets, true);
    dv.setUint32(p + SCRATCH.STREAM_PADDING_PACKETS, st.paddingPackets, true);
    dv.setUint32(p + SCRATCH.STREAM_PACKETS_LOST, st.packetsLost, true);
    dv.setUint32(p + SCRATCH.STREAM_FRAMES, st.frames, true);
    dv.setUint32(p + SCRATCH.STREAM_NACKS, st.nacks, true);
    dv.setUint32(p + SCRATCH.STREAM_PLIS, st.plis, true);
    dv.setUint32(p + SCRATCH.STREAM_FIRS, st.firs, true);
    dv.setUint32(p + SCRATCH.STREAM_RTT, st.rtt, true);
    dv.setUint32(p + SCRATCH.STREAM_JITTER, st.jitter, true);
    dv.setBigUint64(p + SCRATCH.STREAM_PRIMARY_BYTES, st.primaryBytes, true);
    dv.setBigUint64(p + SCRATCH.STREAM_RETRANSMIT_BYTES, st.retransmitBytes, true);
    dv.setBigUint64(p + SCRATCH.STREAM_PADDING_BYTES, st.paddingBytes, true);
    for (const l of st.videoLayers) {
      const q = s + SCRATCH.LAYERS + layers * SCRATCH.LAYER_SIZE;
      dv.setInt32(q + SCRATCH.LAYER_LAYER, l.layer, true);
      dv.setUint32(q + SCRATCH.LAYER_PACKETS, l.packets, true);
      dv.setUint32(q + SCRATCH.LAYER_FRAMES, l.frames, true);
      dv.setBigUint64(q + SCRATCH.LAYER_BYTES, l.bytes, true);
      layers++;
    }
  });
  dv.setUint32(s + SCRATCH.LAYER_COUNT, layers, true);
}

/** Copies `bytes` into the input buffer and runs decodeFold on them. */
export function decodeFold(wasm: WasmExports, bytes: Uint8Array, slot: number): number {
  const ptr = wasm.inputPtr(bytes.length);
  if (ptr === 0) throw new Error("inputPtr: out of memory");
  new Uint8Array(wasm.memory.buffer, ptr, bytes.length).set(bytes);
  return wasm.decodeFold(ptr, bytes.length, slot);
}

/** INFO.errorOffset of the last decodeFold. */
export function errorOffset(wasm: WasmExports): number {
  return view(wasm).getUint32(wasm.infoPtr() + INFO.ERROR_OFFSET, true);
}

/** The decode info record of the last decodeFold, strings decoded. */
export function readInfo(wasm: WasmExports): { kind: number; roomId: string | undefined; participantId: string | undefined; trackId: string | undefined } {
  const dv = view(wasm);
  const i = wasm.infoPtr();
  const str = (ptrOff: number, lenOff: number): string | undefined => {
    const p = dv.getUint32(i + ptrOff, true);
    const n = dv.getUint32(i + lenOff, true);
    if (p === 0 && n === 0) return undefined;
    // ignoreBOM: a leading U+FEFF is text, as protobuf-es reads it
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array(wasm.memory.buffer, p, n));
  };
  return {
    kind: dv.getInt32(i + INFO.KIND, true),
    roomId: str(INFO.ROOM_ID_PTR, INFO.ROOM_ID_BYTES),
    participantId: str(INFO.PARTICIPANT_ID_PTR, INFO.PARTICIPANT_ID_BYTES),
    trackId: str(INFO.TRACK_ID_PTR, INFO.TRACK_ID_BYTES),
  };
}

/** Builds an AnalyticsStat from an init object (protobuf-es `create`). */
export function stat(init: MessageInitShape<typeof AnalyticsStatSchema> = {}): AnalyticsStat {
  return create(AnalyticsStatSchema, init);
}

/** Encodes an AnalyticsStat (protobuf-es `toBinary`). */
export function encode(s: AnalyticsStat): Uint8Array {
  return toBinary(AnalyticsStatSchema, s);
}

// ---- hand-built wire bytes ----

/** A varint of `value` (unsigned, up to 64 bits). */
export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A tag for field `fieldNo` with wire type `wireType`. */
export function tag(fieldNo: number, wireType: number): number[] {
  return varint((BigInt(fieldNo) << 3n) | BigInt(wireType));
}

/** A length-delimited field. */
export function lengthDelimited(fieldNo: number, body: ArrayLike<number>): number[] {
  return [...tag(fieldNo, 2), ...varint(body.length), ...Array.from(body)];
}

/** Concatenates byte lists into a Uint8Array. */
export function bytesOf(...parts: ArrayLike<number>[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

/**
 * Folds `stats` into a fresh slot twice, through foldScratch() and through decodeFold(), asserts
 * that both slot records are byte-identical, and returns the record with the return codes.
 */
export function foldBoth(build: Build, stats: AnalyticsStat[]): { slot: SlotRecord; results: number[] } {
  const wasm = instantiate(build);
  const a = wasm.allocSlot();
  const b = wasm.allocSlot();
  const results: number[] = [];
  for (const s of stats) {
    writeScratch(wasm, s);
    const r1 = wasm.foldScratch(a);
    const r2 = decodeFold(wasm, encode(s), b);
    if (r1 !== r2) throw new Error(`foldScratch gave ${r1}, decodeFold gave ${r2}`);
    results.push(r1);
  }
  const x = normalizedSlotBytes(slotBytes(wasm, a));
  const y = normalizedSlotBytes(slotBytes(wasm, b));
  if (x !== y) throw new Error(`slot records differ:\n scratch ${x}\n decoded ${y}`);
  return { slot: readSlot(wasm, a), results };
}

/** What protobuf-es and the wasm decoder made of one input. */
export interface Verdict {
  status: number;
  offset: number;
  esError: string | undefined;
}

/**
 * Decodes `bytes` with protobuf-es `fromBinary` and with decodeFold() into a fresh slot, and
 * asserts they agree: both reject (malformed), or both accept, in which case the slot record
 * equals the one the scratch path gives for the object fromBinary decoded, and the info record
 * holds its kind and ids. The one allowed difference: an unknown-field varint longer than 10
 * bytes, which only the wasm decoder rejects (see "Bad input" in docs/rules.md).
 */
export function checkAgainstProtobufEs(wasm: WasmExports, bytes: Uint8Array, label = ""): Verdict {
  let decoded: AnalyticsStat | undefined;
  let esError: string | undefined;
  try {
    decoded = fromBinary(AnalyticsStatSchema, bytes);
  } catch (e) {
    esError = (e as Error).message;
  }
  const slot = wasm.allocSlot();
  const status = decodeFold(wasm, bytes, slot);
  const offset = errorOffset(wasm);
  const where = `${label} input ${Buffer.from(bytes).toString("hex")}`;
  const malformed = status < 0 && status >= STATUS.TOO_DEEP;
  if (decoded === undefined) {
    if (!malformed) throw new Error(`protobuf-es rejects (${esError}) but decodeFold gave ${status}: ${where}`);
  } else if (malformed) {
    const overlongVarint = status === STATUS.BAD_VARINT && bytes.length >= offset + 10 && bytes.subarray(offset, offset + 10).every((b) => b & 0x80);
    if (!overlongVarint) throw new Error(`protobuf-es accepts but decodeFold gave ${status} at ${offset}: ${where}`);
  } else {
    const tooManyStreams = decoded.streams.length > 64;
    const tooManyLayers = decoded.streams.some((s) => s.videoLayers.length > 32);
    if (tooManyStreams || tooManyLayers) {
      const allowed: number[] = [];
      if (tooManyStreams) allowed.push(STATUS.TOO_MANY_STREAMS);
      if (tooManyLayers) allowed.push(STATUS.TOO_MANY_LAYERS);
      if (!allowed.includes(status)) throw new Error(`expected a limit status, got ${status}: ${where}`);
      if (view(wasm).getUint32(wasm.slotPtr(slot), true) !== 0) throw new Error(`folded over a limit: ${where}`);
    } else {
      const info = readInfo(wasm);
      if (info.kind !== decoded.kind) throw new Error(`kind ${info.kind} != ${decoded.kind}: ${where}`);
      if ((info.roomId ?? "") !== decoded.roomId) throw new Error(`roomId differs: ${where}`);
      if ((info.participantId ?? "") !== decoded.participantId) throw new Error(`participantId differs: ${where}`);
      if ((info.trackId ?? "") !== decoded.trackId) throw new Error(`trackId differs: ${where}`);
      const got = normalizedSlotBytes(slotBytes(wasm, slot));
      const ref = wasm.allocSlot();
      writeScratch(wasm, decoded);
      const refStatus = wasm.foldScratch(ref);
      if (refStatus !== status) throw new Error(`decodeFold gave ${status}, foldScratch ${refStatus}: ${where}`);
      const want = normalizedSlotBytes(slotBytes(wasm, ref));
      if (got !== want) throw new Error(`slot records differ:\n decoded ${got}\n scratch ${want}\n ${where}`);
      wasm.freeSlot(ref);
    }
  }
  wasm.freeSlot(slot);
  return { status, offset, esError };
}
