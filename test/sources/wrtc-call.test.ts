/**
 * RtcStatsCollector on a real call in Node: examples/node/wrtc-call.ts (two @roamhq/wrtc peer
 * connections) runs in a child process with --json, so that a crash of the native module cannot
 * take the test process down; its output is checked here. Skipped, loudly, when @roamhq/wrtc has
 * no binary for this platform.
 */
import { before, suite, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fromJson } from "@bufbuild/protobuf";
import { AnalyticsStatSchema, StreamType } from "../../src/index.ts";
import { loadWrtc, type WrtcCallOutput } from "../../examples/node/wrtc-call.ts";
import { ROOT, shoutSkip, withTimeout } from "../browser/harness.ts";
import { cumulativeTotals, sumWindows } from "./rtc-totals.ts";

const SECONDS = 3;
const loaded = await loadWrtc();
const missing = typeof loaded === "string" ? loaded : undefined;
if (missing) shoutSkip(`${missing}; the Node WebRTC call test is skipped`);
const skip = missing === undefined ? {} : { skip: missing };

function runExample(): Promise<WrtcCallOutput> {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/node/wrtc-call.ts", String(SECONDS), "--json"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  return withTimeout(
    new Promise<WrtcCallOutput>((ok, fail) => {
      child.once("exit", (code, signal) => {
        if (code !== 0) fail(new Error(`wrtc-call.ts exited with ${code ?? signal}:\n${err}`));
        else ok(JSON.parse(out) as WrtcCallOutput);
      });
    }),
    60_000,
    "examples/node/wrtc-call.ts",
  ).finally(() => child.exitCode === null && child.kill("SIGKILL"));
}

suite("RtcStatsCollector on a @roamhq/wrtc call in Node", () => {
  let output: WrtcCallOutput | undefined;
  before(async () => {
    if (!missing) output = await runExample();
  }, { timeout: 70_000 });

  test("the sender's stats are UPSTREAM and the receiver's DOWNSTREAM, under the published track ids", skip, () => {
    const o = output!;
    for (const [side, direction] of [[o.sender, StreamType.UPSTREAM], [o.receiver, StreamType.DOWNSTREAM]] as const) {
      const stats = side.windows.map((j) => fromJson(AnalyticsStatSchema, j));
      assert.equal(stats.length, SECONDS * 2 * 2, "two tracks per collect");
      for (const s of stats) assert.equal(s.kind, direction);
      assert.deepEqual(new Set(stats.map((s) => s.trackId)), new Set([o.trackIds.audio, o.trackIds.video]));
      assert.deepEqual(new Set(stats.map((s) => s.mime)), new Set(["audio/opus", "video/VP8"]));
    }
  });

  test("the windows add up to the last report's cumulative counters on both peers; scores in [1, 4.5]", skip, () => {
    const o = output!;
    for (const side of [o.sender, o.receiver]) {
      const stats = side.windows.map((j) => fromJson(AnalyticsStatSchema, j));
      assert.deepEqual(sumWindows(stats), cumulativeTotals(side.lastReport));
      for (const s of stats) assert.ok(s.score >= 1 && s.score <= 4.5, `score ${s.score}`);
      assert.equal(side.malformed, 0);
    }
  });
});
