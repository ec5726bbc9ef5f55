// Builds the package: assembly/ -> src/engine/wasm/binary.gen.ts (scripts/build-wasm.mjs), then
// src/ -> dist/ with tsc, then the declaration files' `.ts` specifiers -> `.js`.
//
// Each step is skipped when its outputs are newer than every input (file modification times),
// and tsc runs incrementally, so a second `npm start` or `npm test` begins at once. Files in
// dist/ whose source is gone are removed, so a pack never ships a stale module.
//
// Usage: node scripts/build.mjs [--force]   (npm run build; --force rebuilds every step)
// Progress goes to stderr, one line per step.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
process.chdir(root);
const force = process.argv.includes("--force");

/** Every file under `path` (or `path` itself), recursively. */
function files(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

/** The newest modification time among `paths` (files or folders), in ms; 0 when none exist. */
function newest(paths) {
  let t = 0;
  for (const p of paths) for (const f of files(p)) t = Math.max(t, statSync(f).mtimeMs);
  return t;
}

/** The stamp's modification time, or -1 when it does not exist. */
function stampTime(stamp) {
  return existsSync(stamp) ? statSync(stamp).mtimeMs : -1;
}

function touch(stamp) {
  mkdirSync("build", { recursive: true });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

function run(command, args) {
  // stdout is the caller's (npm pack --json prints there): progress and compiler errors go to stderr
  const r = spawnSync(process.execPath, [command, ...args], { stdio: [0, 2, 2] });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const started = performance.now();

// 1. wasm: asc takes seconds, so it runs only when assembly/ or its config changed
const WASM_STAMP = "build/.wasm-stamp";
const wasmInputs = ["assembly", "asconfig.json", "scripts/build-wasm.mjs"];
if (force || !existsSync("src/engine/wasm/binary.gen.ts") || newest(wasmInputs) >= stampTime(WASM_STAMP)) {
  console.error("build: compiling assembly/ to WebAssembly (asc) ...");
  run("scripts/build-wasm.mjs", []);
  touch(WASM_STAMP);
}

// 2. tsc: src/ -> dist/, incremental; its build info lives in build/ so that dist/ ships clean
const TS_STAMP = "build/.dist-stamp";
const TS_BUILD_INFO = "build/tsc-dist.tsbuildinfo";
const tsInputs = ["src", "tsconfig.json", "tsconfig.build.json", "scripts/build.mjs"];
if (force || !existsSync("dist/index.js") || newest(tsInputs) >= stampTime(TS_STAMP)) {
  // a deleted dist/ with build info left behind would make tsc believe its outputs exist
  if (force || !existsSync("dist/index.js")) rmSync(TS_BUILD_INFO, { force: true });
  console.error("build: compiling src/ to dist/ (tsc, incremental) ...");
  run("node_modules/typescript/bin/tsc", ["-p", "tsconfig.build.json", "--incremental", "--tsBuildInfoFile", TS_BUILD_INFO]);
  pruneOrphans();
  rewriteDeclarationSpecifiers();
  chmodSync("dist/cli/main.js", 0o755);
  touch(TS_STAMP);
  console.error(`build: dist/ is ready (${(performance.now() - started).toFixed(0)} ms)`);
} else {
  console.error("build: dist/ is up to date");
}

/** Removes dist/ files whose source file in src/ no longer exists. */
function pruneOrphans() {
  for (const f of files("dist")) {
    const rel = relative("dist", f);
    const base = rel.replace(/(\.d\.ts|\.js\.map|\.js)$/, "");
    if (base === rel) continue;
    if (!existsSync(join("src", `${base}.ts`))) rmSync(f);
  }
}

/**
 * tsc keeps the `.ts` extension of relative imports in declaration files (it rewrites them only
 * in JavaScript), so a consumer that does not allow `.ts` imports would lose the types. And a
 * declaration that names `Symbol.asyncDispose` needs the `esnext.disposable` lib, which a
 * consumer's `lib` (es2022, say) may not include: the file then references it itself.
 */
function rewriteDeclarationSpecifiers() {
  const specifier = /((?:\bfrom|\bimport)\s*\(?\s*["'])(\.{1,2}\/[^"'\n]*?)\.ts(["'])/g;
  const disposable = '/// <reference lib="esnext.disposable" />\n';
  for (const f of files("dist")) {
    if (!f.endsWith(".d.ts")) continue;
    const text = readFileSync(f, "utf8");
    let fixed = text.replace(specifier, "$1$2.js$3");
    if (/\bSymbol\.(asyncDispose|dispose)\b/.test(fixed) && !fixed.includes(disposable)) fixed = disposable + fixed;
    if (fixed !== text) writeFileSync(f, fixed);
  }
}
