/**
 * Compares two benchmark result files: `npm run bench:compare -- OLD.json NEW.json [--threshold 10]`.
 *
 * Prints the throughput change of every case the two files share, and exits 1 when any case got
 * slower (lower throughput) by more than the threshold, so CI can fail on a regression. Bad
 * arguments or unreadable files exit 2.
 *
 * @module
 */
import { readFileSync } from "node:fs";

const HELP = `usage: npm run bench:compare -- OLD.json NEW.json [--threshold PCT]

Compares the throughput (operations per second) of every case found in both result files
(written by npm run bench, e.g. bench/results/baseline.json and bench/results/latest.json).

options:
  --threshold PCT  fail when a case's throughput dropped by more than PCT percent (default 10)
  -h, --help       print this help and exit

exit status: 0 no case slower than the threshold, 1 at least one was, 2 bad arguments or files`;

class UsageError extends Error {
  override readonly name = "UsageError";
}

interface CaseEntry {
  opsPerSec: number;
  rme?: number;
}

interface Results {
  node?: string;
  cpu?: string;
  cases: Record<string, CaseEntry>;
}

function parseArgs(argv: string[]): { oldFile: string; newFile: string; threshold: number } {
  const files: string[] = [];
  let threshold = 10;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help") {
      console.log(HELP);
      process.exit(0);
    } else if (a === "--threshold" || a.startsWith("--threshold=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      const n = Number(v);
      if (v === undefined || v === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`invalid --threshold: ${String(v)} (expected a percentage >= 0)`);
      threshold = n;
    } else if (a.startsWith("-") && a !== "-") {
      throw new UsageError(`unknown option: ${a}`);
    } else {
      files.push(a);
    }
  }
  if (files.length !== 2) throw new UsageError(`expected two result files (OLD.json NEW.json), got ${files.length}`);
  return { oldFile: files[0]!, newFile: files[1]!, threshold };
}

function load(file: string): Results {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not JSON`);
  }
  const cases = (data as { cases?: unknown } | null)?.cases;
  if (cases === null || typeof cases !== "object" || Array.isArray(cases)) {
    throw new UsageError(`${file} is not a benchmark result file (no "cases" object)`);
  }
  for (const [name, entry] of Object.entries(cases as Record<string, unknown>)) {
    const ops = (entry as { opsPerSec?: unknown } | null)?.opsPerSec;
    if (typeof ops !== "number" || !Number.isFinite(ops) || ops <= 0) {
      throw new UsageError(`${file}: case ${name} has no valid opsPerSec`);
    }
  }
  return data as Results;
}

function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(1);
}

function main(): number {
  const { oldFile, newFile, threshold } = parseArgs(process.argv.slice(2));
  const before = load(oldFile);
  const after = load(newFile);
  console.log(`old: ${oldFile} (${before.node ?? "?"}, ${before.cpu ?? "?"})`);
  console.log(`new: ${newFile} (${after.node ?? "?"}, ${after.cpu ?? "?"})`);
  if (before.cpu !== after.cpu || before.node !== after.node) console.log("warning: the files come from different machines or Node versions");
  console.log(`threshold: ${threshold}% lower throughput\n`);

  const names = [...new Set([...Object.keys(before.cases), ...Object.keys(after.cases)])];
  const rows: string[][] = [["case", "old ops/s", "new ops/s", "change", ""]];
  const regressions: string[] = [];
  for (const name of names) {
    const o = before.cases[name];
    const n = after.cases[name];
    if (o === undefined || n === undefined) {
      rows.push([name, o ? rate(o.opsPerSec) : "-", n ? rate(n.opsPerSec) : "-", "", o ? "removed" : "added"]);
      continue;
    }
    const change = (n.opsPerSec / o.opsPerSec - 1) * 100;
    let verdict: string;
    if (-change > threshold) {
      verdict = "SLOWER (regression)";
      regressions.push(name);
    } else if (change < 0) {
      verdict = "slower";
    } else if (change > 0) {
      verdict = "faster";
    } else {
      verdict = "same";
    }
    rows.push([name, rate(o.opsPerSec), rate(n.opsPerSec), `${change >= 0 ? "+" : ""}${change.toFixed(1)}%`, verdict]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd());
  if (regressions.length > 0) {
    console.log(`\n${regressions.length} case(s) slower by more than ${threshold}%: ${regressions.join(", ")}`);
    return 1;
  }
  console.log(`\nno case slower by more than ${threshold}%`);
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`bench:compare: ${err.message}\n(see --help)`);
    process.exitCode = 2;
  } else {
    throw err;
  }
}
