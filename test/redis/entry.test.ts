// The package entries: "statsworker-wasm/redis" resolves, and the main entry never pulls in the
// Redis client (browser bundles of it must stay free of Node networking).
import assert from "node:assert/strict";
import { join } from "node:path";
import { suite, test } from "node:test";
import { build } from "esbuild";
import { ROOT } from "./helpers.ts";

suite("statsworker-wasm/redis entry", () => {
  test("the main entry's import graph holds nothing of src/redis or @redis/client", async () => {
    const result = await build({
      entryPoints: [join(ROOT, "src/index.ts")],
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "browser",
      logLevel: "silent",
      absWorkingDir: ROOT,
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.some((i) => i.startsWith("src/")), "the graph was read");
    assert.deepEqual(inputs.filter((i) => i.includes("src/redis/") || i.includes("@redis/")), []);
  });

  test("the redis entry exports the reporter and the collector", async () => {
    const entry = await import("../../src/redis/index.ts");
    assert.equal(typeof entry.StreamCollector, "function");
    assert.equal(typeof entry.RedisStreamReporter, "function");
    assert.equal(entry.STATS_FIELD, "stats");
  });
});
