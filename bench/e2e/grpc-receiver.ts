// An IngestStats receiver for the end-to-end gRPC benchmark, run in a child process: the
// package's ingestStatsHandler on a grpc-js server, counting stats and distinct ids. Prints its
// port on stdout; on SIGUSR2 prints what it holds as one JSON line; exits on SIGTERM.
import * as grpc from "@grpc/grpc-js";
import { analyticsRecorderServiceDefinition, ingestStatsHandler } from "../../src/grpc/index.ts";

let stats = 0;
let messages = 0;
let streams = 0;
const ids = new Set<string>();
const server = new grpc.Server();
server.addService(analyticsRecorderServiceDefinition, {
  IngestStats: ingestStatsHandler({
    onStats(batch, { index }) {
      if (index === 0) streams++;
      messages++;
      for (const s of batch) {
        stats++;
        ids.add(s.id);
      }
    },
  }),
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(String(port));
});
process.on("SIGUSR2", () => console.log(JSON.stringify({ stats, messages, streams, distinctIds: ids.size })));
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
