/**
 * Option-value checks shared by the `statsworker` commands. Parsing itself is `node:util`
 * `parseArgs`; these turn its strings into numbers and enums, or throw a {@link UsageError}.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** A command-line mistake: printed as one line on stderr, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * A failure while running a command that is not a bug (a missing file, a malformed capture):
 * printed as one line on stderr, exit code 1.
 */
export class CliError extends Error {
  override readonly name = "CliError";
  /** the process exit code; 0 for a quiet early end (a reader closed the stdout pipe) */
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Reports whether `err` is a usage mistake: a {@link UsageError} or a `parseArgs` error. */
export function isUsageError(err: unknown): err is Error {
  const e = err as { name?: unknown; code?: unknown } | null;
  // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options
  return e?.name === "UsageError" || (typeof e?.code === "string" && e.code.startsWith("ERR_PARSE_ARGS"));
}

/** The option table of one command, as `node:util` `parseArgs` takes it. */
export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a command's arguments strictly. Unlike plain `parseArgs`, a value that starts with a
 * dash and a digit (`--seed -1`) is taken as the option's value, so that the range check can name
 * it; a parse error becomes a one-line {@link UsageError}.
 */
export function parseCommandArgs<T extends CommandOptions>(
  argv: readonly string[],
  options: T,
  allowPositionals: boolean,
): ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: boolean }>> {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError(String((err as Error).message).replace(/\s*\n\s*/g, " "));
  }
}

/** Parses an integer option in [min, max] or throws a UsageError naming it. */
export function intOption(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Parses a number option (decimals allowed) in [min, max] or throws a UsageError naming it. */
export function numberOption(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value) || n < min || n > max) {
    throw new UsageError(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Parses `N` or `MIN-MAX` into an inclusive integer range within [min, max], or throws a
 * UsageError naming the option.
 */
export function rangeOption(name: string, value: string | undefined, min: number, max: number): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(value ?? "");
  const lo = Number(m?.[1]);
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (m === null || lo < min || hi > max || lo > hi) {
    throw new UsageError(`${name} must be N or MIN-MAX with integers from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return [lo, hi];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `10s`, `500ms`, `1.5m` or `1h` into whole milliseconds within
 * [minMs, maxMs], or throws a UsageError naming the option. A unit is required.
 */
export function durationOption(name: string, value: string | undefined, minMs: number, maxMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value ?? "");
  const ms = m === null ? NaN : Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
  if (!(ms >= minMs && ms <= maxMs)) {
    throw new UsageError(
      `${name} must be a duration from ${minMs} ms to ${maxMs / 1000} s with a unit (ms, s, m, h), like 10s or 500ms, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** Checks that an option is one of `allowed` or throws a UsageError naming it. */
export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new UsageError(`${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Checks that `value` parses as an http(s) URL or throws a UsageError naming the option. */
export function urlOption(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${name} must be an http or https URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`${name} must be an http or https URL, got ${JSON.stringify(value)}`);
  }
  return url;
}
