// The progress bar appears at 0 % at once, shows rate and ETA, and erases itself.
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { ProgressBar, formatClock } from "../../src/cli/progress.ts";

function fakeTty() {
  const writes: string[] = [];
  return { writes, stream: { isTTY: true, columns: 200, write: (s: string) => (writes.push(s), true) } };
}

suite("ProgressBar", () => {
  test("start() draws 0 % at once, before any work is done", () => {
    const { writes, stream } = fakeTty();
    const bar = new ProgressBar("aggregate", { stream, unit: "records", now: () => 1000 });
    bar.start(500);
    assert.equal(writes.length, 1);
    assert.match(writes[0]!, /^\raggregate \[\.{24}\] {3}0% 0 records, ETA -\x1b\[K$/);
  });

  test("update() shows the fraction, the rate of items and the ETA from the elapsed time", () => {
    const { writes, stream } = fakeTty();
    let t = 0;
    const bar = new ProgressBar("aggregate", { stream, unit: "records", now: () => t });
    bar.start(1000);
    t = 10_000; // 10 s for a quarter: 30 s to go
    bar.update(250, 1000, 50_000);
    assert.match(writes.at(-1)!, /\] {2}25% 50 000 records, 5\.0 k records\/s, ETA 0:30\x1b\[K$/);
  });

  test("redraws at most once per interval unless forced, and a stream of unknown size shows no bar", () => {
    const { writes, stream } = fakeTty();
    let t = 0;
    const bar = new ProgressBar("x", { stream, now: () => t, intervalMs: 100 });
    bar.start(Infinity);
    t = 50;
    bar.update(1, Infinity, 1);
    assert.equal(writes.length, 1);
    t = 200;
    bar.update(2, Infinity, 2);
    assert.equal(writes.length, 2);
    assert.doesNotMatch(writes[1]!, /\[[#.]|ETA/);
  });

  test("clear() erases a drawn bar and writes nothing when none is drawn", () => {
    const { writes, stream } = fakeTty();
    const bar = new ProgressBar("x", { stream });
    bar.clear();
    assert.equal(writes.length, 0);
    bar.start(10);
    bar.clear();
    assert.equal(writes.at(-1), "\r\x1b[K");
  });

  test("is silent when the stream is not a terminal", () => {
    const writes: string[] = [];
    const bar = new ProgressBar("x", { stream: { write: (s) => (writes.push(s), true) } });
    bar.start(10);
    bar.update(5, 10, 5, true);
    bar.clear();
    assert.deepEqual(writes, []);
  });

  test("formatClock gives m:ss, and h:mm:ss from an hour on", () => {
    assert.equal(formatClock(0), "0:00");
    assert.equal(formatClock(65.4), "1:05");
    assert.equal(formatClock(3723), "1:02:03");
  });
});
