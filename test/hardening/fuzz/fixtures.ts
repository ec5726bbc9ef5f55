/**
 * The hardening fuzzer's regression fixtures: inputs that once failed, saved under
 * test/fixtures/fuzz/ by `npm run fuzz` and replayed first by `npm test`.
 *
 * @module
 */

/** The first 16 hex digits of the SHA-256 of `bytes`: a fixture's file name. */
export async function fixtureName(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("") + ".bin";
}

/** The directory of regression fixtures. */
export const FIXTURE_DIR = new URL("../../fixtures/fuzz/", import.meta.url);

/** `{ name, bytes }` of every `*.bin` fixture, sorted by name. */
export async function loadFixtures(): Promise<{ name: string; bytes: Uint8Array }[]> {
  const { readdir, readFile } = await import("node:fs/promises");
  let names: string[];
  try {
    names = (await readdir(FIXTURE_DIR)).filter((n) => n.endsWith(".bin")).sort();
  } catch {
    return [];
  }
  return Promise.all(names.map(async (name) => ({ name, bytes: new Uint8Array(await readFile(new URL(name, FIXTURE_DIR))) })));
}
