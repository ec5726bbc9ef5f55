// `--profile` of the `statsworker` CLI, run as a subprocess through tsx: simulate -> capture ->
// aggregate under both profiles.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, suite, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
  });
}

suite("statsworker --profile", () => {
  let dir = "";
  let capture = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "statsworker-profile-"));
    capture = join(dir, "run.bin");
    const run = await cli(["simulate", "--participants", "20", "--windows", "3", "--engine", "ts", "--profile", "livekit-current", "--capture", capture]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /ts \(livekit-current\)/);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("aggregate --profile livekit-current writes LiveKit's current fields; the default does not", async () => {
    const current = await cli(["aggregate", "--engine", "ts", "--profile", "livekit-current", "-q", capture]);
    assert.equal(current.code, 0, current.stderr);
    const lines = current.stdout.trim().split("\n").map((l) => JSON.parse(l) as { streams: { startTime?: string }[] });
    assert.ok(lines.length > 0);
    // the synthetic SFU sends no stream times: every window reads them as the Unix epoch
    for (const s of lines) assert.equal(s.streams[0]!.startTime, "1970-01-01T00:00:00Z");
    const old = await cli(["aggregate", "--engine", "ts", "-q", capture]);
    assert.equal(old.code, 0, old.stderr);
    for (const line of old.stdout.trim().split("\n")) assert.equal((JSON.parse(line) as { streams: { startTime?: string }[] }).streams[0]!.startTime, undefined);
  });

  test("an unknown profile is a usage error naming it", async () => {
    const run = await cli(["aggregate", "--profile", "livekit-2019", capture]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--profile must be one of livekit-v1.2, livekit-current, got "livekit-2019"/);
  });
});
