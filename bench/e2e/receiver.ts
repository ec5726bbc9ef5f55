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

let at = 0;

/** Reads the varint at `at` (lengths and tags: below 2^32 here), moving `at` past it. */
function varint(b: Buffer): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (at >= b.length) throw new Error("truncated body");
    const byte = b[at++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
}

/** Moves `at` past the value of a field of wire type `wireType`. */
function skip(b: Buffer, wireType: number): void {
  if (wireType === 0) varint(b);
  else if (wireType === 1) at += 8;
  else if (wireType === 2) {
    // not `at += varint(b)`: that reads `at` before varint() moves it
    const length = varint(b);
    at += length;
  }
  else if (wireType === 5) at += 4;
  else throw new Error(`unexpected wire type ${wireType}`);
}

function countStats(body: Buffer): void {
  at = 0;
  while (at < body.length) {
    const tag = varint(body);
    if (tag !== 0x0a) {
      skip(body, tag & 7);
      continue;
    }
    const end = varint(body) + at;
    let id = "";
    while (at < end) {
      const t = varint(body);
      if (t === 0x72) {
        const length = varint(body);
        id = body.latin1Slice(at, at + length);
        at += length;
      } else skip(body, t & 7);
    }
    if (at !== end) throw new Error("stat runs past its length");
    stats++;
    ids.add(id);
  }
}

let stats = 0;
let requests = 0;
const ids = new Set<string>();
let kept: Buffer[] = [];
const server = createServer((req, res) => {
  if (req.method === "GET") {
    if (req.url === "/bodies") {
      const body = Buffer.concat(kept);
      kept = [];
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end(body);
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ stats, requests, distinctIds: ids.size }));
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
