// The npm scripts a contributor runs by hand answer --help and refuse unknown options in one line.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { suite, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function script(name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", `scripts/${name}.ts`, ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stdout, stderr });
    });
  });
}

suite("npm run fuzz / npm run soak", () => {
  for (const name of ["fuzz", "soak"]) {
    test(`${name} --help prints its usage and exits 0`, async () => {
      const run = await script(name, ["--help"]);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.stdout.startsWith(`usage: npm run ${name} --`), run.stdout);
      assert.match(run.stdout, /--minutes N/);
      assert.equal(run.stderr, "");
    });

    test(`${name} with an unknown option prints one error line and the usage line, exit 2`, async () => {
      const run = await script(name, ["--bogus"]);
      assert.equal(run.code, 2);
      const lines = run.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 2, run.stderr);
      assert.match(lines[0]!, /Unknown option '--bogus'/);
      assert.match(lines[1]!, new RegExp(`^usage: npm run ${name} --`));
    });
  }
});
