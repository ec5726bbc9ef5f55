/**
 * `statsworker receive --grpc HOST:PORT`: a LiveKit `AnalyticsRecorderService` that writes every
 * stat it receives over `IngestStats` as NDJSON.
 *
 * @module
 */
import { toJsonString } from "@bufbuild/protobuf";
import { parseArgs } from "node:util";
import { AnalyticsStatSchema } from "../gen/livekit/livekit_analytics_pb.ts";
import type { IngestStatsImplementation } from "../grpc/index.ts";
import { CliError, UsageError, durationOption, intOption } from "./args.ts";
import { Output } from "./capture.ts";
import { formatCount, formatTable } from "./summary.ts";

/** Help text of `statsworker receive`. */
export const RECEIVE_HELP = `usage: statsworker receive --grpc HOST:PORT [options]

Serves LiveKit's AnalyticsRecorderService (livekit.AnalyticsRecorderService/IngestStats, a
client stream of AnalyticsStats messages answered with google.protobuf.Empty) and writes every
stat it receives as NDJSON: one proto3-JSON AnalyticsStat per line, in arrival order. A LiveKit
server or this package's AnalyticsRecorderReporter can send to it.

A stream is answered (acknowledged) only after all its lines were handed to the operating
system, so a sender that resends unacknowledged streams loses nothing; a stream that failed is
resent whole, so a line can appear more than once: de-duplicate by "id". A message that is not
a valid AnalyticsStats ends its stream with INVALID_ARGUMENT; IngestEvents and
IngestNodeRoomStates answer UNIMPLEMENTED. The server speaks plaintext HTTP/2 (no TLS): bind it
to a loopback or private address, or put a TLS proxy in front.

The address bound is printed on stderr ('listening on HOST:PORT'; port 0 picks a free one).
SIGINT or SIGTERM stops it: open streams get until --shutdown-timeout to finish, the output is
flushed, a summary is printed on stderr, and the exit code is 0.

options:
  --grpc HOST:PORT        address to listen on, like 127.0.0.1:50051 or [::1]:0 (required)
  --out FILE              where to write; FILE is replaced (default '-': stdout, so
                          '>> FILE' appends)
  --max-message-bytes N   largest AnalyticsStats message accepted (default 4194304, 4 MiB)
  --shutdown-timeout DUR  how long open streams may take to finish on SIGINT/SIGTERM
                          (default 5s)
  -q, --quiet             no summary on stderr
  -h, --help              show this help

Exit codes: 0 stopped by a signal, 1 failure (the address cannot be bound, the output cannot be
written), 2 bad arguments.

example:
  statsworker receive --grpc 127.0.0.1:50051 --out stats.ndjson
`;

const MAX_MESSAGE_BYTES = 1 << 30;

/**
 * Parses `HOST:PORT` (an IPv6 host in brackets) or throws a UsageError naming the option.
 * Returns the address as grpc-js binds it.
 */
export function hostPortOption(name: string, value: string | undefined): string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value ?? "");
  if (m === null || Number(m[2]) > 65535) {
    throw new UsageError(`${name} must be HOST:PORT with a port from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return value!;
}

/** Runs `receive` with `argv` (the arguments after the command name) and returns the exit code. */
export async function receive(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      grpc: { type: "string" },
      out: { type: "string", default: "-" },
      "max-message-bytes": { type: "string", default: String(4 * 1024 * 1024) },
      "shutdown-timeout": { type: "string", default: "5s" },
      quiet: { type: "boolean", short: "q", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(RECEIVE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.grpc === undefined) throw new UsageError("missing --grpc HOST:PORT (the address to listen on)");
  const address = hostPortOption("--grpc", values.grpc);
  const maxMessageBytes = intOption("--max-message-bytes", values["max-message-bytes"], 1024, MAX_MESSAGE_BYTES);
  const shutdownMs = durationOption("--shutdown-timeout", values["shutdown-timeout"], 0, 3_600_000);

  // Loaded here, not at the top: @grpc/grpc-js is an optional peer dependency, and the other
  // commands must work without it.
  let grpc: typeof import("@grpc/grpc-js");
  let service: typeof import("../grpc/index.ts");
  try {
    grpc = await import("@grpc/grpc-js");
    service = await import("../grpc/index.ts");
  } catch (err) {
    throw new CliError(`cannot load @grpc/grpc-js (npm install @grpc/grpc-js): ${(err as Error).message}`);
  }

  // Output opens the file now and throws a one-line CliError when it cannot: a receiver that
  // cannot store anything fails before it accepts streams
  const output = new Output(values.out);
  const totals = { streams: 0, acknowledged: 0, refused: 0, messages: 0, stats: 0, bytes: 0 };
  let writeFailure: CliError | undefined;
  let stop: () => void = () => {};

  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxMessageBytes,
    // a reporter keeps its stream open for a while; keepalive pings find dead peers
    "grpc.keepalive_time_ms": 30_000,
  });
  const handler = service.ingestStatsHandler({
    async onStats(stats) {
      totals.messages++;
      if (stats.length === 0) return;
      let text = "";
      for (const stat of stats) text += toJsonString(AnalyticsStatSchema, stat) + "\n";
      try {
        await writeThrough(output, text);
      } catch (err) {
        // Refuse (UNAVAILABLE, so senders keep their stats) and stop: nothing more can be stored.
        writeFailure ??= outputError(output, err);
        stop();
        throw err;
      }
      totals.stats += stats.length;
      totals.bytes += Buffer.byteLength(text);
    },
  });
  const ingestStats: IngestStatsImplementation = (call, callback) => {
    totals.streams++;
    handler(call, (err, value) => {
        if (err === null) totals.acknowledged++;
        else totals.refused++;
        callback(err, value);
      });
  };
  server.addService(service.analyticsRecorderServiceDefinition, { IngestStats: ingestStats });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  ).catch((err: unknown) => {
    throw new CliError(`cannot listen on ${address}: ${(err as Error).message}`);
  });
  const host = address.slice(0, address.lastIndexOf(":"));
  process.stderr.write(`statsworker receive: listening on ${host}:${port}\n`);

  const stopped = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => resolve(signal);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    stop = () => resolve("write failure");
  });
  const reason = await stopped;
  await new Promise<void>((resolve) => {
    // Streams still open at the deadline are cut; their senders resend them elsewhere or later.
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, shutdownMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  await output.close();
  if (!values.quiet) {
    process.stderr.write(
      formatTable(`statsworker receive: stopped (${reason})`, [
          ["streams", formatCount(totals.streams)],
          ["streams acknowledged", formatCount(totals.acknowledged)],
          ["streams refused", formatCount(totals.refused)],
          ["messages", formatCount(totals.messages)],
          ["stats written", formatCount(totals.stats)],
          ["bytes written", formatCount(totals.bytes)],
        ]),
    );
  }
  if (writeFailure !== undefined) throw writeFailure;
  return 0;
}

// Resolves once the text is handed to the operating system (the write callback), not merely
// buffered in the stream: only then may the stream be acknowledged.
function writeThrough(output: Output, text: string): Promise<void> {
  output.check();
  return new Promise((resolve, reject) =>
    output.stream.write(text, (err) => (err === null || err === undefined ? resolve() : reject(err))),
  );
}

// The CliError a failed write ends the command with: quiet and 0 when a reader closed the stdout
// pipe (`statsworker receive ... | head`), as Output.check() does.
function outputError(output: Output, err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (output.isStdout && (err as { code?: unknown }).code === "EPIPE") return new CliError("", 0);
  return new CliError(`cannot write output: ${err instanceof Error ? err.message : String(err)}`);
}
