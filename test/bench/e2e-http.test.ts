import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { suite, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../../", import.meta.url));

suite("bench:e2e (bench/e2e/http.ts)", () => {
  test("delivers every stat of every window exactly once through HttpReporter to a receiver in another process", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--expose-gc", "--import", "tsx", "bench/e2e/http.ts", "--windows", "3"],
      { cwd: root, timeout: 120_000 },
    );
    assert.match(stdout, /exactly once\s+yes/);
    const m = /delivered\s+(\d+) stats in \d+ requests \(warm-up included\), (\d+) distinct ids; reporter: (\d+) stats, (\d+) dropped/.exec(stdout);
    assert.ok(m !== null, stdout);
    const [received, distinct, reported, dropped] = m.slice(1).map(Number);
    // the warm-up, 3 timed and 3 heap windows, 4 000 coalesced stats each
    assert.deepEqual([received, distinct, reported, dropped], [28_000, 28_000, 28_000, 0]);
  });
});
