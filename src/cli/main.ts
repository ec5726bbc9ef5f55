#!/usr/bin/env node
/**
 * The `statsworker` command line.
 *
 * @module
 */
import { simulate } from "./simulate.ts";

const HELP = `usage: statsworker <command> [options]

LiveKit-compatible telemetry aggregation (StatsWorker) with a WebAssembly hot path.

commands:
  simulate    drive a synthetic SFU through a TelemetryService and print a summary

Run 'statsworker <command> --help' for a command's options.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "simulate":
        await simulate(rest);
        return 0;
      case undefined:
      case "-h":
      case "--help":
      case "help":
        process.stdout.write(HELP);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`statsworker: unknown command ${JSON.stringify(command)}; see 'statsworker --help'\n`);
        return 2;
    }
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options
    if (e?.name === "UsageError" || (typeof e?.code === "string" && e.code.startsWith("ERR_PARSE_ARGS"))) {
      process.stderr.write(`statsworker ${command}: ${e.message}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
