// `statsworker simulate --redis URL --stream NAME`: the options' checks, in process (the fleet
// suite runs it as a real node against a real server).
import assert from "node:assert/strict";
import { suite, test } from "node:test";
import { isUsageError } from "../../src/cli/args.ts";
import { simulate } from "../../src/cli/simulate.ts";

suite("statsworker simulate --redis", () => {
  for (const [args, message] of [
    [["--redis", "redis://127.0.0.1:1"], /--redis and --stream go together/],
    [["--stream", "s"], /--redis and --stream go together/],
    [["--redis", "http://127.0.0.1:1", "--stream", "s"], /--redis must be a redis:\/\//],
    [["--redis", "redis://user:secret@[", "--stream", "s"], /--redis must be/],
  ] as const) {
    test(`rejects ${args.join(" ")} as a usage error`, async () => {
      await assert.rejects(simulate([...args]), (err) => isUsageError(err) && message.test(err.message) && !err.message.includes("secret"));
    });
  }
});
