/**
 * What the end-to-end HTTP benchmarks share: the receiver in a child process (`receiver.ts`), and
 * the check that every stat reported arrived exactly once.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { ReporterCounters } from "../../src/reporters/counters.ts";

/** What the receiver holds: stats walked, requests answered, distinct stat ids seen. */
export interface ReceiverCounts {
  readonly stats: number;
  readonly requests: number;
  readonly distinctIds: number;
}

/** A receiver running in a child process on 127.0.0.1. */
export interface Receiver {
  /** where to POST stats that are only counted */
  readonly url: string;
  /** where to POST stats that are also kept for {@link Receiver.bodies} */
  readonly keepUrl: string;
  counts(): Promise<ReceiverCounts>;
  /** the kept bodies since the last call, concatenated: one encoded `AnalyticsStats` */
  bodies(): Promise<Uint8Array>;
  /** ends the child process */
  stop(): void;
}

/** Starts `receiver.ts` in a child process and waits for its port. */
export async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("receiver.ts", import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [portLine] = (await once(child.stdout!, "data")) as [Buffer];
  const base = `http://127.0.0.1:${portLine.toString().trim()}`;
  return {
    url: `${base}/stats`,
    keepUrl: `${base}/keep`,
    async counts() {
      return (await (await fetch(`${base}/counts`)).json()) as ReceiverCounts;
    },
    async bodies() {
      return new Uint8Array(await (await fetch(`${base}/bodies`)).arrayBuffer());
    },
    stop() {
      child.kill("SIGTERM");
    },
  };
}

/**
 * Whether every stat the reporter was handed arrived exactly once: as many stats received as
 * reported, as many distinct ids, none dropped. `before` is what the receiver held when the
 * reporter started.
 */
export function exactlyOnce(got: ReceiverCounts, reporter: ReporterCounters, before: ReceiverCounts = { stats: 0, requests: 0, distinctIds: 0 }): boolean {
  const stats = got.stats - before.stats;
  return stats === reporter.stats && got.distinctIds - before.distinctIds === reporter.stats && reporter.dropped === 0;
}
