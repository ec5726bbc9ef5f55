#!/usr/bin/env node
/**
 * The `statsworker` command line: `simulate`, `aggregate`, `collect` and `receive`.
 *
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 bad arguments (one line on stderr),
 * 130 interrupted by SIGINT.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { CliError, isUsageError } from "./args.ts";
import { INTERRUPTED_EXIT_CODE } from "./interrupt.ts";

type Command = (argv: string[]) => Promise<number>;

// Each command is loaded when it runs: `collect` alone pulls in the Redis client and `receive`
// gRPC, which every other command would otherwise spend startup time loading.
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  simulate: async () => (await import("./simulate.ts")).simulate,
  aggregate: async () => (await import("./aggregate.ts")).aggregate,
  collect: async () => (await import("./collect.ts")).collect,
  receive: async () => (await import("./receive.ts")).receive,
};

const HELP = `usage: statsworker <command> [options]

LiveKit-compatible telemetry aggregation (StatsWorker) with a WebAssembly hot path.

commands:
  simulate           drive a synthetic SFU through a TelemetryService and print a summary
  aggregate FILE     replay a capture (size-delimited or NDJSON AnalyticsStat messages),
                     windowed by time stamp, and write the coalesced stats
  collect            read a fleet's stats from a Redis stream as one consumer of a group
                     and write them as NDJSON, at least once
  receive --grpc H:P serve LiveKit's AnalyticsRecorderService/IngestStats and write what
                     arrives as NDJSON

options:
  -v, --version      print the package version and exit
  -h, --help         show this help

Run 'statsworker <command> --help' for a command's options. Exit codes: 0 done, 1 failure
(one line on stderr), 2 bad arguments (one line on stderr), 130 interrupted (Ctrl+C).
`;

/** The package version, from the package.json two folders up (from src/cli/ and dist/cli/ alike). */
function version(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const load = command === undefined ? undefined : Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (load !== undefined) return await (await load())(rest);
    switch (command) {
      case "-v":
      case "--version":
        process.stdout.write(`${version()}\n`);
        return 0;
      case "-h":
      case "--help":
      case "help": {
        const help = rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0]) ? COMMANDS[rest[0]] : undefined;
        if (help !== undefined) return await (await help())(["--help"]);
        process.stdout.write(HELP);
        return 0;
      }
      case undefined:
        process.stderr.write("statsworker: missing command (simulate, aggregate, collect or receive); see 'statsworker --help'\n");
        return 2;
      default:
        process.stderr.write(`statsworker: unknown command ${JSON.stringify(command)}; see 'statsworker --help'\n`);
        return 2;
    }
  } catch (err) {
    if (isUsageError(err)) {
      process.stderr.write(`statsworker ${command}: ${err.message}; see 'statsworker ${command} --help'\n`);
      return 2;
    }
    if (err instanceof CliError) {
      if (err.message !== "") process.stderr.write(`statsworker ${command}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
if (code === INTERRUPTED_EXIT_CODE) {
  // A read of a pipe or FIFO that sends nothing may still be pending and would keep the process
  // alive. Writes to stdout and stderr are synchronous for files, pipes and terminals on Linux,
  // and the outputs were closed before the summary: nothing is lost by exiting now.
  process.exit(code);
}
