// An HTTP receiver for the end-to-end benchmark, run in a child process: it decodes every
// AnalyticsStats body with protobuf-es, counts stats and distinct ids, prints its port on stdout,
// and answers GET /count with what it holds as JSON.
import { fromBinary } from "@bufbuild/protobuf";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { AnalyticsStatsSchema } from "../../src/gen/livekit/livekit_analytics_pb.ts";

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
    for (const s of fromBinary(AnalyticsStatsSchema, Buffer.concat(parts)).stats) {
      stats++;
      ids.add(s.id);
    }
    requests++;
    res.writeHead(204).end();
  });
});
server.listen(0, "127.0.0.1", () => console.log(String((server.address() as AddressInfo).port)));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
