/**
 * Where `statsworker aggregate` writes: the service's reporter collects one window's encoded
 * batches (`reportBytes`) into one arena, and {@link WindowSink.writeWindow} hands them to a
 * thread of its own, which sorts and formats them (window-format.ts); this thread writes what
 * comes back, in window order. Until that thread has loaded, windows are formatted here.
 * Sorting and formatting take as long as the engine's own work on a window (several times as
 * long for NDJSON), so on a second core they cost the replay almost nothing.
 *
 * @module
 */
import { setImmediate } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import type { TelemetryReporter } from "../reporter.ts";
import { CliError } from "./args.ts";
import type { Output } from "./capture.ts";
import type { FormatAnswer, FormatRequest } from "./window-format-thread.ts";
import { growInt, WindowFormatter, type FormattedWindow, type OutputFormat } from "./window-format.ts";

export type { OutputFormat } from "./window-format.ts";

/**
 * What may be handed to the format thread and not yet written before
 * {@link WindowSink.writeWindow} waits: windows, and bytes of their batches (NDJSON output is
 * about 5 times that). Enough to keep both threads busy through a run of short windows.
 */
const MAX_WINDOWS_IN_FLIGHT = 64;
const MAX_BYTES_IN_FLIGHT = 16 << 20;
/**
 * Windows out after which writeWindow lets the event loop turn once, so that the thread's
 * answers are written: the replay itself rarely waits for anything that would let them in.
 */
const YIELD_AFTER_WINDOWS = 8;

/** Starts the format thread: its module beside this one, .js when built, .ts in the sources. */
function startThread(format: OutputFormat): Worker {
  const workerData = { format };
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./window-format-thread.js", import.meta.url), { workerData });
  // Run from the sources (the tests, scripts through tsx): a worker does not get its parent's
  // module hooks, so it registers tsx itself before it loads the .ts module. A built package
  // never comes here.
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const entry = JSON.stringify(new URL("./window-format-thread.ts", import.meta.url).href);
  return new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${entry}); });`, { eval: true, workerData });
}

/**
 * Collects what the workers report during a window and writes it, sorted, once the window ends.
 * The output order is that of `compareStats` (order.ts): time stamp, room id, participant id,
 * kind (UPSTREAM first), track id, strings compared by UTF-16 code units.
 */
export class WindowSink {
  /** the reporter to give the TelemetryService */
  readonly reporter: TelemetryReporter;
  /** stats written so far (final once {@link close} resolved) */
  statsOut = 0;
  /** bytes written so far (final once {@link close} resolved) */
  bytesOut = 0;
  private discarding = false;
  // the window's batches, back to back
  private arena = new Uint8Array(1 << 20);
  private used = 0;
  private batchStart = new Int32Array(1024);
  private batchEnd = new Int32Array(1024);
  private batches = 0;
  private readonly thread: Worker;
  // Until the thread has loaded its modules (about 0.1 s) windows are formatted here, so that a
  // short run never waits for it; once it is ready, every later window goes to it.
  private threadReady = false;
  private readonly inline: WindowFormatter;
  private readonly ready: Promise<void>;
  private becameReady: () => void = () => {};
  /** @internal Windows the format thread formatted; for tests. */
  windowsOnThread = 0;
  // windows handed to the thread (or formatted here) and not yet written, and who waits for one
  private inFlight = 0;
  private bytesInFlight = 0;
  private waiting: (() => void) | undefined = undefined;
  // the writes, chained in window order
  private writes: Promise<void> = Promise.resolve();
  private failure: unknown = undefined;
  private closed = false;

  constructor(
    private readonly output: Output,
    format: OutputFormat,
  ) {
    this.reporter = {
      report: () => {},
      // the batch is only valid during the call: it is copied
      reportBytes: (batch) => {
        if (this.discarding) return;
        this.reserve(batch.length);
        this.arena.set(batch, this.used);
        const i = this.batches++;
        if (i === this.batchStart.length) {
          this.batchStart = growInt(this.batchStart, i + 1);
          this.batchEnd = growInt(this.batchEnd, i + 1);
        }
        this.batchStart[i] = this.used;
        this.used += batch.length;
        this.batchEnd[i] = this.used;
      },
    };
    this.inline = new WindowFormatter(format);
    this.ready = new Promise((resolve) => (this.becameReady = resolve));
    this.thread = startThread(format);
    this.thread.on("message", (answer: FormatAnswer) => this.answered(answer));
    this.thread.on("error", (err: Error) => this.fail(err));
    this.thread.on("exit", (code: number) => {
      if (!this.closed) this.fail(new Error(`window format thread exited with code ${code}`));
    });
    // an idle thread must not keep the process alive: it is held only while windows are out
    // (after the listeners: adding one holds the thread again)
    this.thread.unref();
  }

  /** @internal Resolves once the format thread takes windows (or failed), holding the process until then; for tests. */
  async whenReady(): Promise<void> {
    if (this.threadReady || this.failure !== undefined) return;
    this.thread.ref();
    await this.ready;
    if (this.inFlight === 0) this.thread.unref();
  }

  private reserve(n: number): void {
    if (this.used + n <= this.arena.length) return;
    const next = new Uint8Array(Math.max(this.arena.length * 2, this.used + n));
    next.set(this.arena.subarray(0, this.used));
    this.arena = next;
  }

  /**
   * Hands what was reported since the last call to the format thread (formats it here while the
   * thread is still loading); resolves once at most {@link MAX_WINDOWS_IN_FLIGHT} windows are
   * waiting to be written.
   *
   * @throws CliError when an earlier window could not be formatted or written
   */
  async writeWindow(): Promise<void> {
    this.check();
    if (this.batches === 0) return;
    if (!this.threadReady) {
      const window = { arena: this.arena, batchStart: this.batchStart, batchEnd: this.batchEnd, batches: this.batches };
      let formatted: FormattedWindow;
      try {
        formatted = this.inline.format(window);
      } finally {
        this.used = 0;
        this.batches = 0;
      }
      this.inFlight++;
      this.written(formatted.chunk, formatted.stats, 0);
      await this.writes;
      this.check();
      return;
    }
    const request: FormatRequest = {
      arena: this.arena.slice(0, this.used).buffer,
      batchStart: this.batchStart.slice(0, this.batches),
      batchEnd: this.batchEnd.slice(0, this.batches),
      batches: this.batches,
    };
    this.bytesInFlight += this.used;
    this.used = 0;
    this.batches = 0;
    if (this.inFlight++ === 0) this.thread.ref();
    this.thread.postMessage(request, [request.arena, request.batchStart.buffer as ArrayBuffer, request.batchEnd.buffer as ArrayBuffer]);
    if (this.inFlight >= YIELD_AFTER_WINDOWS) await setImmediate();
    while ((this.inFlight > MAX_WINDOWS_IN_FLIGHT || this.bytesInFlight > MAX_BYTES_IN_FLIGHT) && this.failure === undefined) await this.oneWritten();
    this.check();
  }

  // the thread answers in the order it was asked: each answer is the oldest window out
  private answered(answer: FormatAnswer): void {
    if ("ready" in answer) {
      this.threadReady = true;
      this.becameReady();
      return;
    }
    if ("error" in answer) {
      this.fail(answer.cli ? new CliError(answer.error) : new Error(answer.error));
      return;
    }
    this.windowsOnThread++;
    this.written(answer.chunk, answer.stats, answer.inputBytes);
  }

  // writes a formatted window after the ones before it (`inputBytes` of its batches were out)
  private written(chunk: Uint8Array, stats: number, inputBytes: number): void {
    this.writes = this.writes.then(async () => {
      if (this.failure === undefined) await this.output.write(chunk);
      this.statsOut += stats;
      this.bytesOut += chunk.length;
      this.bytesInFlight -= inputBytes;
      this.settled();
    });
    this.writes.catch((err: unknown) => this.fail(err));
  }

  private settled(): void {
    if (--this.inFlight === 0) this.thread.unref();
    const wake = this.waiting;
    this.waiting = undefined;
    wake?.();
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    this.becameReady();
    // nothing more will be written: whoever waits must see the failure, and the process may end
    this.thread.unref();
    const wake = this.waiting;
    this.waiting = undefined;
    wake?.();
  }

  private oneWritten(): Promise<void> {
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** From now on, reported stats are dropped unwritten (an interrupted run's partial window). */
  discard(): void {
    this.discarding = true;
    this.used = 0;
    this.batches = 0;
  }

  /**
   * Waits until every window handed over is written, then stops the thread. The output stays
   * open: it is the caller's to close.
   *
   * @throws CliError when a window could not be formatted or written
   */
  async close(): Promise<void> {
    while (this.inFlight > 0 && this.failure === undefined) await this.oneWritten();
    this.closed = true;
    await this.thread.terminate();
    this.check();
  }
}
