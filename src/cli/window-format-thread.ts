/**
 * The thread `statsworker aggregate` formats its windows on (window-sink.ts starts it): each
 * message is one window's batches, each answer its output bytes, in the order they came.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { CliError } from "./args.ts";
import { WindowFormatter, type OutputFormat } from "./window-format.ts";

/** @internal A window for the thread: its batches, the arena's buffer handed over. */
export interface FormatRequest {
  readonly arena: ArrayBuffer;
  readonly batchStart: Int32Array;
  readonly batchEnd: Int32Array;
  readonly batches: number;
}

/**
 * @internal The thread's answer: that it has loaded and takes windows (once, first), or a window's
 * bytes (their buffer handed over), or why not.
 */
export type FormatAnswer =
  | { readonly ready: true }
  | { readonly chunk: Uint8Array; readonly stats: number; readonly inputBytes: number }
  | { readonly error: string; readonly cli: boolean };

const port = parentPort;
if (port !== null) {
  const formatter = new WindowFormatter((workerData as { format: OutputFormat }).format);
  port.on("message", (request: FormatRequest) => {
    let answer: FormatAnswer;
    try {
      answer = { ...formatter.format({ ...request, arena: new Uint8Array(request.arena) }), inputBytes: request.arena.byteLength };
    } catch (err) {
      answer = { error: err instanceof Error ? err.message : String(err), cli: err instanceof CliError };
    }
    port.postMessage(answer, "chunk" in answer ? [answer.chunk.buffer as ArrayBuffer] : []);
  });
  port.postMessage({ ready: true } satisfies FormatAnswer);
}
