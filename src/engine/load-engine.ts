import { ArgumentError } from "../errors.ts";
import type { Engine, EngineKind, EngineOptions } from "./engine.ts";
import { checkProfile } from "./profile.ts";
import { createTsEngine } from "./ts-engine.ts";
import { createWasmEngine } from "./wasm/engine.ts";

/**
 * Loads an engine: `"wasm"` (the default) or `"ts"`, following `options.profile` (default
 * `"livekit-v1.2"`, the 2022 reference; `"livekit-current"` for LiveKit's rules today).
 *
 * The wasm module is compiled once per process and cached; each call makes a new instance,
 * which every worker and service given that engine shares (T6). Where WebAssembly is missing,
 * `loadEngine("wasm")` rejects with a `WasmError` (code `"unavailable"`); it never falls back to
 * TypeScript silently. An unknown kind or profile rejects with an `ArgumentError`.
 */
export async function loadEngine(kind: EngineKind = "wasm", options: EngineOptions = {}): Promise<Engine> {
  if (options === null || typeof options !== "object") throw new ArgumentError("invalid options: expected an object");
  const profile = checkProfile(options.profile);
  switch (kind) {
    case "wasm":
      return createWasmEngine({ ...options, profile });
    case "ts":
      return createTsEngine(options);
    default:
      throw new ArgumentError(`invalid engine kind: ${String(kind)} (expected "wasm" or "ts")`);
  }
}
