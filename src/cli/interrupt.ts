/**
 * Ctrl+C for the long-running commands: the first SIGINT asks the command to stop at its next
 * safe point (a record or window boundary), so it can erase its progress bar, leave only whole
 * records in its output and print what it did; a second SIGINT exits at once.
 *
 * @module
 */

/** The exit code of a run ended by SIGINT (128 + 2, as shells report it). */
export const INTERRUPTED_EXIT_CODE = 130;

/** Watches for SIGINT while a command runs; {@link dispose} restores the default handling. */
export class Interrupt {
  /** whether SIGINT was received */
  requested = false;
  private readonly controller = new AbortController();
  private readonly onSignal = (): void => {
    if (this.requested) {
      // the second one: die of the signal, as if nothing handled it (exit() could wait for a
      // thread still blocked opening a FIFO that no writer opens)
      process.off("SIGINT", this.onSignal);
      process.kill(process.pid, "SIGINT");
      return;
    }
    this.requested = true;
    this.controller.abort();
  };

  constructor() {
    process.on("SIGINT", this.onSignal);
  }

  /** Aborted on the first SIGINT: for waits (timers, sleeps) that should end early. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops watching. */
  dispose(): void {
    process.off("SIGINT", this.onSignal);
  }
}
