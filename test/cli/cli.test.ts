// The `statsworker` CLI, run as a subprocess (through tsx, no build needed): simulate, the
// simulate -> capture -> aggregate round trip, both engines, malformed captures, HTTP delivery.
import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, suite, test } from "node:test";
import {
  AnalyticsStatSchema,
  AnalyticsStatsSchema,
  type AnalyticsStat,
} from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { DIST_MAIN, cli, ms, oneLine, parseNdjson, readDelimited, type Run } from "./helpers.ts";

// R7 (docs/rules.md), written out again here so the test does not trust the engines' own check
function valid(stat: AnalyticsStat): boolean {
  const u32 = (v: number) => v < 2 ** 31;
  const u64 = (v: bigint) => v < 2n ** 63n;
  return stat.streams.every(
    (s) =>
      [s.primaryPackets, s.retransmitPackets, s.paddingPackets, s.packetsLost, s.frames, s.nacks, s.plis, s.firs].every(u32) &&
      [s.primaryBytes, s.retransmitBytes, s.paddingBytes].every(u64) &&
      s.videoLayers.every((l) => u32(l.packets) && u32(l.frames) && u64(l.bytes)),
  );
}

let dir = "";
let capture = "";
let captureBytes: Uint8Array = new Uint8Array(0);
let simulateOut = "";
let simulateRun: Run;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "statsworker-cli-"));
  capture = join(dir, "capture.bin");
  simulateOut = join(dir, "simulate.ndjson");
  simulateRun = await cli([
    "simulate", "--participants", "40", "--windows", "4", "--seed", "7", "--invalid-rate", "0.05",
    "--capture", capture, "--out", simulateOut,
  ]);
  assert.equal(simulateRun.code, 0, simulateRun.stderr);
  captureBytes = await readFile(capture);
});

after(async () => {
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

suite("statsworker --help and argument errors", () => {
  test("--help on every command prints its usage and exits 0", async () => {
    for (const [args, usage] of [
      [["--help"], "usage: statsworker <command>"],
      [["simulate", "--help"], "usage: statsworker simulate"],
      [["aggregate", "-h"], "usage: statsworker aggregate"],
    ] as const) {
      const run = await cli([...args]);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.stdout.toString().startsWith(usage), `${args.join(" ")}: ${run.stdout}`);
      assert.equal(run.stderr, "");
    }
  });

  test("bad arguments print one line naming the problem and exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /unknown command "frobnicate"/],
      [[], /missing command/],
      [["simulate", "--participants", "0"], /--participants must be an integer from 1/],
      [["simulate", "--bogus"], /Unknown option '--bogus'/],
      [["simulate", "--engine", "rust"], /--engine must be one of wasm, ts, got "rust"/],
      [["simulate", "--flush-interval", "10"], /--flush-interval must be a duration/],
      [["simulate", "--http", "ftp://x"], /--http must be an http or https URL/],
      [["aggregate"], /missing FILE/],
      [["aggregate", "--window", "fast", "x.bin"], /--window must be a duration/],
      [["aggregate", "--output-format", "csv", "x.bin"], /--output-format must be one of ndjson, delimited/],
    ];
    for (const [args, pattern] of cases) {
      const run = await cli(args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(oneLine(run.stderr), pattern);
      assert.equal(run.stdout.length, 0);
    }
  });
});

suite("statsworker simulate", () => {
  test("simulate --participants 200 --windows 3 exits 0 with a summary", async () => {
    const run = await cli(["simulate", "--participants", "200", "--windows", "3"]);
    assert.equal(run.code, 0, run.stderr);
    const summary = run.stdout.toString();
    for (const row of ["stats in", "stats out", "stats invalid", "stats dropped", "throughput", "windows", "GC events", "JS heap used"]) {
      assert.match(summary, new RegExp(`^  ${row}`, "m"));
    }
    // stderr is not a TTY here: no progress bar
    assert.equal(run.stderr, "");
  });

  test("--out writes NDJSON that parses back with fromJson, as many stats as reported", async () => {
    const stats = parseNdjson(await readFile(simulateOut, "utf8"));
    const reported = /^ {2}stats out +([\d ]+)$/m.exec(simulateRun.stdout.toString())![1]!.replaceAll(" ", "");
    assert.equal(stats.length, Number(reported));
    assert.ok(stats.length > 0);
    for (const s of stats) {
      assert.ok(s.roomId.startsWith("RM_") && s.participantId.startsWith("PA_") && s.trackId.startsWith("TR_"));
      assert.equal(s.streams.length, 1);
    }
  });

  test("the capture carries routing fields and a time stamp inside its window", () => {
    const records = readDelimited(captureBytes);
    const t0 = Date.UTC(2026, 0, 1);
    assert.ok(records.length > 40 * 2 * 2 * 4 * 0.9);
    for (const { stat } of records) {
      assert.ok(stat.roomId !== "" && stat.participantId !== "" && stat.trackId !== "");
      assert.ok(ms(stat) >= t0 && ms(stat) < t0 + 4 * 10_000);
    }
  });

  test("every input mode feeds the same stats and reports the same output", async () => {
    const outputs: Buffer[] = [];
    for (const input of ["objects", "bytes", "batch"]) {
      const out = join(dir, `input-${input}.ndjson`);
      const cap = join(dir, `input-${input}.bin`);
      const run = await cli(["simulate", "--participants", "30", "--windows", "3", "--input", input, "--out", out, "--capture", cap]);
      assert.equal(run.code, 0, run.stderr);
      outputs.push(Buffer.concat([await readFile(out), Buffer.from("|"), await readFile(cap)]));
    }
    assert.ok(outputs[0]!.equals(outputs[1]!) && outputs[0]!.equals(outputs[2]!));
  });

  test("--http POSTs every reported stat to a real server", async () => {
    const bodies: Buffer[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        assert.equal(req.headers["content-type"], "application/x-protobuf");
        bodies.push(Buffer.concat(chunks));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const out = join(dir, "http.ndjson");
      const run = await cli(["simulate", "--participants", "20", "--windows", "3", "--http", `http://127.0.0.1:${port}/stats`, "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      const received = bodies.flatMap((b) => fromBinary(AnalyticsStatsSchema, b).stats);
      const written = parseNdjson(await readFile(out, "utf8"));
      assert.equal(bodies.length, 3, "one request per window");
      assert.equal(received.length, written.length);
      assert.ok(received.every((s) => /^AS_/.test(s.id)));
      assert.deepEqual(
        received.map((s) => `${s.participantId}/${s.trackId}/${s.streams[0]!.primaryPackets}`),
        written.map((s) => `${s.participantId}/${s.trackId}/${s.streams[0]!.primaryPackets}`),
      );
    } finally {
      server.close();
    }
  });

  test("the built CLI (dist/cli/main.js) runs simulate", { skip: existsSync(DIST_MAIN) ? false : "dist/cli/main.js not built (run npm run build)" }, async () => {
    const run = await cli(["simulate", "--participants", "20", "--windows", "2"], [DIST_MAIN]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout.toString(), /stats out/);
  });
});

suite("statsworker aggregate", () => {
  let wasmOut: Buffer;

  before(async () => {
    const run = await cli(["aggregate", "--engine", "wasm", "-q", capture]);
    assert.equal(run.code, 0, run.stderr);
    wasmOut = run.stdout;
  });

  test("per window, output totals equal the valid captured stats (round trip)", () => {
    const expected = new Map<number, { packets: number; tracks: Set<string> }>();
    for (const { stat } of readDelimited(captureBytes)) {
      const start = Math.floor(ms(stat) / 10_000) * 10_000;
      let w = expected.get(start);
      if (w === undefined) expected.set(start, (w = { packets: 0, tracks: new Set() }));
      w.tracks.add(`${stat.roomId}/${stat.participantId}/${stat.kind}/${stat.trackId}`);
      if (valid(stat)) for (const s of stat.streams) w.packets += s.primaryPackets;
    }
    const actual = new Map<number, { packets: number; tracks: Set<string> }>();
    for (const stat of parseNdjson(wasmOut.toString("utf8"))) {
      const start = ms(stat) - 10_000; // time stamp = window end
      let w = actual.get(start);
      if (w === undefined) actual.set(start, (w = { packets: 0, tracks: new Set() }));
      w.tracks.add(`${stat.roomId}/${stat.participantId}/${stat.kind}/${stat.trackId}`);
      w.packets += stat.streams[0]!.primaryPackets;
    }
    assert.equal(actual.size, 4);
    assert.deepEqual(actual, expected);
  });

  test("both engines give byte-identical output, NDJSON and size-delimited", async () => {
    const ts = await cli(["aggregate", "--engine", "ts", "-q", capture]);
    assert.equal(ts.code, 0, ts.stderr);
    assert.ok(ts.stdout.equals(wasmOut), "ndjson output differs between engines");
    const [a, b] = await Promise.all(
      ["wasm", "ts"].map((engine) => cli(["aggregate", "--engine", engine, "--output-format", "delimited", "-q", capture])),
    );
    assert.equal(a!.code, 0, a!.stderr);
    assert.ok(a!.stdout.length > 0 && a!.stdout.equals(b!.stdout), "delimited output differs between engines");
    assert.deepEqual(
      readDelimited(a!.stdout).map((r) => toJsonString(AnalyticsStatSchema, r.stat)),
      parseNdjson(wasmOut.toString("utf8")).map((s) => toJsonString(AnalyticsStatSchema, s)),
    );
  });

  test("without churn, aggregating the capture reproduces simulate's output byte for byte", async () => {
    const out = join(dir, "nochurn.ndjson");
    const cap = join(dir, "nochurn.bin");
    const sim = await cli(["simulate", "--participants", "30", "--windows", "3", "--churn", "0", "--out", out, "--capture", cap]);
    assert.equal(sim.code, 0, sim.stderr);
    const agg = await cli(["aggregate", "-q", cap]);
    assert.equal(agg.code, 0, agg.stderr);
    const service = await readFile(out);
    assert.ok(agg.stdout.length > 0 && agg.stdout.equals(service), "NDJSON written from the engine's bytes equals the service's protobuf-es text");
    // the size-delimited output holds the same stats, in the same order
    const bytes = await cli(["aggregate", "-q", "--output-format", "delimited", cap]);
    assert.equal(bytes.code, 0, bytes.stderr);
    const text = readDelimited(bytes.stdout).map((r) => toJsonString(AnalyticsStatSchema, r.stat) + "\n").join("");
    assert.equal(text, service.toString("utf8"));
  });

  test("an NDJSON capture is detected and aggregates like the size-delimited one", async () => {
    const file = join(dir, "capture.ndjson");
    const text = readDelimited(captureBytes).map((r) => toJsonString(AnalyticsStatSchema, r.stat) + "\n").join("");
    await writeFile(file, text);
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.equals(wasmOut));
  });

  test("a truncated capture fails with the byte offset of the last record, exit 1; --skip-bad counts it", async () => {
    const records = readDelimited(captureBytes);
    const last = records.at(-1)!.offset;
    const file = join(dir, "truncated.bin");
    await writeFile(file, captureBytes.subarray(0, captureBytes.length - 5));
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), new RegExp(`malformed record ${records.length - 1} at byte offset ${last}: record length \\d+ runs past the end`));

    const skip = await cli(["aggregate", "--skip-bad", file]);
    assert.equal(skip.code, 0, skip.stderr);
    assert.match(skip.stderr, /^ {2}records malformed \(skipped\) +1 /m);
    assert.match(skip.stderr, new RegExp(`skipping malformed record ${records.length - 1} at byte offset ${last}`));
  });

  test("garbage in the middle fails with its byte offset; --skip-bad resynchronises and loses nothing else", async () => {
    const records = readDelimited(captureBytes);
    const at = records[records.length >> 1]!.offset;
    // a length prefix of 5 followed by bytes that are not a protobuf message, then more noise
    const garbage = Buffer.from([0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37]);
    const file = join(dir, "garbage.bin");
    await writeFile(file, Buffer.concat([captureBytes.subarray(0, at), garbage, captureBytes.subarray(at)]));

    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), new RegExp(`malformed record ${records.length >> 1} at byte offset ${at}: `));

    const skip = await cli(["aggregate", "--skip-bad", file]);
    assert.equal(skip.code, 0, skip.stderr);
    assert.match(skip.stderr, /^ {2}records malformed \(skipped\) +1 \(9 bytes\)$/m);
    assert.ok(skip.stdout.equals(wasmOut), "the records around the garbage are all aggregated");
  });

  test("a malformed NDJSON line names its line and byte offset", async () => {
    const file = join(dir, "bad.ndjson");
    const lines = readDelimited(captureBytes).slice(0, 3).map((r) => toJsonString(AnalyticsStatSchema, r.stat) + "\n");
    await writeFile(file, lines[0]! + lines[1]! + "{\"score\": \"loud\"}\n" + lines[2]!);
    const run = await cli(["aggregate", "-q", file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), new RegExp(`malformed record 2 \\(line 3\\) at byte offset ${Buffer.byteLength(lines[0]! + lines[1]!)}: `));
    const skip = await cli(["aggregate", "--skip-bad", "-q", file]);
    assert.equal(skip.code, 0, skip.stderr);
    assert.equal(parseNdjson(skip.stdout.toString()).length > 0, true);
  });

  test("a missing file is one line and exit 1", async () => {
    const run = await cli(["aggregate", join(dir, "nope.bin")]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), /cannot read .*nope\.bin: ENOENT/);
  });
});
