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
import { aggregate } from "./aggregate.ts";
import { CliError, isUsageError } from "./args.ts";
import { collect } from "./collect.ts";
import { INTERRUPTED_EXIT_CODE } from "./interrupt.ts";
import { receive } from "./receive.ts";
import { simulate } from "./simulate.ts";

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
    switch (command) {
      case "simulate":
        return await simulate(rest);
      case "aggregate":
        return await aggregate(rest);
      case "collect":
        return await collect(rest);
      case "receive":
        return await receive(rest);
      case "-v":
      case "--version":
        process.stdout.write(`${version()}\n`);
        return 0;
      case "-h":
      case "--help":
      case "help":
        if (rest[0] === "simulate") return await simulate(["--help"]);
        if (rest[0] === "aggregate") return await aggregate(["--help"]);
        if (rest[0] === "collect") return await collect(["--help"]);
        if (rest[0] === "receive") return await receive(["--help"]);
        process.stdout.write(HELP);
        return 0;
      case undefined:
        process.stderr.write("statsworker: missing command (simulate or aggregate); see 'statsworker --help'\n");
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
