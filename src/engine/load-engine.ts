import { ArgumentError } from "../errors.ts";
import type { Engine, EngineKind, EngineOptions } from "./engine.ts";
import { createTsEngine } from "./ts-engine.ts";
import { createWasmEngine } from "./wasm/engine.ts";

/**
 * Loads an engine: `"wasm"` (the default) or `"ts"`.
 *
 * The wasm module is compiled once per process and cached; each call makes a new instance,
 * which every worker and service given that engine shares (T6). Where WebAssembly is missing,
 * `loadEngine("wasm")` rejects with a `WasmError` (code `"unavailable"`); it never falls back to
 * TypeScript silently.
 */
export async function loadEngine(kind: EngineKind = "wasm", options: EngineOptions = {}): Promise<Engine> {
  switch (kind) {
    case "wasm":
      return createWasmEngine(options);
    case "ts":
      return createTsEngine(options);
    default:
      throw new ArgumentError(`invalid engine kind: ${String(kind)} (expected "wasm" or "ts")`);
  }
}
