// The CLI as a newcomer meets it: --version, every failure one line with its documented exit
// code, inputs that are not regular files, NDJSON detection, time stamps a Date cannot hold,
// linear resynchronisation, workers closed and reaped as capture time advances, and Ctrl+C.
import { create, toJsonString } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, suite, test } from "node:test";
import { AnalyticsStatSchema, StreamType, type AnalyticsStat } from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { ROOT, cli, finished, oneLine, parseNdjson, startCli } from "./helpers.ts";

const EPOCH_MS = Date.UTC(2026, 0, 1);

/** A capture record: a stat of one stream with `packets` packets, at `t` ms. */
function record(room: string, participant: string, track: string, t: number, packets: number): AnalyticsStat {
  return create(AnalyticsStatSchema, {
    roomId: room,
    roomName: `name of ${room}`,
    participantId: participant,
    trackId: track,
    kind: StreamType.UPSTREAM,
    timeStamp: timestampFromMs(t),
    score: 4,
    streams: [{ primaryPackets: packets, primaryBytes: BigInt(packets * 1000) }],
  });
}

function delimited(stats: readonly AnalyticsStat[]): Buffer {
  return Buffer.concat(stats.map((s) => sizeDelimitedEncode(AnalyticsStatSchema, s)));
}

/** `windows` windows of 10 s with `participants` participants, one track each, 2 stats a window. */
function capture(participants: number, windows: number): AnalyticsStat[] {
  const stats: AnalyticsStat[] = [];
  for (let w = 0; w < windows; w++) {
    for (let k = 0; k < 2; k++) {
      for (let p = 0; p < participants; p++) stats.push(record("RM_A", `PA_${p}`, `TR_${p}`, EPOCH_MS + w * 10_000 + k * 5000 + p, 10 + p));
    }
  }
  return stats;
}

const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
let dir = "";
let small = "";
let smallOut: Buffer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "statsworker-robust-"));
  small = join(dir, "small.bin");
  await writeFile(small, delimited(capture(5, 3)));
  const run = await cli(["aggregate", "-q", small]);
  assert.equal(run.code, 0, run.stderr);
  smallOut = run.stdout;
});

after(async () => {
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

suite("statsworker --version", () => {
  test("--version and -v print the package version and exit 0", async () => {
    for (const flag of ["--version", "-v"]) {
      const run = await cli([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.toString(), `${manifest.version}\n`);
      assert.equal(run.stderr, "");
    }
  });
});

suite("statsworker failures: one line on stderr, the documented exit code", () => {
  test("a directory as input is one line naming it, exit 1", async () => {
    const run = await cli(["aggregate", dir]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), /^statsworker aggregate: cannot read .+: EISDIR: is a directory$/);
  });

  test("negative numbers reach the range check: one line naming the option and value, exit 2", async () => {
    for (const [args, pattern] of [
      [["simulate", "--seed", "-1"], /--seed must be an integer from 0 to 4294967295, got "-1"; see/],
      [["simulate", "--churn", "-0.5"], /--churn must be a number from 0 to 100, got "-0.5"; see/],
      [["simulate", "--windows", "-3"], /--windows must be an integer from 1 to 1000000, got "-3"; see/],
    ] as const) {
      const run = await cli([...args]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(oneLine(run.stderr), pattern);
    }
  });

  test("option values have upper bounds: --participants 10000000 and oversized windows are refused, exit 2", async () => {
    const big = await cli(["simulate", "--participants", "10000000"]);
    assert.equal(big.code, 2);
    assert.match(oneLine(big.stderr), /--participants must be an integer from 1 to 100000, got "10000000"/);
    const product = await cli(["simulate", "--participants", "100000", "--tracks", "8", "--stats-per-window", "2"]);
    assert.equal(product.code, 2);
    assert.match(oneLine(product.stderr), /1 600 000 stats per window, more than 1 000 000/);
  });

  test("an --out that cannot be written fails before the run: one line, exit 1, no summary", async () => {
    const missing = join(dir, "no-such-dir", "out.ndjson");
    const sim = await cli(["simulate", "--participants", "10", "--windows", "100000", "--out", missing]);
    assert.equal(sim.code, 1);
    assert.match(oneLine(sim.stderr), /^statsworker simulate: cannot write .*out\.ndjson: ENOENT: no such file or directory$/);
    assert.equal(sim.stdout.length, 0);
    const agg = await cli(["aggregate", "--out", dir, small]);
    assert.equal(agg.code, 1);
    assert.match(oneLine(agg.stderr), /^statsworker aggregate: cannot write .*: EISDIR: illegal operation on a directory$/);
    const cap = await cli(["simulate", "--capture", missing]);
    assert.equal(cap.code, 1);
    assert.match(oneLine(cap.stderr), /cannot write/);
  });

  test("a time stamp outside a Date's range is a one-line error naming the record, exit 1; --skip-bad skips it", async () => {
    const stats = capture(2, 2);
    const bad = record("RM_A", "PA_0", "TR_0", EPOCH_MS + 15_000, 5);
    bad.timeStamp = { $typeName: "google.protobuf.Timestamp", seconds: 1_000_000_000_000_000n, nanos: 0 };
    const at = delimited(stats.slice(0, 5)).length;
    const file = join(dir, "far-future.bin");
    await writeFile(file, delimited([...stats.slice(0, 5), bad, ...stats.slice(5)]));
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), new RegExp(`malformed record 5 at byte offset ${at}: time stamp 1000000000000000000 ms is outside the range of a JavaScript Date`));
    const skip = await cli(["aggregate", "--skip-bad", file]);
    assert.equal(skip.code, 0, skip.stderr);
    assert.match(skip.stderr, /^ {2}records malformed \(skipped\) +1 /m);
    assert.equal(parseNdjson(skip.stdout.toString()).length, 4, "both windows of both participants");
  });

  test("a window after the year 9999 cannot be proto3 JSON: NDJSON output is a one-line error, exit 1; size-delimited output has it", async () => {
    const late = record("RM_A", "PA_0", "TR_0", Date.UTC(10000, 0, 1), 5);
    const file = join(dir, "year-10000.bin");
    await writeFile(file, delimited([...capture(2, 1), late]));
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), /^statsworker aggregate: cannot write a stat as proto3 JSON: .*9999-12-31T23:59:59Z/);
    // the windows before it were written whole
    assert.equal(parseNdjson(run.stdout.toString()).length, 2);
    const bytes = await cli(["aggregate", "-q", "--output-format", "delimited", file]);
    assert.equal(bytes.code, 0, bytes.stderr);
    assert.ok(bytes.stdout.length > 0);
  });

  test("a record the engine rejects inside a block (a bad stream) is named by index and offset; --skip-bad skips only it", async () => {
    const stats = capture(2, 2);
    const encoded = stats.map((st) => Buffer.from(sizeDelimitedEncode(AnalyticsStatSchema, st)));
    // record 3 gains a streams entry holding wire type 7: its top level reads fine, its stream does not
    const body = Buffer.concat([encoded[3]!.subarray(1), Buffer.from([0x52, 0x01, 0x07])]);
    assert.ok(body.length < 0x80);
    encoded[3] = Buffer.concat([Buffer.from([body.length]), body]);
    const at = Buffer.concat(encoded.slice(0, 3)).length;
    const file = join(dir, "bad-stream.bin");
    await writeFile(file, Buffer.concat(encoded));
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), new RegExp(`^statsworker aggregate: malformed record 3 at byte offset ${at}: `));
    const skip = await cli(["aggregate", "--skip-bad", file]);
    assert.equal(skip.code, 0, skip.stderr);
    assert.match(skip.stderr, new RegExp(`skipping malformed record 3 at byte offset ${at}: .* \\(${body.length + 1} bytes\\)`));
    assert.match(skip.stderr, /^ {2}records +7$/m);
    assert.match(skip.stderr, /^ {2}records malformed \(skipped\) +1 /m);
  });

  test("a record without its routing fields is malformed, named by index and offset", async () => {
    const stats = capture(1, 1);
    const file = join(dir, "no-room.bin");
    const orphan = record("", "PA_9", "TR_9", EPOCH_MS + 1, 1);
    await writeFile(file, delimited([stats[0]!, orphan]));
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), /malformed record 1 at byte offset \d+: record has no room_id/);
  });
});

suite("statsworker aggregate inputs", () => {
  test("a FIFO is read as a stream and gives the same output as the file", async () => {
    const fifo = join(dir, "capture.fifo");
    execFileSync("mkfifo", [fifo]);
    const child = startCli(["aggregate", "-q", fifo]);
    const done = finished(child);
    const writer = createWriteStream(fifo);
    writer.end(await readFile(small));
    const run = await done;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.equals(smallOut));
  });

  test("stdin ('-') is read as a stream and gives the same output as the file", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "aggregate", "-q", "-"], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    const done = finished(child);
    child.stdin.end(await readFile(small));
    const run = await done;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.equals(smallOut));
  });

  test("NDJSON is detected as documented: leading white space, then a first line that parses as JSON", async () => {
    const stats = capture(5, 3);
    const file = join(dir, "spaced.ndjson");
    await writeFile(file, "\n  " + stats.map((s) => toJsonString(AnalyticsStatSchema, s)).join("\n") + "\n");
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.equals(smallOut));
  });

  test("an unknown JSON key makes an NDJSON record malformed (still detected as NDJSON); --ignore-unknown-fields skips it", async () => {
    const stats = capture(5, 3);
    const lines = stats.map((s) => toJsonString(AnalyticsStatSchema, s));
    lines[0] = lines[0]!.replace(/^\{/, '{"futureField":1,');
    const file = join(dir, "unknown.ndjson");
    await writeFile(file, lines.join("\n") + "\n");
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), /malformed record 0 \(line 1\) at byte offset 0: .*futureField/);
    const lenient = await cli(["aggregate", "-q", "--ignore-unknown-fields", file]);
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.ok(lenient.stdout.equals(smallOut));
  });

  test("--skip-bad resynchronises through a megabyte of field-shaped garbage and loses no record around it", async () => {
    // every offset of the garbage starts something that parses as fields for a long way: the
    // probe's field bound is what keeps this linear (see test/cli/scan.test.ts)
    const garbage = Buffer.alloc(1 << 20);
    for (let i = 0; i < garbage.length; i += 2) garbage.set([0x78, 0x01], i);
    garbage[0] = 0xff; // a length prefix over the limit: the frame is broken
    const good = readFileSync(small);
    const half = delimited(capture(5, 3).slice(0, 10)).length;
    const file = join(dir, "garbage-run.bin");
    await writeFile(file, Buffer.concat([good.subarray(0, half), garbage, good.subarray(half)]));
    const run = await cli(["aggregate", "--skip-bad", file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`^ {2}records malformed \\(skipped\\) +1 \\(${garbage.length.toLocaleString("en").replaceAll(",", " ")} bytes\\)$`, "m"));
    assert.ok(run.stdout.equals(smallOut));
  });
});

suite("statsworker aggregate workers", () => {
  test("a participant silent for a window is closed, reaped 180 s later, and joins again with its next stat", async () => {
    // A sends every 60 s window from 0 to 420 s; B at 0 s and again at 400 s
    const stats: AnalyticsStat[] = [];
    for (let w = 0; w < 8; w++) {
      stats.push(record("RM_A", "PA_A", "TR_A", EPOCH_MS + w * 60_000 + 10, 1));
      if (w === 0) stats.push(record("RM_A", "PA_B", "TR_B", EPOCH_MS + 20, 7));
      if (w === 6) stats.push(record("RM_A", "PA_B", "TR_B", EPOCH_MS + 400_000, 9));
    }
    const file = join(dir, "churn.bin");
    await writeFile(file, delimited(stats));
    const run = await cli(["aggregate", "--window", "1m", file]);
    assert.equal(run.code, 0, run.stderr);
    // B: closed at the end of window 1 (120 s), reaped at the end of window 5 (360 s > 120 + 180),
    // joined again at 400 s and closed again at the end of window 7, where it is silent again
    assert.match(run.stderr, /^ {2}workers +3 joined, 2 closed idle, 1 reaped$/m);
    const out = parseNdjson(run.stdout.toString());
    assert.deepEqual(
      out.filter((s) => s.participantId === "PA_B").map((s) => [Number(s.timeStamp!.seconds) * 1000 - EPOCH_MS, s.streams[0]!.primaryPackets]),
      [[60_000, 7], [420_000, 9]],
    );
    assert.equal(out.filter((s) => s.participantId === "PA_A").length, 8);
  });
});

suite("Ctrl+C", () => {
  /** Waits until `file` holds at least `bytes` bytes. */
  async function grown(file: string, bytes: number): Promise<void> {
    for (;;) {
      const size = await stat(file).then((s) => s.size, () => 0);
      if (size >= bytes) return;
      await sleep(50);
    }
  }

  test("simulate stops before the next window: whole NDJSON lines, a summary that says so, exit 130", async () => {
    const out = join(dir, "interrupted.ndjson");
    const child = startCli(["simulate", "--participants", "300", "--windows", "100000", "--out", out]);
    const done = finished(child);
    await grown(out, 1);
    child.kill("SIGINT");
    const run = await done;
    assert.equal(run.code, 130, run.stderr);
    const summary = run.stdout.toString();
    assert.match(summary, /^ {2}interrupted +by SIGINT/m);
    const windows = Number(/^ {2}windows +(\d+) of 100000 x 10 s/m.exec(summary)?.[1]);
    assert.ok(windows >= 1, summary);
    const text = await readFile(out, "utf8");
    assert.ok(text.endsWith("\n"), "the last line is whole");
    const written = parseNdjson(text);
    assert.equal(written.length, Number(/^ {2}stats out +([\d ]+)$/m.exec(summary)![1]!.replaceAll(" ", "")));
    // flushes stamp a window's end, closes the time of the leave: all within the windows run
    const EPOCH_S = Date.UTC(2026, 0, 1) / 1000;
    assert.ok(written.every((s) => Number(s.timeStamp!.seconds) <= EPOCH_S + windows * 10), "only windows that ran are written");
    assert.ok(written.some((s) => Number(s.timeStamp!.seconds) === EPOCH_S + windows * 10), "the last window that ran is written");
  });

  test("aggregate reading a pipe that sends nothing more stops at once: whole windows out, exit 130", async () => {
    const fifo = join(dir, "slow.fifo");
    execFileSync("mkfifo", [fifo]);
    const outDir = join(dir, "ctrl-c");
    await mkdir(outDir);
    const out = join(outDir, "out.ndjson");
    const child = startCli(["aggregate", "--out", out, fifo]);
    const done = finished(child);
    const writer = createWriteStream(fifo);
    // two whole windows and the start of a third, then silence with the pipe left open
    writer.write(delimited(capture(5, 3).slice(0, 25)));
    await grown(out, 1);
    child.kill("SIGINT");
    const run = await done;
    writer.destroy();
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /^ {2}interrupted +by SIGINT: the window in progress was not written$/m);
    const text = await readFile(out, "utf8");
    assert.ok(text.endsWith("\n"));
    const written = parseNdjson(text);
    assert.equal(new Set(written.map((s) => s.timeStamp!.seconds)).size, 2, "the two ended windows");
    assert.ok(written.length >= 5);
  });
});
