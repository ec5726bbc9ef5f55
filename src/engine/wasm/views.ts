/**
 * Typed-array views over the engine instance's memory.
 *
 * @module
 */

/**
 * The views of one `WebAssembly.Memory`, rebuilt when it grows.
 *
 * `memory.grow` detaches every view of the old buffer without an error (reads give undefined,
 * writes vanish), so every access goes through `refresh()`, which rebuilds the views once the
 * old ones are detached.
 */
export class Views {
  private buffer: ArrayBuffer | undefined = undefined;
  u8: Uint8Array = new Uint8Array(0);
  u32!: Uint32Array;
  i32!: Int32Array;
  f32!: Float32Array;
  u64!: BigUint64Array;

  constructor(private readonly memory: WebAssembly.Memory) {
    this.refresh();
  }

  /** The views, rebuilt first if memory grew since the last call. */
  refresh(): this {
    // a grown memory detaches the old buffer, and a detached view has length 0: checking that is
    // much cheaper than the memory.buffer getter on every call
    if (this.u8.length !== 0) return this;
    const buffer = this.memory.buffer;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.u8 = new Uint8Array(buffer);
      this.u32 = new Uint32Array(buffer);
      this.i32 = new Int32Array(buffer);
      this.f32 = new Float32Array(buffer);
      this.u64 = new BigUint64Array(buffer);
    }
    return this;
  }
}
