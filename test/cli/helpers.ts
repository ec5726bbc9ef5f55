// Running the `statsworker` CLI as a subprocess and reading what it writes, for test/cli/.
import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AnalyticsStatSchema, type AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The built CLI. */
export const DIST_MAIN = join(ROOT, "dist/cli/main.js");

/** What a CLI run left behind. */
export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Starts the CLI from source (through tsx, no build needed) with `args`. */
export function startCli(args: string[], entry: string[] = ["--import", "tsx", "src/cli/main.ts"]): ChildProcess {
  return spawn(process.execPath, [...entry, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
}

/** Collects a started CLI's output; resolves when it exits. */
export function finished(child: ChildProcess): Promise<Run> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") }));
  });
}

/** Runs the CLI from source with `args`; resolves when it exits. */
export function cli(args: string[], entry?: string[]): Promise<Run> {
  return finished(startCli(args, entry));
}

/** The records of a size-delimited capture, with their byte offsets, decoded by protobuf-es. */
export function readDelimited(bytes: Uint8Array): { offset: number; stat: AnalyticsStat }[] {
  const reader = new BinaryReader(bytes);
  const records = [];
  while (reader.pos < reader.len) {
    const offset = reader.pos;
    records.push({ offset, stat: fromBinary(AnalyticsStatSchema, reader.bytes()) });
  }
  return records;
}

/** A stat's time stamp in ms. */
export function ms(stat: AnalyticsStat): number {
  const t = stat.timeStamp!;
  return Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
}

/** The stats of NDJSON text, one per non-empty line. */
export function parseNdjson(text: string): AnalyticsStat[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => fromJsonString(AnalyticsStatSchema, line));
}

/** Asserts that `stderr` is exactly one line and returns it. */
export function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}
