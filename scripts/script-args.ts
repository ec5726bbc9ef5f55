/**
 * Argument parsing for the npm scripts (`npm run fuzz`, `npm run soak`): `--help` prints the
 * usage and exits 0; a parse error prints one line and the usage hint and exits 2.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `process.argv` with `options` (plus `-h`/`--help`); exits the process for `--help` and
 * for malformed arguments, so callers only see valid values.
 */
export function parseScriptArgs<T extends Options>(usage: string, options: T) {
  try {
    const { values } = parseArgs<ParseArgsConfig>({
      args: process.argv.slice(2),
      options: { ...options, help: { type: "boolean", short: "h", default: false } },
      strict: true,
      allowPositionals: false,
    });
    if ((values as Record<string, unknown>)["help"] === true) {
      process.stdout.write(usage.endsWith("\n") ? usage : `${usage}\n`);
      process.exit(0);
    }
    return values as unknown as { [K in keyof T]: T[K]["type"] extends "boolean" ? boolean : string | undefined };
  } catch (err) {
    // parseArgs messages can span lines; one line is what a terminal user can read at a glance
    const message = String((err as Error).message).replace(/\s*\n\s*/g, " ");
    process.stderr.write(`${message}\n${usage.split("\n")[0]}\n`);
    process.exit(2);
  }
}
