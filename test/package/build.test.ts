// `npm run build` (and so `npm start` and `npm test`) skips what is fresh: a second build right
// after the first compiles nothing and says so in one line.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { suite, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

suite("scripts/build.mjs", () => {
  test("a build right after a build compiles nothing and says so in one line", async () => {
    await run(process.execPath, ["scripts/build.mjs"], { cwd: ROOT });
    const second = await run(process.execPath, ["scripts/build.mjs"], { cwd: ROOT });
    assert.equal(second.stdout, "");
    assert.equal(second.stderr, "build: dist/ is up to date\n");
  });

  test("dist/ has a module for every source file and declarations that import .js", () => {
    const sources = walk(join(ROOT, "src")).filter((f) => f.endsWith(".ts"));
    for (const f of sources) {
      const base = f.slice(join(ROOT, "src").length, -3);
      for (const ext of [".js", ".d.ts", ".js.map"]) statSync(join(ROOT, "dist", base + ext));
    }
    const dts = walk(join(ROOT, "dist")).filter((f) => f.endsWith(".d.ts"));
    assert.deepEqual(dts.filter((f) => /from\s+["']\.{1,2}\/[^"']*\.ts["']/.test(readFileSync(f, "utf8"))), []);
  });

  test("package.json: start builds with it, prepack builds with it", () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    assert.match(scripts["start"]!, /^node scripts\/build\.mjs && /);
    assert.equal(scripts["prepack"], "node scripts/build.mjs");
    assert.equal(scripts["build"], "node scripts/build.mjs");
  });
});
