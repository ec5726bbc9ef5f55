/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal so that logs, pipes
 * and CI output never receive carriage returns.
 *
 * @module
 */
import { formatCount, formatRate } from "./summary.ts";

/** The part of a TTY stream the bar uses (`process.stderr` fits). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** where to draw; default `process.stderr` */
  stream?: ProgressStream;
  /** least time between redraws, in ms; default 100 */
  intervalMs?: number;
  /** whether to draw at all; default: whether the stream is a TTY */
  enabled?: boolean;
  /** what the rate counts, such as `"records"`; default `"items"` */
  unit?: string;
  /** the clock, in ms; default `performance.now` (tests pass a fake one) */
  now?: () => number;
}

/**
 * Shows how far a run is: `label [#####...]  42% 1 234 records, 85.1 k records/s, ETA 0:12`.
 * The fraction is `done / total` (any unit: bytes, windows); the rate counts `items`; the ETA
 * extrapolates the fraction over the elapsed time.
 */
export class ProgressBar {
  readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly label: string;
  private readonly intervalMs: number;
  private readonly unit: string;
  private readonly now: () => number;
  private startedAt = -1;
  private last = -Infinity;
  private drawn = false;

  /** @param label text before the bar, such as `"simulate"` */
  constructor(label: string, options: ProgressBarOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.label = label;
    this.intervalMs = options.intervalMs ?? 100;
    this.enabled = options.enabled ?? this.stream.isTTY === true;
    this.unit = options.unit ?? "items";
    this.now = options.now ?? (() => performance.now());
  }

  /** Starts the clock and draws the bar at 0 % at once, so a slow first step is not a blank. */
  start(total: number): void {
    this.startedAt = this.now();
    this.update(0, total, 0, true);
  }

  /**
   * Shows `done` of `total` and `items` processed; throttled to one redraw per interval unless
   * `force`. A `total` that is not finite (a stream of unknown length) shows no bar or ETA.
   */
  update(done: number, total: number, items: number, force = false): void {
    if (!this.enabled) return;
    const now = this.now();
    if (this.startedAt < 0) this.startedAt = now;
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    const elapsedS = (now - this.startedAt) / 1000;
    const rateText = elapsedS > 0 ? `, ${formatRate(items, elapsedS * 1000, this.unit)}` : "";
    let line: string;
    if (Number.isFinite(total) && total > 0) {
      const fraction = Math.min(1, Math.max(0, done / total));
      const width = 24;
      const filled = Math.round(fraction * width);
      const eta = fraction > 0 && elapsedS > 0 ? `, ETA ${formatClock((elapsedS * (1 - fraction)) / fraction)}` : ", ETA -";
      line = `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatCount(items)} ${this.unit}${rateText}${eta}`;
    } else {
      line = `${this.label} ${formatCount(items)} ${this.unit}${rateText}`;
    }
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

/** Seconds as `m:ss` (or `h:mm:ss` from one hour on). */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
