/**
 * `statsworker collect`: one collector of a fleet, reading the stats that nodes add to a Redis
 * stream and writing them as NDJSON, at least once.
 *
 * @module
 */
import { open, type FileHandle } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { Logger } from "../logger.ts";
import { checkRedisUrl, redactUrl } from "../redis/client.ts";
import { StreamCollector } from "../redis/stream-collector.ts";
import { CliError, UsageError, intOption } from "./args.ts";

/** Help text of `statsworker collect`. */
export const COLLECT_HELP = `usage: statsworker collect --redis URL --stream NAME --group NAME --consumer NAME [options]

Reads the AnalyticsStats batches that fleet nodes add to a Redis stream (RedisStreamReporter,
or 'statsworker simulate --redis') as one consumer of a consumer group, and writes every stat
as one proto3-JSON AnalyticsStat per line, as 'simulate --out' does.

The group is created (from the start of the stream) when it is missing. An entry is
acknowledged (XACK) only after its lines are written and flushed: appended to the file and
synced to disk, or accepted by stdout. Entries left pending by a consumer that died are taken
over once idle for --claim-idle-ms (XAUTOCLAIM). A lost connection is retried forever. On
SIGTERM or SIGINT the collector finishes the read in progress, acknowledges it and exits.

Delivery is at least once: after a crash or a lost acknowledgement an entry can be written
twice. Every stat carries a unique id (AS_...); de-duplicate by it.

options:
  --redis URL            redis:// or rediss:// URL of the server (required)
  --stream NAME          the stream's key (required)
  --group NAME           consumer group (required)
  --consumer NAME        this consumer's name in the group (required); restart a collector
                         under the same name to finish its own pending entries first
  --out FILE             append the lines to FILE, '-' for stdout (default -)
  --claim-idle-ms N      take over entries pending for at least N ms (default 30000)
  --count N              most entries per read or claim (default 10); an entry holds up
                         to about 2 000 stats, and the last entry of a read stays pending
                         until the whole read is written, so keep reads short next to
                         --claim-idle-ms
  -h, --help             show this help

Exit codes: 0 stopped by a signal with everything written acknowledged, 1 failure (or entries
left unacknowledged because Redis stayed away), 2 bad arguments.

example:
  statsworker collect --redis redis://127.0.0.1:6379 --stream livekit:stats \\
    --group analytics --consumer "$(hostname)" --out stats.ndjson
`;

// how long the last acknowledgements may take after a signal
const STOP_DEADLINE_MS = 10_000;

function stderrLogger(): Logger {
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    process.stderr.write(`statsworker collect: ${level}: ${message}${fields ? " " + JSON.stringify(fields) : ""}\n`);
  };
  return { debug: () => {}, info: line("info"), warn: line("warn"), error: line("error") };
}

/** Opens the output: a file appended to and synced before each acknowledgement, or stdout. */
async function openSink(path: string): Promise<{ write: (text: string) => Promise<void>; close: () => Promise<void> }> {
  if (path === "-") {
    return {
      write: (text) =>
        new Promise<void>((resolve, reject) => {
          // the callback runs once the chunk is handed to the pipe or file behind stdout
          process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
        }),
      close: async () => {},
    };
  }
  let file: FileHandle;
  try {
    file = await open(path, "a");
  } catch (err) {
    throw new CliError(`cannot open ${path}: ${(err as Error).message}`);
  }
  return {
    write: async (text) => {
      await file.write(text);
      // synced before XACK: an acknowledged entry survives a crash of this machine, not only of us
      await file.datasync();
    },
    close: () => file.close(),
  };
}

/**
 * Runs `collect` with `argv` (the arguments after the command name) until SIGTERM or SIGINT,
 * and returns the exit code.
 */
export async function collect(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      redis: { type: "string" },
      stream: { type: "string" },
      group: { type: "string" },
      consumer: { type: "string" },
      out: { type: "string", default: "-" },
      "claim-idle-ms": { type: "string", default: "30000" },
      count: { type: "string", default: "10" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(COLLECT_HELP);
    return 0;
  }
  for (const name of ["redis", "stream", "group", "consumer"] as const) {
    if (values[name] === undefined || values[name] === "") throw new UsageError(`--${name} is required`);
  }
  const url = values.redis!;
  try {
    checkRedisUrl(url);
  } catch {
    throw new UsageError(`--redis must be a redis:// or rediss:// URL, got ${JSON.stringify(redactUrl(url))}`);
  }
  const claimIdleMs = intOption("--claim-idle-ms", values["claim-idle-ms"], 1, 2 ** 31 - 1);
  const count = intOption("--count", values.count, 1, 100_000);

  const logger = stderrLogger();
  const sink = await openSink(values.out!);
  const collector = new StreamCollector({
    url,
    stream: values.stream!,
    group: values.group!,
    consumer: values.consumer!,
    sink: sink.write,
    claimIdleMs,
    count,
    logger,
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    // a second signal means "now": leave what is pending for another consumer to claim
    if (signals++ > 0) process.exit(signal === "SIGINT" ? 130 : 143);
    logger.info("stopping", { signal });
    void collector.stop(STOP_DEADLINE_MS);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  logger.info("collecting", { redis: redactUrl(url), stream: values.stream, group: values.group, consumer: values.consumer });
  try {
    await collector.run();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new CliError(/^(WRONGTYPE|NOPERM)/.test(message) ? `redis refused ${values.stream}: ${message}` : `cannot write output: ${message}`);
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await sink.close();
  }
  const c = collector.counters;
  logger.info("stopped", { ...c, unacked: collector.unacked });
  if (collector.unacked > 0) {
    throw new CliError(`${collector.unacked} written entries left unacknowledged; they will be delivered again`);
  }
  return 0;
}
