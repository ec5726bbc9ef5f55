// Memory that comes back: a stopped service, a reaped worker and a worker dropped without close()
// give back what the engine holds for them; stop() keeps its deadline; engine.dispose() lets go.
import { suite, test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { StreamType, StatsWorker, TelemetryService, isArgumentError, isWasmError, loadEngine } from "../../src/index.ts";
import { create } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { AnalyticsStatSchema } from "../../src/index.ts";
import { engineImpl } from "../../src/engine/engine.ts";
import { CapturingReporter, RecordingLogger } from "../helpers.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

async function collect(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    // finalizers run in a later task
    await new Promise((r) => setTimeout(r, 5));
  }
}

function churn(service: TelemetryService, participants: number, round: number): void {
  for (let p = 0; p < participants; p++) {
    service.participantJoined({ sid: `RM_${round}_${p >> 3}`, name: "room" }, { sid: `PA_${p}`, identity: `p${p}` });
    for (let t = 0; t < 4; t++) {
      service.trackStats(`RM_${round}_${p >> 3}`, `PA_${p}`, `TR_${round}_${p}_${t}`, t & 1, { streams: [{ primaryPackets: 1 }] });
    }
  }
}

suite("memory that comes back [wasm]", () => {
  test("a service per room on one engine: stop() gives every slot back and engine memory plateaus", async () => {
    const engine = engineImpl(await loadEngine("wasm"));
    const base = engine.usage().slots;
    const memory: number[] = [];
    for (let round = 0; round < 6; round++) {
      const service = new TelemetryService({ engine, reporter: { report() {} } });
      churn(service, 2000, round);
      assert.equal(engine.usage().slots, base + 8000);
      await service.stop();
      assert.equal(engine.usage().slots, base, `round ${round}: slots left behind`);
      assert.equal(service.workerCount, 0);
      memory.push(engine.usage().memoryBytes);
    }
    // the first rounds may grow memory; after that it is reused, not grown
    assert.equal(memory[5], memory[2], `memory per round: ${memory.join(", ")}`);
  });

  test("reaping gives a worker's slots back", async () => {
    const engine = engineImpl(await loadEngine("wasm"));
    let now = 0;
    const service = new TelemetryService({ engine, reporter: { report() {} }, now: () => new Date(now), closeWaitMs: 10 });
    const base = engine.usage().slots;
    churn(service, 100, 0);
    for (let p = 0; p < 100; p++) service.participantLeft(`RM_0_${p >> 3}`, `PA_${p}`);
    now = 11;
    service.cleanupWorkers();
    assert.equal(service.workerCount, 0);
    assert.equal(engine.usage().slots, base);
    await service.stop();
  });

  test("a StatsWorker dropped without close() is released once it is collected", async () => {
    const engine = engineImpl(await loadEngine("wasm"));
    const base = engine.usage().slots;
    (() => {
      for (let i = 0; i < 500; i++) {
        const worker = new StatsWorker({ engine, reporter: { report() {} }, roomId: "RM", roomName: "r", participantId: `PA_${i}`, participantIdentity: "x" });
        worker.onTrackStat("TR_1", StreamType.UPSTREAM, { streams: [{ frames: 1 }] });
      }
    })();
    assert.equal(engine.usage().slots, base + 500);
    await collect();
    assert.equal(engine.usage().slots, base);
  });

  test("JS heap per ever-seen participant does not grow across stopped services", async () => {
    const engine = await loadEngine("wasm");
    const heap: number[] = [];
    for (let round = 0; round < 5; round++) {
      const service = new TelemetryService({ engine, reporter: { report() {} } });
      churn(service, 3000, round);
      await service.stop();
      await collect();
      heap.push(process.memoryUsage().heapUsed);
    }
    // 3000 participants a round: a leak of even 100 bytes each would add 300 kB a round
    const growth = heap[4]! - heap[1]!;
    assert.ok(growth < 400_000, `heap grew by ${growth} bytes over three rounds: ${heap.join(", ")}`);
  });

  test("buffers grown for one big batch go back to the engine's heap and are reused", async () => {
    const engine = engineImpl(await loadEngine("wasm", { bounds: { maxTracksPerWorker: 10_000, maxIdBytesPerWorker: 16 << 20 } }));
    const service = new TelemetryService({ engine, reporter: { report() {}, reportBytes() {} } });
    service.participantJoined({ sid: "RM", name: "r" }, { sid: "PA", identity: "x" });
    // about 8 MiB of messages in one batch: the input buffer grows to hold it
    const one = sizeDelimitedEncode(AnalyticsStatSchema, create(AnalyticsStatSchema, { roomId: "RM", participantId: "PA", trackId: "TR", streams: [{ frames: 1 }] }));
    const batch = new Uint8Array(one.length * Math.ceil((8 << 20) / one.length));
    for (let o = 0; o < batch.length; o += one.length) batch.set(one, o);
    const before = engine.usage();
    service.ingestBatch(batch);
    const after = engine.usage();
    assert.ok(after.memoryBytes >= before.memoryBytes + (8 << 20), "the batch did not need memory");
    assert.ok(after.heapFreeBytes >= 8 << 20, `only ${after.heapFreeBytes} bytes free after the batch`);
    // 6 MB of distinct ids fit in what the batch gave back
    for (let t = 0; t < 6000; t++) service.trackStats("RM", "PA", `TR_${t}_${"x".repeat(1000)}`, StreamType.UPSTREAM, { streams: [{ frames: 1 }] });
    assert.equal(engine.usage().memoryBytes, after.memoryBytes);
    await service.stop();
  });

  test("engine.dispose() lets go of the instance: later calls throw WasmError disposed", async () => {
    const engine = await loadEngine("wasm");
    const worker = new StatsWorker({ engine, reporter: { report() {} }, roomId: "RM", roomName: "r", participantId: "PA", participantIdentity: "x" });
    worker.onTrackStat("TR_1", StreamType.UPSTREAM, { streams: [{ frames: 1 }] });
    engine.dispose();
    assert.throws(() => engine.coalesce([{ score: 1 }]), (e: unknown) => isWasmError(e) && e.code === "disposed");
    assert.throws(() => worker.onTrackStat("TR_1", StreamType.UPSTREAM, {}), (e: unknown) => isWasmError(e) && e.code === "disposed");
    // the ts engine holds nothing: dispose is a no-op and it keeps working
    const ts = await loadEngine("ts");
    ts.dispose();
    assert.equal(ts.coalesce([{ score: 1 }])!.score, 1);
  });
});

for (const kind of ["ts", "wasm"] as const) {
  suite(`TelemetryService.stop(deadlineMs) [${kind}]`, () => {
    test("returns by its deadline while the reporter's flush hangs, and logs it", async () => {
      const logger = new RecordingLogger();
      const reporter = { report() {}, flush: () => new Promise<void>(() => undefined) };
      const service = new TelemetryService({ engine: await loadEngine(kind), reporter, logger });
      const t0 = performance.now();
      await service.stop(50);
      const took = performance.now() - t0;
      assert.ok(took < 2000, `stop took ${took} ms`);
      assert.equal(logger.count("warn"), 1);
    });

    test("a reporter flush that rejects is logged and counted, not thrown", async () => {
      const logger = new RecordingLogger();
      const reporter = { report() {}, flush: async () => Promise.reject(new Error("down")) };
      const service = new TelemetryService({ engine: await loadEngine(kind), reporter, logger });
      await service.stop();
      assert.equal(service.counters.reporterErrors, 1);
      assert.equal(logger.count("error"), 1);
    });

    test("an invalid deadline is an ArgumentError", async () => {
      const service = new TelemetryService({ engine: await loadEngine(kind), reporter: { report() {} } });
      for (const bad of [NaN, -1, "10", null]) {
        await assert.rejects(service.stop(bad as number), isArgumentError);
      }
      await service.stop(Infinity);
    });

    test("await using stops the service at the end of its scope", async () => {
      const reporter = new CapturingReporter();
      {
        await using service = new TelemetryService({ engine: await loadEngine(kind), reporter });
        service.participantJoined({ sid: "RM", name: "r" }, { sid: "PA", identity: "x" });
        service.trackStats("RM", "PA", "TR", StreamType.UPSTREAM, { score: 1 });
      }
      assert.equal(reporter.all.length, 1);
    });
  });
}
