/**
 * Deadlines of shutdown calls (`TelemetryService.stop`, the reporters' `close`).
 *
 * @module
 */
import { ArgumentError } from "./errors.ts";

/** Default deadline of `TelemetryService.stop()` and of every reporter's `close()`, in milliseconds. */
export const DEFAULT_CLOSE_DEADLINE_MS = 10_000;

/**
 * Checks a `close()` / `stop()` deadline: a number, not NaN, at least 0 (`Infinity`: no deadline).
 *
 * @throws {ArgumentError} naming the bad value
 */
export function checkDeadline(deadlineMs: unknown): number {
  if (typeof deadlineMs !== "number" || !(deadlineMs >= 0)) {
    throw new ArgumentError(`deadlineMs must be a number >= 0, got ${typeof deadlineMs === "number" ? deadlineMs : typeof deadlineMs}`);
  }
  return deadlineMs;
}

/**
 * Waits for `work` for at most `ms` milliseconds; resolves true when it settled in time (a rejection
 * included: the caller logs it through `onError`), false when the deadline came first. The timer
 * keeps a Node process alive until then: a shutdown that is awaited must get its answer.
 */
export async function settleWithin(work: PromiseLike<unknown>, ms: number, onError: (err: unknown) => void): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => {
    if (ms === Infinity) return;
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = Promise.resolve(work).then(
    () => true as const,
    (err: unknown) => {
      onError(err);
      return true as const;
    },
  );
  try {
    return await Promise.race([settled, expired]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
