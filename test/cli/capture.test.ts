// A capture file is read a block ahead and the output is written behind: neither may change a
// byte of what the caller sees or what reaches the file.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, suite, test } from "node:test";
import { BLOCK_BYTES, ByteSource, OUTPUT_BUFFER_BYTES, Output } from "../../src/cli/capture.ts";
import { Random } from "../../src/sim/random.ts";

const dir = mkdtempSync(path.join(tmpdir(), "statsworker-capture-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function randomBytes(r: Random, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = r.u32() & 0xff;
  return b;
}

suite("ByteSource", () => {
  test("reading forward gives the file's bytes, however far each step moves and however much it asks for", async () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    console.log(`ByteSource random seed ${seed}`);
    const r = new Random(seed);
    // a few blocks and a ragged end, so that reads straddle blocks and the last one is short
    const bytes = randomBytes(r, 3 * BLOCK_BYTES + r.int(1, 1 << 20));
    const file = path.join(dir, `forward-${seed}.bin`);
    writeFileSync(file, bytes);
    const src = await ByteSource.open(file);
    try {
      assert.equal(src.size, bytes.length);
      let offset = 0;
      let steps = 0;
      while (offset < bytes.length) {
        // mostly what aggregate does (move to a record near the block's end, ask for a block),
        // sometimes a large jump back from the block's end or a request past it
        const n = r.chance(0.7) ? BLOCK_BYTES : r.int(1, 2 * BLOCK_BYTES);
        await src.ensure(offset, n, 1);
        const view = src.view(offset, n);
        const want = Math.min(n, bytes.length - offset);
        assert.equal(view.length, want, `seed ${seed} step ${steps}: length at ${offset}`);
        assert.ok(Buffer.from(view.buffer, view.byteOffset, view.length).equals(bytes.subarray(offset, offset + want)), `seed ${seed} step ${steps}: bytes at ${offset}`);
        const tail = r.chance(0.5) ? r.int(0, 300) : r.chance(0.8) ? r.int(0, 1 << 20) : r.int(1 << 20, 3 << 20);
        offset = Math.max(offset + 1, offset + view.length - tail);
        steps++;
      }
    } finally {
      await src.close();
    }
  });

  test("close() waits for a read-ahead in flight and leaves nothing running", async () => {
    const file = path.join(dir, "close.bin");
    writeFileSync(file, Buffer.alloc(2 * BLOCK_BYTES + 5, 7));
    const src = await ByteSource.open(file);
    await src.ensure(0, BLOCK_BYTES, 1);
    // the next block's read has started; closing now must neither throw nor reject later
    await src.close();
  });
});

suite("Output", () => {
  test("writes every chunk in order while holding at most OUTPUT_BUFFER_BYTES unwritten after each write", async () => {
    const r = new Random(7);
    const file = path.join(dir, "out.bin");
    const out = new Output(file);
    const chunks: Buffer[] = [];
    let most = 0;
    for (let i = 0; i < 40; i++) {
      const chunk = randomBytes(r, r.int(1, 1 << 20));
      chunks.push(chunk);
      await out.write(chunk);
      most = Math.max(most, out.stream.writableLength);
    }
    assert.ok(most <= OUTPUT_BUFFER_BYTES, `held ${most} bytes unwritten`);
    await out.close();
    assert.ok(readFileSync(file).equals(Buffer.concat(chunks)));
  });
});
