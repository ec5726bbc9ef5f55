/**
 * Loading the engine module: the embedded release build, compiled once per process, and
 * instantiated with an `env.abort` that turns an AssemblyScript abort into a readable error.
 *
 * No `@assemblyscript/loader` (deprecated since AssemblyScript 0.20, and it returns u64 as a
 * signed BigInt): the ABI has no managed types, so a dozen lines of typed instantiate code do.
 *
 * @module
 */
import { WasmError } from "../../errors.ts";
import { ABI_VERSION, LAYOUT_HASH, type WasmExports } from "./abi.ts";
import { WASM_BASE64 } from "./binary.gen.ts";

let compiled: Promise<WebAssembly.Module> | undefined;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  // atob exists in browsers and in Node >= 16, so no Buffer and no node: import is needed
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The compiled engine module, compiled on first use and cached for the process. */
export function compileEngineModule(): Promise<WebAssembly.Module> {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.compile !== "function") {
    return Promise.reject(new WasmError("unavailable", "webassembly is not available in this runtime"));
  }
  compiled ??= WebAssembly.compile(decodeBase64(WASM_BASE64)).catch((err: unknown) => {
    compiled = undefined;
    throw new WasmError("unavailable", `cannot compile the engine module: ${String(err)}`, { cause: err });
  });
  return compiled;
}

/** A new engine instance with its own memory, checked by {@link checkAbi}. */
export async function instantiateEngine(): Promise<WasmExports> {
  const module = await compileEngineModule();
  let memory: WebAssembly.Memory | undefined;
  const imports = {
    env: {
      abort(messagePtr: number, filePtr: number, line: number, column: number): never {
        const message = memory ? readAsString(memory, messagePtr) : "";
        const file = memory ? readAsString(memory, filePtr) : "";
        throw new WasmError("abort", `engine aborted: ${message} at ${file}:${line}:${column}`);
      },
    },
  };
  const instance = await WebAssembly.instantiate(module, imports);
  const exports = instance.exports as unknown as WasmExports;
  memory = exports.memory;
  checkAbi(exports);
  seedHashKey(exports);
  return exports;
}

/**
 * Gives the instance a random key for its track and route hash tables, so that ids built to
 * collide cannot be computed in advance (crypto.getRandomValues: Node >= 20 and browsers).
 */
function seedHashKey(exports: WasmExports): void {
  const key = new Uint32Array(4);
  globalThis.crypto.getRandomValues(key);
  if (exports.hashKey(key[0]!, key[1]!, key[2]!, key[3]!) !== 0) {
    throw new WasmError("abi_mismatch", "engine module refused its hash key");
  }
}

/**
 * Throws `WasmError("abi_mismatch")` unless the module was built from the same ABI as this host:
 * the same `abiVersion()` and the same fingerprint of `assembly/layout.ts` (`abiLayoutHash()`).
 */
export function checkAbi(exports: Pick<WasmExports, "abiVersion" | "abiLayoutHash">): void {
  const version = typeof exports.abiVersion === "function" ? exports.abiVersion() : undefined;
  if (version !== ABI_VERSION) {
    throw new WasmError("abi_mismatch", `engine module has abi version ${String(version)}, host expects ${ABI_VERSION}`);
  }
  const hash = typeof exports.abiLayoutHash === "function" ? exports.abiLayoutHash() >>> 0 : undefined;
  if (hash !== LAYOUT_HASH) {
    const shown = hash === undefined ? "none" : `0x${hash.toString(16)}`;
    throw new WasmError("abi_mismatch", `engine module has layout hash ${shown}, host expects 0x${LAYOUT_HASH.toString(16)}`);
  }
}

// AssemblyScript strings are UTF-16 with their byte length in the 4 bytes before the pointer.
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0 || ptr < 4 || ptr > memory.buffer.byteLength) return "";
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0]!;
  if (ptr + bytes > memory.buffer.byteLength) return "";
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
}
