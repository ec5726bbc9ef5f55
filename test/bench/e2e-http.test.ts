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
    // 3 timed windows and the warm-up, 4 000 coalesced stats each
    assert.match(stdout, /delivered\s+16000 stats in \d+ requests \(warm-up included\), 16000 distinct ids; reporter: 16000 stats, 0 dropped/);
  });
});
