// `statsworker receive`, run as a subprocess from source: a real IngestStats server writing NDJSON.
import assert from "node:assert/strict";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, afterEach, before, suite, test } from "node:test";
import { fileURLToPath } from "node:url";
import { fromJsonString } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { AnalyticsStatSchema, StreamType } from "../../src/index.ts";
import { AnalyticsRecorderReporter } from "../../src/grpc/index.ts";
import { encodedBatch, ingestClient, sendStream } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Receiver {
  child: ChildProcessByStdio<null, Readable, Readable>;
  address: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

// every receiver a test started, killed after it whether it passed or not
const started = new Set<ChildProcessByStdio<null, Readable, Readable>>();

/** Starts `statsworker receive` with `args` and resolves once it printed the address it bound. */
function startReceive(args: string[]): Promise<Receiver> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "receive", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(child);
  child.on("close", () => started.delete(child));
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString("utf8");
      const m = /listening on (\S+)\n/.exec(err);
      if (m !== null) resolve({ child, address: m[1]!, stdout: () => out, stderr: () => err, exit });
    });
    exit.then((code) => reject(new Error(`receive exited ${code} before listening: ${err}`)));
  });
}

/** Runs `statsworker receive` with `args` to its end. */
async function runReceive(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "receive", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr };
}

suite("statsworker receive", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "statsworker-receive-"));
  });
  afterEach(() => {
    for (const child of started) child.kill("SIGKILL");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("writes one proto3-JSON AnalyticsStat per line, acknowledges streams, and exits 0 on SIGTERM", async () => {
    const out = join(dir, "stats.ndjson");
    const receiver = await startReceive(["--grpc", "127.0.0.1:0", "--out", out]);
    assert.match(receiver.address, /^127\.0\.0\.1:\d+$/);
    const client = ingestClient(receiver.address);
    try {
      const first = await sendStream(client, [
        encodedBatch(["AS_1", "AS_2"], { kind: StreamType.DOWNSTREAM, node: "ND_1" }),
        encodedBatch(["AS_3"], { streams: [{ primaryBytes: 2n ** 63n, videoLayers: [{ layer: 2, frames: 30 }] }] }),
      ]);
      assert.equal(first.error, null);
      const second = await sendStream(client, [encodedBatch(["AS_4"])]);
      assert.equal(second.error, null);
      // an acknowledged stream is on disk already, before the receiver stops
      const lines = (await readFile(out, "utf8")).split("\n");
      assert.equal(lines.pop(), "", "the file ends with a newline");
      const stats = lines.map((line) => fromJsonString(AnalyticsStatSchema, line));
      assert.deepEqual(stats.map((s) => s.id), ["AS_1", "AS_2", "AS_3", "AS_4"]);
      assert.equal(stats[0]!.kind, StreamType.DOWNSTREAM);
      assert.equal(stats[0]!.node, "ND_1");
      assert.equal(stats[2]!.streams[0]!.primaryBytes, 2n ** 63n);
      assert.equal(stats[2]!.streams[0]!.videoLayers[0]!.frames, 30);
      assert.match(lines[0]!, /^\{"kind":"DOWNSTREAM","node":"ND_1","roomId":"RM_1","score":1,"id":"AS_1"\}$/);
    } finally {
      client.close();
    }
    receiver.child.kill("SIGTERM");
    assert.equal(await receiver.exit, 0);
    assert.match(receiver.stderr(), /stopped \(SIGTERM\)/);
    assert.match(receiver.stderr(), /streams acknowledged\s+2\n/);
    assert.match(receiver.stderr(), /stats written\s+4\n/);
  });

  test("--out - writes to stdout; a malformed message is refused and nothing of it is written", async () => {
    const receiver = await startReceive(["--grpc", "127.0.0.1:0", "-q"]);
    const client = ingestClient(receiver.address);
    try {
      const bad = await sendStream(client, [new Uint8Array([0x0a, 0x09, 0x01])]);
      assert.equal(bad.error?.code, grpc.status.INVALID_ARGUMENT);
      const good = await sendStream(client, [encodedBatch(["AS_ok"])]);
      assert.equal(good.error, null);
    } finally {
      client.close();
    }
    receiver.child.kill("SIGINT");
    assert.equal(await receiver.exit, 0);
    assert.deepEqual(receiver.stdout().trimEnd().split("\n").map((l) => fromJsonString(AnalyticsStatSchema, l).id), ["AS_ok"]);
    assert.doesNotMatch(receiver.stderr(), /stopped/, "-q prints no summary");
  });

  test("a stream still open at SIGTERM is cut after --shutdown-timeout, unacknowledged", async () => {
    const receiver = await startReceive(["--grpc", "127.0.0.1:0", "--shutdown-timeout", "200ms"]);
    const client = ingestClient(receiver.address);
    try {
      const outcome = new Promise<grpc.ServiceError | null>((resolve) => {
        const call = (client as unknown as Record<string, (cb: grpc.requestCallback<unknown>) => grpc.ClientWritableStream<Uint8Array>>)["IngestStats"]!.call(
          client,
          (err) => resolve(err),
        );
        call.on("error", () => {});
        call.write(encodedBatch(["AS_open"])); // never half-closed
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      receiver.child.kill("SIGTERM");
      assert.equal(await receiver.exit, 0);
      assert.ok(Date.now() - started < 5_000);
      const err = await outcome;
      assert.notEqual(err, null, "the open stream was never acknowledged");
      assert.match(receiver.stderr(), /streams acknowledged\s+0\n/);
    } finally {
      client.close();
    }
  });

  test("an AnalyticsRecorderReporter loses nothing when the receiver is SIGKILLed and started again on the same port", async () => {
    const first = await startReceive(["--grpc", "127.0.0.1:0", "--out", join(dir, "run1.ndjson"), "-q"]);
    const port = first.address.split(":")[1]!;
    const reporter = new AnalyticsRecorderReporter({
      address: first.address,
      lingerMs: 5,
      initialRetryDelayMs: 20,
      minRetryDelayMs: 10,
      maxRetryDelayMs: 100,
    });
    const sent: string[] = [];
    const report = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const unique = `AS_e2e${String(sent.length).padStart(9, "0")}`;
        sent.push(unique);
        reporter.reportBytes(encodedBatch([unique]));
      }
    };
    try {
      report(20);
      await reporter.flush();
      first.child.kill("SIGKILL");
      await first.exit;
      report(30); // queued while nobody listens
      await new Promise((resolve) => setTimeout(resolve, 150));
      const second = await startReceive(["--grpc", `127.0.0.1:${port}`, "--out", join(dir, "run2.ndjson"), "-q"]);
      report(10);
      await reporter.flush();
      second.child.kill("SIGTERM");
      assert.equal(await second.exit, 0);
    } finally {
      await reporter.close(1000);
    }
    const lines = [
      ...(await readFile(join(dir, "run1.ndjson"), "utf8")).split("\n"),
      ...(await readFile(join(dir, "run2.ndjson"), "utf8")).split("\n"),
    ].filter((l) => l !== "");
    const got = new Set(lines.map((l) => fromJsonString(AnalyticsStatSchema, l).id));
    assert.deepEqual([...sent].filter((id) => !got.has(id)), [], "stats lost");
    assert.equal(reporter.counters.dropped, 0);
  });

  test("bad arguments exit 2 with one line naming the option", async () => {
    const cases = [
      [[], /missing --grpc HOST:PORT/],
      [["--grpc", "localhost"], /--grpc must be HOST:PORT .*"localhost"/],
      [["--grpc", "127.0.0.1:70000"], /--grpc must be HOST:PORT/],
      [["--grpc", "127.0.0.1:0", "--max-message-bytes", "12"], /--max-message-bytes must be an integer from 1024/],
      [["--grpc", "127.0.0.1:0", "--bogus"], /bogus/],
    ] as const;
    // in parallel: each run is a process start, and none of them listens on anything
    const runs = await Promise.all(cases.map(([args]) => runReceive([...args])));
    cases.forEach(([args, pattern], i) => {
      const run = runs[i]!;
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
    });
  });

  test("an address that cannot be bound exits 1 with one line", async () => {
    const holder = await startReceive(["--grpc", "127.0.0.1:0", "-q"]);
    try {
      const run = await runReceive(["--grpc", holder.address]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`cannot listen on ${holder.address.replace(/\./g, "\\.")}`));
    } finally {
      holder.child.kill("SIGTERM");
      await holder.exit;
    }
  });

  test("an --out that cannot be written exits 1 before listening", async () => {
    const run = await runReceive(["--grpc", "127.0.0.1:0", "--out", join(dir, "no-such-dir", "x.ndjson")]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /cannot write .*no-such-dir.*ENOENT/);
    assert.doesNotMatch(run.stderr, /listening/);
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
  });

  test("--help answers with the usage and exit code 0", async () => {
    const run = await runReceive(["--help"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^usage: statsworker receive --grpc HOST:PORT/);
  });
});
