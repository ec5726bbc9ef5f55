// docs/rules.md is the one place the rule codes are defined: every code the repository cites
// (README, --help and summaries, doc comments, tests) must resolve to a section there, and the
// internal specification the codes came from must not be cited, since it is not shipped.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { suite, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RULES = join(ROOT, "docs/rules.md");

// folders that hold no text of ours, or bytes that only look like text (base64, fixtures)
const SKIP_DIRS = new Set(["node_modules", "dist", "build", ".git", ".scratch", "fixtures", "results", "gen"]);
const TEXT = /\.(ts|mts|mjs|js|md|json|proto|ya?ml|html|sh)$|^run$/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIP_DIRS.has(name) ? [] : sources(path);
    return TEXT.test(name) && !name.endsWith(".gen.ts") && name !== "package-lock.json" ? [path] : [];
  });
}

/** The anchors of a markdown file: explicit `<a id>` ones and GitHub's heading slugs. */
function anchors(markdown: string): Set<string> {
  const ids = new Set<string>();
  for (const m of markdown.matchAll(/<a id="([^"]+)"><\/a>/g)) ids.add(m[1]!);
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    const text = m[1]!.replace(/<[^>]+>/g, "");
    ids.add(text.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-"));
  }
  return ids;
}

// a code: R, Q, T or W and a number; ranges such as R6-R12 or T1-T5 cite every code between
const CODE = /\b([RQTW])(\d{1,2})(?:-\1?(\d{1,2}))?\b/g;

/** Every rule code cited in `text`, ranges expanded, with the line it is on. */
function citedCodes(text: string): { code: string; line: number }[] {
  const found: { code: string; line: number }[] = [];
  text.split("\n").forEach((lineText, i) => {
    for (const m of lineText.matchAll(CODE)) {
      const from = Number(m[2]);
      const to = m[3] === undefined ? from : Number(m[3]);
      for (let n = from; n <= to; n++) found.push({ code: `${m[1]}${n}`, line: i + 1 });
    }
  });
  return found;
}

// Files allowed to cite the internal specification: none any more. The test fails when a file
// listed here no longer cites it, so the list can only shrink.
const PENDING_OWNERS = new Set<string>([]);

// built so that this file does not match itself
const SPEC_WORD = new RegExp(`\\b${"SP"}EC(\\.md)?\\b`);

suite("docs/rules.md", () => {
  const rules = readFileSync(RULES, "utf8");
  const ids = anchors(rules);
  const files = sources(ROOT);

  test("defines a section for every rule family: R1-R12, Q1-Q2, T1-T6, bad input, W1-W3", () => {
    const expected = [
      ...Array.from({ length: 12 }, (_, i) => `r${i + 1}`),
      "q1", "q2",
      ...Array.from({ length: 6 }, (_, i) => `t${i + 1}`),
      "bad-input",
      "w1", "w2", "w3",
    ];
    for (const id of expected) assert.ok(ids.has(id), `docs/rules.md has no section #${id}`);
  });

  test("every rule code cited anywhere in the repository has a section", () => {
    assert.ok(files.length > 50, `scanned only ${files.length} files`);
    const missing: string[] = [];
    let cited = 0;
    for (const file of files) {
      for (const { code, line } of citedCodes(readFileSync(file, "utf8"))) {
        cited++;
        if (!ids.has(code.toLowerCase())) missing.push(`${relative(ROOT, file)}:${line} cites ${code}`);
      }
    }
    assert.ok(cited > 20, `found only ${cited} citations: the scan is broken`);
    assert.deepEqual(missing, []);
  });

  test("the code scanner expands ranges and ignores words that only contain a code", () => {
    assert.deepEqual(
      citedCodes("see R6-R12, T1-T3 and R5/T3; not W3C, TR_1 or ARM64").map((c) => c.code),
      ["R6", "R7", "R8", "R9", "R10", "R11", "R12", "T1", "T2", "T3", "R5", "T3"],
    );
  });

  test("links into docs/rules.md name anchors that exist", () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const m of readFileSync(file, "utf8").matchAll(/rules\.md#([\w-]+)/g)) {
        if (!ids.has(m[1]!)) broken.push(`${relative(ROOT, file)}: #${m[1]}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  test("no file cites the internal specification instead of docs/rules.md", () => {
    const offending: string[] = [];
    for (const file of files) {
      const rel = relative(ROOT, file);
      const cites = SPEC_WORD.test(readFileSync(file, "utf8"));
      if (cites && !PENDING_OWNERS.has(rel)) offending.push(rel);
      if (!cites && PENDING_OWNERS.has(rel)) offending.push(`${rel} is clean now: remove it from PENDING_OWNERS`);
    }
    assert.deepEqual(offending, []);
  });
});
