// An HTTP receiver for the end-to-end benchmarks, run in a child process: it walks every
// AnalyticsStats body field by field, counting stats and distinct ids (the last `id`, field 14,
// of each stat), prints its port on stdout, and answers GET /counts with what it holds as JSON.
// It answers each POST before walking the body, and decodes nothing else: on a shared 2-core
// machine the receiver's CPU is taken from the sender, so the walk is a few varint reads per
// field (protobuf-es's BinaryReader, a reader object per stat, made the sender's wait twice as
// long), and the benchmark measures the sender rather than a receiver's decoder. Bodies POSTed to
// `/keep` are also kept, and GET /bodies answers them concatenated (one AnalyticsStats) and
// forgets them: what a benchmark checks the delivered stats with before it times anything.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Distinct stat ids, as two 32-bit hashes of the id's bytes each, in an open-addressing table
 * that doubles at half full: no string and no object per id, so a million ids cost the receiver
 * 16 MB and no collections (a Set of strings cost it long pauses, taken from the sender's core).
 * Two different ids share both hashes with odds of about n^2 / 2^64: a false duplicate (the check
 * fails), never a missed one.
 */
let table = new Uint32Array(2 * 1024 * 1024);
let distinct = 0;
let sawEmpty = false;

function addId(b: Buffer, start: number, end: number): void {
  if (start === end) {
    if (!sawEmpty) distinct++;
    sawEmpty = true;
    return;
  }
  // FNV-1a and a second multiplier: 0 is never stored (0 marks an empty slot)
  let h1 = 0x811c9dc5;
  let h2 = 0x9e3779b9;
  for (let i = start; i < end; i++) {
    h1 = Math.imul(h1 ^ b[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ b[i]!, 0x85ebca6b) ^ (h2 >>> 13);
  }
  h1 = (h1 | 1) >>> 0;
  h2 = h2 >>> 0;
  const slots = table.length >>> 1;
  let slot = h1 & (slots - 1);
  for (;;) {
    const k = table[2 * slot]!;
    if (k === 0) break;
    if (k === h1 && table[2 * slot + 1] === h2) return;
    slot = (slot + 1) & (slots - 1);
  }
  table[2 * slot] = h1;
  table[2 * slot + 1] = h2;
  distinct++;
  if (distinct * 2 > slots) grow();
}

function grow(): void {
  const old = table;
  table = new Uint32Array(old.length * 2);
  const slots = table.length >>> 1;
  for (let s = 0; s < old.length; s += 2) {
    const h1 = old[s]!;
    if (h1 === 0) continue;
    let slot = h1 & (slots - 1);
    while (table[2 * slot] !== 0) slot = (slot + 1) & (slots - 1);
    table[2 * slot] = h1;
    table[2 * slot + 1] = old[s + 1]!;
  }
}

// The body walk: a local cursor, one-byte tags and lengths (nearly all of them) read inline, the
// rare longer varint by readVarint. Lengths and tags here are below 2^32.
let cursor = 0;

function readVarint(b: Buffer, p: number): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (p >= b.length) throw new Error("truncated body");
    const byte = b[p++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      cursor = p;
      return value;
    }
    scale *= 128;
  }
}

/** The offset after the value of a field of wire type `wireType` starting at `p`. */
function skip(b: Buffer, p: number, wireType: number): number {
  switch (wireType) {
    case 0:
      while (b[p++]! >= 0x80) if (p >= b.length) throw new Error("truncated body");
      return p;
    case 1:
      return p + 8;
    case 2: {
      const length = b[p]! < 0x80 ? b[p]! : readVarint(b, p);
      return (b[p]! < 0x80 ? p + 1 : cursor) + length;
    }
    case 5:
      return p + 4;
    default:
      throw new Error(`unexpected wire type ${wireType}`);
  }
}

function countStats(body: Buffer): void {
  let p = 0;
  const n = body.length;
  while (p < n) {
    let tag = body[p]!;
    if (tag < 0x80) p++;
    else {
      tag = readVarint(body, p);
      p = cursor;
    }
    if (tag !== 0x0a) {
      p = skip(body, p, tag & 7);
      continue;
    }
    const length = readVarint(body, p);
    p = cursor;
    const end = p + length;
    let idStart = 0;
    let idEnd = 0;
    while (p < end) {
      let t = body[p]!;
      if (t < 0x80) p++;
      else {
        t = readVarint(body, p);
        p = cursor;
      }
      if (t === 0x72) {
        let idLength = body[p]!;
        if (idLength < 0x80) p++;
        else {
          idLength = readVarint(body, p);
          p = cursor;
        }
        idStart = p;
        idEnd = p + idLength;
        p = idEnd;
      } else p = skip(body, p, t & 7);
    }
    if (p !== end) throw new Error("stat runs past its length");
    stats++;
    addId(body, idStart, idEnd);
  }
}

let stats = 0;
let requests = 0;
let kept: Buffer[] = [];
const server = createServer((req, res) => {
  if (req.method === "GET") {
    if (req.url === "/bodies") {
      const body = Buffer.concat(kept);
      kept = [];
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end(body);
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ stats, requests, distinctIds: distinct }));
    return;
  }
  const parts: Buffer[] = [];
  req.on("data", (p: Buffer) => parts.push(p));
  req.on("end", () => {
    res.writeHead(204).end();
    requests++;
    const body = Buffer.concat(parts);
    if (req.url === "/keep") kept.push(body);
    countStats(body);
  });
});
server.listen(0, "127.0.0.1", () => console.log(String((server.address() as AddressInfo).port)));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
