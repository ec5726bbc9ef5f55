/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal so that logs, pipes
 * and CI output never receive carriage returns.
 *
 * @module
 */

/** The part of a TTY stream the bar uses (`process.stderr` fits). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

/** Redraws at most every `intervalMs`; a no-op unless the stream is a TTY. */
export class ProgressBar {
  readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly label: string;
  private readonly intervalMs: number;
  private last = 0;
  private drawn = false;

  /**
   * @param label text before the bar, such as `"simulate"`
   * @param options `stream` default `process.stderr`; `intervalMs` default 100; `enabled`
   *   default: whether the stream is a TTY
   */
  constructor(label: string, options: { stream?: ProgressStream; intervalMs?: number; enabled?: boolean } = {}) {
    this.stream = options.stream ?? process.stderr;
    this.label = label;
    this.intervalMs = options.intervalMs ?? 100;
    this.enabled = options.enabled ?? this.stream.isTTY === true;
  }

  /** Shows `done` of `total` with `detail` after the bar; throttled unless `force`. */
  update(done: number, total: number, detail = "", force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    let line = `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${detail}`;
    const columns = this.stream.columns ?? 80;
    if (line.length > columns - 1) line = line.slice(0, columns - 1);
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  /** Erases the bar so that the next output starts on a clean line. */
  clear(): void {
    if (this.drawn) this.stream.write("\r\x1b[K");
    this.drawn = false;
  }
}
