// An HTTP receiver for the end-to-end benchmark, run in a child process: it walks every
// AnalyticsStats body with protobuf-es's BinaryReader, counting stats and distinct ids (the last
// `id`, field 14, of each stat), prints its port on stdout, and answers GET with what it holds as
// JSON. It answers each POST before walking the body, and decodes nothing else, so the benchmark
// measures the sender rather than a receiver's decoder.
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

function countStats(body: Uint8Array): void {
  const batch = new BinaryReader(body);
  while (batch.pos < batch.len) {
    const [field, wireType] = batch.tag();
    if (field !== 1) {
      batch.skip(wireType, field);
      continue;
    }
    const stat = new BinaryReader(batch.bytes());
    let id = "";
    while (stat.pos < stat.len) {
      const [f, w] = stat.tag();
      if (f === 14) id = stat.string();
      else stat.skip(w, f);
    }
    stats++;
    ids.add(id);
  }
}

let stats = 0;
let requests = 0;
const ids = new Set<string>();
const server = createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ stats, requests, distinctIds: ids.size }));
    return;
  }
  const parts: Buffer[] = [];
  req.on("data", (p: Buffer) => parts.push(p));
  req.on("end", () => {
    res.writeHead(204).end();
    requests++;
    countStats(Buffer.concat(parts));
  });
});
server.listen(0, "127.0.0.1", () => console.log(String((server.address() as AddressInfo).port)));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
