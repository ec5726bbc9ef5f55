// Shared fixtures of the Redis suites: batches with unique ids, a raw client for checks, the
// CLI as a child process, NDJSON readers and condition polling.
import { create, fromJsonString, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, RESP_TYPES } from "@redis/client";
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  type AnalyticsStat,
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  StreamType,
} from "../../src/gen/livekit/livekit_analytics_pb.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A stat with id `AS_<batch>_<index>`, so a reader can tell exactly which stats arrived. */
export function idStat(batch: number, index: number): AnalyticsStat {
  return create(AnalyticsStatSchema, {
    id: `AS_${batch}_${index}`,
    kind: index % 2 === 0 ? StreamType.UPSTREAM : StreamType.DOWNSTREAM,
    timeStamp: timestampFromMs(1_700_000_000_000 + batch * 10_000),
    roomId: "RM_room",
    roomName: "room ü",
    participantId: "PA_alice",
    trackId: `TR_${index}`,
    score: 4.5,
    streams: [{ primaryPackets: 100 + batch, primaryBytes: 2n ** 63n - 1n, rtt: 42 }],
  });
}

/** One encoded `AnalyticsStats` batch of `count` stats with ids `AS_<batch>_0..count-1`. */
export function encodedBatch(batch: number, count: number): Uint8Array {
  const stats = Array.from({ length: count }, (_, i) => idStat(batch, i));
  return toBinary(AnalyticsStatsSchema, create(AnalyticsStatsSchema, { stats }));
}

/** A connected client for the test's own checks (bulk strings as Buffer). */
export async function testClient(url: string) {
  const client = createClient({ url }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** Polls the async `predicate` every 20 ms; fails after `timeoutMs` naming `what`. */
export async function waitUntil(predicate: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The stats of an NDJSON file (missing file: none); a torn last line is ignored. */
export async function readNdjson(path: string): Promise<AnalyticsStat[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return [];
  }
  const lines = text.split("\n");
  lines.pop(); // after the last "\n": empty, or a line still being written
  return lines.map((line) => fromJsonString(AnalyticsStatSchema, line));
}

/** A CLI child process with its stderr collected. */
export interface CliProcess {
  readonly child: ChildProcess;
  stderr(): string;
  stdout(): Buffer;
  /** resolves with the exit code (or the signal's name) */
  readonly exited: Promise<number | string>;
}

/**
 * Starts `statsworker <args>` from source (through tsx) in the repository root. With
 * `readStdout: false` nothing reads the child's stdout: once the pipe is full its writes block.
 */
export function startCli(args: string[], options: { readStdout?: boolean } = {}): CliProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const err: Buffer[] = [];
  const out: Buffer[] = [];
  child.stderr!.on("data", (d: Buffer) => err.push(d));
  if (options.readStdout !== false) child.stdout!.on("data", (d: Buffer) => out.push(d));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return {
    child,
    exited,
    stderr: () => Buffer.concat(err).toString("utf8"),
    stdout: () => Buffer.concat(out),
  };
}

/** Kills every process in `procs` that is still running (for after() hooks). */
export async function killAll(procs: readonly CliProcess[]): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
}
