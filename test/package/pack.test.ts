// The package as a user gets it: `npm pack` (which builds through prepack), installed offline from
// the tarball into a throwaway project, the README quick start run with Node as written, a
// TypeScript consumer type-checked under moduleResolution nodenext and bundler, and the bin.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, suite, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
};

/** The first ```ts block after `heading` in README.md. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README.md has no "${heading}" section`);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m !== null, `no ts block under "${heading}"`);
  return m[1]!;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

let dir = "";
let packed: string[] = [];
let installed = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "statsworker-pack-"));
  // prepack builds (a no-op when dist/ is fresh); its progress goes to stderr, the JSON to stdout
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: ROOT, maxBuffer: 1 << 24 });
  const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  packed = info.files.map((f) => f.path);
  const consumer = join(dir, "consumer");
  await run("mkdir", [consumer]);
  await writeFile(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // Offline: the tarball, and its one dependency from the npm cache that `npm ci` filled. The
  // cache holds that dependency's tarball (keyed by its registry URL) but not its registry
  // metadata, so it is named by that URL, for the version installed here, not by a range.
  const { version: protobufVersion } = JSON.parse(readFileSync(join(ROOT, "node_modules/@bufbuild/protobuf/package.json"), "utf8")) as { version: string };
  const protobuf = `https://registry.npmjs.org/@bufbuild/protobuf/-/protobuf-${protobufVersion}.tgz`;
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", join(dir, info.filename), protobuf], {
    cwd: consumer,
    maxBuffer: 1 << 24,
  });
  installed = join(consumer, "node_modules/statsworker-wasm");
});

after(async () => {
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

suite("npm pack", () => {
  test("the tarball holds dist/, proto/, LICENSE, README and CHANGELOG, and no sources or build state", () => {
    for (const f of ["package.json", "LICENSE", "README.md", "CHANGELOG.md", "proto/livekit/livekit_analytics.proto", "dist/index.js", "dist/index.d.ts", "dist/index.js.map", "dist/cli/main.js"]) {
      assert.ok(packed.includes(f), `${f} is not in the tarball`);
    }
    const stray = packed.filter((f) => !/^(dist|proto)\//.test(f) && !["package.json", "LICENSE", "README.md", "CHANGELOG.md"].includes(f));
    assert.deepEqual(stray, []);
    assert.ok(!packed.some((f) => f.endsWith(".tsbuildinfo") || f.startsWith("dist/") && f.endsWith(".ts") && !f.endsWith(".d.ts")));
  });

  test("LICENSE is the full Apache-2.0 text", () => {
    const text = readFileSync(join(installed, "LICENSE"), "utf8");
    assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
    for (let section = 1; section <= 9; section++) assert.match(text, new RegExp(`\\n\\s*${section}\\. [A-Z]`), `section ${section} missing`);
    assert.match(text, /END OF TERMS AND CONDITIONS/);
    assert.match(text, /APPENDIX: How to apply the Apache License to your work/);
  });

  test("every exports entry and the bin resolve to files in the installed package", () => {
    const targets: string[] = [];
    for (const entry of Object.values(manifest.exports)) {
      if (typeof entry === "string") targets.push(entry);
      else targets.push(...Object.values(entry));
    }
    targets.push(...Object.values(manifest.bin));
    for (const t of targets) assert.ok(existsSync(join(installed, t)), `${t} is missing from the package`);
  });

  test("declaration files import .js specifiers, never .ts", () => {
    const dts = walk(join(installed, "dist")).filter((f) => f.endsWith(".d.ts"));
    assert.ok(dts.length > 10);
    const bad = dts.filter((f) => /(from|import)\s*\(?\s*["']\.{1,2}\/[^"']*\.ts["']/.test(readFileSync(f, "utf8")));
    assert.deepEqual(bad, []);
  });

  test("every source map carries the sources it names", () => {
    const maps = walk(join(installed, "dist")).filter((f) => f.endsWith(".js.map"));
    assert.ok(maps.length > 10);
    for (const f of maps) {
      const map = JSON.parse(readFileSync(f, "utf8")) as { sources: string[]; sourcesContent?: (string | null)[] };
      assert.equal(map.sourcesContent?.length, map.sources.length, f);
      assert.ok(map.sourcesContent!.every((s) => typeof s === "string" && s.length > 0), f);
      assert.ok(readFileSync(f.replace(/\.map$/, ""), "utf8").includes(`//# sourceMappingURL=${f.split("/").at(-1)}`), f);
    }
  });

  test("the README quick start runs with Node as written and reports the coalesced stat", async () => {
    const file = join(dir, "consumer/quick-start.mjs");
    await writeFile(file, readmeBlock("## Quick start"));
    const { stdout } = await run(process.execPath, [file], { cwd: join(dir, "consumer") });
    // one stat object and the same stat as bytes, one track: one result with the counters summed
    assert.match(stdout, /^1 stats .*primaryPackets: 240/s);
    assert.match(stdout, /primaryBytes: 196000n/);
  });

  for (const resolution of ["nodenext", "bundler"] as const) {
    test(`a TypeScript consumer type-checks under moduleResolution ${resolution}`, async () => {
      const consumer = join(dir, "consumer");
      const source =
        readmeBlock("## Quick start") +
        [
          `import type { AnalyticsStat, TelemetryReporter } from "statsworker-wasm";`,
          `const typed: TelemetryReporter = { report: (stats: AnalyticsStat[]) => void stats.length };`,
          `void typed;`,
          // proves the declarations were found: with types lost this line would not be an error
          `// @ts-expect-error trackStats takes a room id string`,
          `service.trackStats(1, "PA_1", "TR_1", StreamType.UPSTREAM, stat);`,
        ].join("\n");
      await writeFile(join(consumer, `consumer-${resolution}.ts`), source);
      const compilerOptions =
        resolution === "nodenext"
          ? { module: "nodenext", moduleResolution: "nodenext" }
          : { module: "esnext", moduleResolution: "bundler" };
      await writeFile(
        join(consumer, `tsconfig.${resolution}.json`),
        JSON.stringify({
          compilerOptions: { ...compilerOptions, target: "es2022", lib: ["es2022", "dom"], types: [], strict: true, noEmit: true, skipLibCheck: false },
          files: [`consumer-${resolution}.ts`],
        }),
      );
      try {
        await run(process.execPath, [TSC, "-p", `tsconfig.${resolution}.json`], { cwd: consumer });
      } catch (err) {
        assert.fail(`tsc failed:\n${(err as { stdout?: string }).stdout}`);
      }
    });
  }

  test("the installed bin answers --version with the package version", async () => {
    const { stdout } = await run(join(dir, "consumer/node_modules/.bin/statsworker"), ["--version"]);
    assert.equal(stdout, `${manifest.version}\n`);
  });
});
