/**
 * Leases of encoded windows.
 *
 * @module
 */
import type { BytesLease } from "../engine.ts";
import type { WasmCore } from "./core.ts";

const EMPTY = new Uint8Array(0);

/**
 * A lease of the module's output buffer: while it is held, drains write elsewhere, so a reporter
 * that makes another worker drain (participantLeft, flush) cannot overwrite the bytes it reads.
 * A track table keeps one and reuses it for every window; only a nested drain of the same table
 * while its lease is held needs a second one.
 */
export class OutputLease implements BytesLease {
  bytes: Uint8Array = EMPTY;
  count = 0;
  stamped = false;
  held = false;

  // the core, not its exports: a disposed engine must not stay reachable through a lease
  constructor(private readonly core: WasmCore) {}

  /** Hands out `bytes` (a view of the output buffer, already lent by `lendOutput()`). */
  lend(bytes: Uint8Array, count: number, stamped: boolean): this {
    this.bytes = bytes;
    this.count = count;
    this.stamped = stamped;
    this.held = true;
    this.core.lent(1);
    return this;
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.bytes = EMPTY;
    this.core.wasm.returnOutput();
    this.core.lent(-1);
    this.core.trimIfDue();
  }
}
