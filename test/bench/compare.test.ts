/**
 * `npm run bench:compare`: run as a subprocess on small result files, as CI would run it.
 */
import { suite, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const compare = fileURLToPath(new URL("../../bench/compare.ts", import.meta.url));
let dir = "";

function results(cases: Record<string, number>): string {
  const entries = Object.fromEntries(Object.entries(cases).map(([name, ops]) => [name, { opsPerSec: ops, rme: 1 }]));
  return JSON.stringify({ schema: 1, node: "v20.20.2", cpu: "test cpu", cases: entries });
}

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", compare, ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

suite("bench:compare", () => {
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "bench-compare-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("exits 0 and prints each change when nothing is slower than the threshold", () => {
    const a = file("a.json", results({ "flush/wasm/w2-bytes": 100, "flush/ts/w2-bytes": 10 }));
    const b = file("b.json", results({ "flush/wasm/w2-bytes": 95, "flush/ts/w2-bytes": 12 }));
    const r = run(a, b, "--threshold", "10");
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /flush\/wasm\/w2-bytes\s.*-5\.0%\s+slower/);
    assert.match(r.out, /flush\/ts\/w2-bytes\s.*\+20\.0%\s+faster/);
    assert.match(r.out, /no case slower by more than 10%/);
  });

  test("exits 1 and names the case when one is slower than the threshold", () => {
    const a = file("a.json", results({ "flush/wasm/w2-bytes": 100, "coalesce/ts/w1-k2": 50 }));
    const b = file("b.json", results({ "flush/wasm/w2-bytes": 80, "coalesce/ts/w1-k2": 50, "flush/wasm/w3-objects": 1 }));
    const r = run(a, b, "--threshold=10");
    assert.equal(r.status, 1, r.err);
    assert.match(r.out, /flush\/wasm\/w2-bytes\s.*-20\.0%\s+SLOWER \(regression\)/);
    assert.match(r.out, /flush\/wasm\/w3-objects\s.*added/);
    assert.match(r.out, /1 case\(s\) slower by more than 10%: flush\/wasm\/w2-bytes/);
  });

  test("the threshold defaults to 10%", () => {
    const a = file("a.json", results({ x: 100 }));
    assert.equal(run(a, file("b.json", results({ x: 91 }))).status, 0);
    assert.equal(run(a, file("c.json", results({ x: 89 }))).status, 1);
  });

  test("exits 2 with a clear error on bad arguments or files", () => {
    const good = file("good.json", results({ x: 1 }));
    const cases: [string[], RegExp][] = [
      [[good], /expected two result files/],
      [[good, path.join(dir, "missing.json")], /cannot read .*missing\.json: ENOENT/],
      [[good, file("bad.json", "{not json")], /bad\.json is not JSON/],
      [[good, file("other.json", JSON.stringify({ results: [] }))], /not a benchmark result file/],
      [[good, file("nan.json", JSON.stringify({ cases: { x: { opsPerSec: "fast" } } }))], /case x has no valid opsPerSec/],
      [[good, good, "--threshold", "-3"], /invalid --threshold: -3/],
      [[good, good, "--frobnicate"], /unknown option: --frobnicate/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.out}`);
      assert.match(r.err, message);
    }
  });

  test("--help prints the usage and exits 0", () => {
    const r = run("--help");
    assert.equal(r.status, 0);
    assert.match(r.out, /usage: npm run bench:compare -- OLD\.json NEW\.json/);
  });
});
