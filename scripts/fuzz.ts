/**
 * Timed mutation fuzzing of the bytes paths on both engines: the checks of
 * test/hardening/fuzz.test.ts (see test/hardening/mutate.ts), for as long as asked.
 *
 *   npm run fuzz -- --minutes N [--seed S] [--lenient] [--max-failures N]
 *
 * `--lenient` tolerates the engine disagreements listed in KNOWN_ISSUES (mutate.ts), to look
 * past them for other failures.
 *
 * Every failing input is shrunk (chunks removed while the same check still fails), saved as a
 * regression fixture `test/fixtures/fuzz/<hash>.bin` (which `npm test` replays first) and
 * printed. The run goes on after a failure, saving one input per distinct kind of failure, and
 * exits 1 when there was any.
 *
 * @module
 */
import { mkdir, writeFile } from "node:fs/promises";
import { Random } from "../src/sim/random.ts";
import { edgeInputs, seedCorpus } from "../test/hardening/fuzz/corpus.ts";
import { FIXTURE_DIR, fixtureName, loadFixtures } from "../test/hardening/fuzz/fixtures.ts";
import { FIXTURE_CONFIGS, FuzzFailure, FuzzHarness, randomConfig, type FeedConfig } from "../test/hardening/fuzz/harness.ts";
import { Mutator } from "../test/hardening/fuzz/mutator.ts";
import { parseScriptArgs } from "./script-args.ts";

const USAGE = `usage: npm run fuzz -- [--minutes N] [--seed S] [--max-failures N] [--lenient]

Mutation-fuzzes the bytes paths of both engines against protobuf-es for N minutes. Failing
inputs are shrunk and saved under test/fixtures/fuzz/ (npm test replays them); exit code 1 when
there was any.

options:
  --minutes N        how long to run (default 1)
  --seed S           PRNG seed, 0 to 4294967295 (default: random, printed)
  --max-failures N   stop after N distinct failures (default 20)
  --lenient          tolerate the known engine disagreements, to look past them
  -h, --help         show this help`;

const values = parseScriptArgs(USAGE, {
  minutes: { type: "string", default: "1" },
  seed: { type: "string" },
  "max-failures": { type: "string", default: "20" },
  lenient: { type: "boolean", default: false },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error(`--minutes must be a positive number, got ${JSON.stringify(values.minutes)}\n${USAGE.split("\n")[0]}`);
  process.exit(2);
}
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const maxFailures = Number(values["max-failures"]);
// --lenient tolerates the KNOWN_ISSUES (mutate.ts), to look past them for other failures
const strict = !values.lenient;

/** A failure's kind: its message without numbers, hex, ids and the input's description. */
function signature(message: string): string {
  return message
    .split("\n")[0]!
    .replace(/\(input \d+, config .*$/, "")
    .replace(/\b[0-9a-f]{16,}\b/g, "#")
    .replace(/-?\d+(\.\d+)?/g, "#")
    .trim();
}

async function failureOf(harness: FuzzHarness, bytes: Uint8Array, config: FeedConfig): Promise<string | undefined> {
  try {
    harness.check(bytes, config);
    return undefined;
  } catch (err) {
    if (err instanceof FuzzFailure) return err.message;
    return `the harness itself threw: ${String((err as Error)?.stack ?? err)}`;
  }
}

/** Removes chunks of `bytes` as long as the same kind of failure remains (delta debugging, light). */
async function shrink(bytes: Uint8Array, config: FeedConfig, kind: string): Promise<Uint8Array> {
  const harness = await FuzzHarness.create(strict);
  let best = bytes;
  for (let chunk = best.length >> 1; chunk >= 1; chunk >>= 1) {
    for (let at = 0; at + chunk <= best.length; ) {
      const candidate = new Uint8Array(best.length - chunk);
      candidate.set(best.subarray(0, at));
      candidate.set(best.subarray(at + chunk), at);
      const failure = await failureOf(harness, candidate, config);
      if (failure !== undefined && signature(failure) === kind) best = candidate;
      else at += chunk;
    }
  }
  return best;
}

const seen = new Map<string, string>();
let failures = 0;

async function report(bytes: Uint8Array, config: FeedConfig, message: string, origin: string): Promise<void> {
  const kind = signature(message);
  failures++;
  if (seen.has(kind)) return;
  const small = await shrink(bytes, config, kind);
  const name = await fixtureName(small);
  await mkdir(FIXTURE_DIR, { recursive: true });
  await writeFile(new URL(name, FIXTURE_DIR), small);
  seen.set(kind, name);
  const confirm = await failureOf(await FuzzHarness.create(strict), small, config);
  console.log(`\nFAIL (${origin}), saved test/fixtures/fuzz/${name} (${small.length} bytes, shrunk from ${bytes.length})`);
  console.log(`  input hex: ${Buffer.from(small).toString("hex")}`);
  console.log(`  config:    ${JSON.stringify(config)}`);
  console.log(`  failure:   ${(confirm ?? message).split("\n").join("\n             ")}`);
}

console.log(`fuzz: ${minutes} min, seed ${seed} (re-run with --seed ${seed})${strict ? "" : ", lenient: known issues tolerated"}`);
const harness = await FuzzHarness.create(strict);
// the fixtures and edge inputs first, as npm test runs them
for (const { name, bytes } of [...(await loadFixtures()), ...edgeInputs()]) {
  for (const config of FIXTURE_CONFIGS) {
    const failure = await failureOf(harness, bytes, config);
    if (failure !== undefined) await report(bytes, config, failure, name);
  }
}
const r = new Random(seed);
const mutator = new Mutator(r, seedCorpus(r));
const deadline = Date.now() + minutes * 60_000;
let inputs = 0;
let lastPrint = Date.now();
while (Date.now() < deadline && seen.size < maxFailures) {
  // a fresh harness now and then: long-lived state is tested, but not one instance forever
  for (let k = 0; k < 1000; k++) {
    const bytes = mutator.next();
    const config = randomConfig(r);
    inputs++;
    const failure = await failureOf(harness, bytes, config);
    if (failure !== undefined) await report(bytes, config, failure, `input #${inputs}`);
  }
  if (Date.now() - lastPrint > 10_000) {
    lastPrint = Date.now();
    console.log(`fuzz: ${inputs} inputs, ${failures} failures (${seen.size} kinds); outcomes ${JSON.stringify(harness.tally)}`);
  }
}
console.log(`\nfuzz: done, ${inputs} inputs, seed ${seed}; outcomes ${JSON.stringify(harness.tally)}`);
if (failures > 0) {
  console.log(`fuzz: ${failures} failing inputs of ${seen.size} kinds; fixtures: ${[...seen.values()].join(", ")}`);
  process.exit(1);
}
console.log("fuzz: no failures");
