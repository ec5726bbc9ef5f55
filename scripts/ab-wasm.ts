/**
 * A/B timing of two builds of the engine module in one process over the same messages:
 * `node --import tsx scripts/ab-wasm.ts OLD.wasm NEW.wasm [--rounds N] [--windows N]`.
 *
 * Both modules are instantiated raw (no host code) and fed the W2 corpus: `decode` runs
 * decodeFold over every message of a window (decode and validate only); `batch` runs
 * ingestBatch over the window's size-delimited buffer and drainEncode over every worker. Each
 * build runs in two instances and rounds rotate over all four, so that a noisy shared machine
 * slows both alike; the report gives the median and the fastest time per stat of each and the
 * ratios NEW / OLD (below 1 is faster). Run it with OLD.wasm twice to see the noise floor. Both
 * builds must produce the same drained bytes, or the run fails.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { w2 } from "../bench/corpus.ts";
import type { WasmExports } from "../src/engine/wasm/abi.ts";

function parse(argv: string[]): { a: string; b: string; rounds: number; windows: number } {
  const files: string[] = [];
  let rounds = 15;
  let windows = 4;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--rounds") rounds = Number(argv[++i]);
    else if (arg === "--windows") windows = Number(argv[++i]);
    else files.push(arg);
  }
  if (files.length !== 2 || !(rounds > 0) || !(windows > 0)) {
    console.error("usage: node --import tsx scripts/ab-wasm.ts OLD.wasm NEW.wasm [--rounds N] [--windows N]");
    process.exit(2);
  }
  return { a: files[0]!, b: files[1]!, rounds, windows };
}

function instantiate(file: string): WasmExports {
  const module = new WebAssembly.Module(readFileSync(file));
  const instance = new WebAssembly.Instance(module, {
    env: { abort: () => { throw new Error(`${file}: abort`); } },
  });
  return instance.exports as unknown as WasmExports;
}

/** One build loaded with the corpus's participants as routed workers. */
class Subject {
  readonly wasm: WasmExports;
  readonly router: number;
  readonly workers: number[] = [];

  constructor(readonly file: string, corpus: ReturnType<typeof w2>) {
    this.wasm = instantiate(file);
    this.router = this.wasm.routerCreate();
    const encoder = new TextEncoder();
    for (const p of corpus.participants) {
      const room = encoder.encode(p.roomId);
      const pid = encoder.encode(p.participantId);
      const ptr = this.wasm.inputPtr(room.length + pid.length);
      const u8 = new Uint8Array(this.wasm.memory.buffer);
      u8.set(room, ptr);
      u8.set(pid, ptr + room.length);
      const worker = this.wasm.workerCreate(ptr, room.length, pid.length, 0, this.router);
      if (worker < 0) throw new Error(`${this.file}: workerCreate failed`);
      this.workers.push(worker);
    }
  }

  /** Copies `bytes` into the input buffer; returns its address. */
  load(bytes: Uint8Array): number {
    const ptr = this.wasm.inputPtr(bytes.length);
    new Uint8Array(this.wasm.memory.buffer).set(bytes, ptr);
    return ptr;
  }

  /** decodeFold over every message of `batch` (starts and lengths in `frames`). */
  decode(batch: Uint8Array, frames: Int32Array): number {
    const ptr = this.load(batch);
    const decodeFold = this.wasm.decodeFold;
    let sum = 0;
    for (let i = 0; i < frames.length; i += 2) sum += decodeFold(ptr + frames[i]!, frames[i + 1]!, -1);
    return sum;
  }

  /** ingestBatch + drainEncode of every worker; returns a checksum of the drained bytes. */
  batch(batch: Uint8Array, keep?: Uint8Array[]): number {
    const ptr = this.load(batch);
    const status = this.wasm.ingestBatch(ptr, batch.length, this.router, 0, 0, 0, 0, 0);
    if (status !== 0) throw new Error(`${this.file}: ingestBatch status ${status}`);
    let sum = 0;
    for (const worker of this.workers) {
      const n = this.wasm.drainEncode(worker, 1_700_000_000, 0, 0);
      if (n < 0) throw new Error(`${this.file}: drainEncode failed`);
      const out = this.wasm.outputPtr();
      if (keep !== undefined) keep.push(new Uint8Array(this.wasm.memory.buffer, out, n).slice());
      sum = (sum + n) | 0;
    }
    return sum;
  }
}

/** [start, length] of every size-delimited message in `batch`. */
function framesOf(batch: Uint8Array): Int32Array {
  const out: number[] = [];
  let pos = 0;
  while (pos < batch.length) {
    let length = 0;
    let shift = 0;
    let b: number;
    do {
      b = batch[pos++]!;
      length |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    out.push(pos, length);
    pos += length;
  }
  return Int32Array.from(out);
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1]!;
}

const args = parse(process.argv.slice(2));
const corpus = w2();
const windows = corpus.windows.slice(0, args.windows);
const frames = windows.map((w) => framesOf(w.batch));
const stats = windows.reduce((n, w) => n + w.stats.length, 0);
// two instances of each build, A B B A, so that whatever favours an instance by its position
// (instantiation order, memory placement) falls on both builds alike
const subjects = [new Subject(args.a, corpus), new Subject(args.b, corpus), new Subject(args.b, corpus), new Subject(args.a, corpus)];
const build = [0, 1, 1, 0];

// same results first: every drained byte of every window
const drained = subjects.map((s) => {
  const keep: Uint8Array[] = [];
  for (const w of windows) s.batch(w.batch, keep);
  return Buffer.concat(keep).toString("hex");
});
if (drained.some((d) => d !== drained[0])) {
  console.error("ab-wasm: the two builds drain different bytes");
  process.exit(1);
}

const cases = {
  decode: (s: Subject) => windows.reduce((n, w, i) => n + s.decode(w.batch, frames[i]!), 0),
  batch: (s: Subject) => windows.reduce((n, w) => n + s.batch(w.batch), 0),
};
let sink = 0;
for (const [name, run] of Object.entries(cases)) {
  const times: [number[], number[]] = [[], []];
  for (const s of subjects) for (let i = 0; i < 3; i++) sink += run(s); // warm-up
  for (let r = 0; r < args.rounds; r++) {
    // each round starts at the next instance, so drift over time weighs on both builds alike
    for (let j = 0; j < subjects.length; j++) {
      const k = (r + j) % subjects.length;
      const t0 = process.hrtime.bigint();
      sink += run(subjects[k]!);
      times[build[k]!]!.push(Number(process.hrtime.bigint() - t0) / stats);
    }
  }
  const a = median(times[0]);
  const b = median(times[1]);
  // the fastest run is the least disturbed by other processes: its ratio is the steadier one
  const a0 = Math.min(...times[0]);
  const b0 = Math.min(...times[1]);
  console.log(
    `${name.padEnd(7)} median old ${a.toFixed(1)} new ${b.toFixed(1)} ns/stat, new/old ${(b / a).toFixed(3)}; ` +
      `fastest old ${a0.toFixed(1)} new ${b0.toFixed(1)}, new/old ${(b0 / a0).toFixed(3)}`,
  );
}
console.log(`(${stats} stats per run, ${args.rounds} rounds, median; sizes old ${readFileSync(args.a).length} B, new ${readFileSync(args.b).length} B; checksum ${sink & 0xff})`);
