/**
 * Leases of encoded windows.
 *
 * @module
 */
import type { BytesLease } from "../engine.ts";
import type { WasmExports } from "./abi.ts";

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
  held = false;

  constructor(private readonly wasm: WasmExports) {}

  /** Hands out `bytes` (a view of the output buffer, already lent by `lendOutput()`). */
  lend(bytes: Uint8Array, count: number): this {
    this.bytes = bytes;
    this.count = count;
    this.held = true;
    return this;
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.bytes = EMPTY;
    this.wasm.returnOutput();
  }
}
