/**
 * Node-side plumbing of the browser suite: esbuild bundling for the browser, a static server on
 * 127.0.0.1, Chromium via playwright-core, and bounded waits.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { builtinModules } from "node:module";
import { extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildFailure, type Metafile, type Plugin } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import type { PageReport } from "./cases.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Debian's chromium; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";

/** Why the Chromium part of the suite cannot run, or undefined when it can. */
export const chromiumMissing: string | undefined = existsSync(CHROMIUM_PATH)
  ? undefined
  : `chromium not installed: ${CHROMIUM_PATH} does not exist (apt-get install chromium, as .ci/run does, or set CHROMIUM_PATH)`;

/** Says loudly, on stderr, that part of the suite is skipped and why. */
export function shoutSkip(reason: string): void {
  const bar = "!".repeat(100);
  console.error(`\n${bar}\n!! BROWSER TESTS SKIPPED: ${reason}\n${bar}\n`);
}

/** Rejects with a readable error when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The result of bundling for the browser. */
export interface BrowserBundle {
  js: Uint8Array;
  metafile: Metafile;
  /** Node built-ins among the inputs or imports (esbuild fails on them first; this is a second net) */
  nodeImports: string[];
}

/** Options of {@link bundleForBrowser}. */
export interface BundleOptions {
  /** an entry file, or source text resolved from the repository root */
  entry: { file: string } | { contents: string };
  /** bare imports left to the page's import map; default: none */
  external?: string[];
  plugins?: Plugin[];
}

/**
 * Bundles for the browser as an application bundler would: platform browser, ESM, everything
 * bundled. esbuild refuses a Node built-in on this platform; the error is rethrown naming it.
 */
export async function bundleForBrowser(options: BundleOptions): Promise<BrowserBundle> {
  try {
    const result = await build({
      ...("file" in options.entry
        ? { entryPoints: [options.entry.file] }
        : { stdin: { contents: options.entry.contents, resolveDir: ROOT, sourcefile: "stdin.ts", loader: "ts" as const } }),
      absWorkingDir: ROOT,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      metafile: true,
      sourcemap: "inline",
      logLevel: "silent",
      external: options.external ?? [],
      plugins: options.plugins ?? [],
    });
    const metafile = result.metafile;
    const imports = Object.values(metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    const nodeImports = [...Object.keys(metafile.inputs), ...imports].filter((p) => NODE_BUILTINS.has(p) || p.startsWith("node:"));
    return { js: result.outputFiles[0]!.contents, metafile, nodeImports };
  } catch (err) {
    const failure = err as Partial<BuildFailure>;
    if (!Array.isArray(failure.errors)) throw err;
    const lines = failure.errors.map((e) => {
      const where = e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ` : "";
      const notes = e.notes.map((n) => `\n      note: ${n.text}`).join("");
      return `  ${where}${e.text}${notes}`;
    });
    const builtin = failure.errors.some((e) => /node:|built into node|Node\.js/i.test(e.text + e.notes.map((n) => n.text).join(" ")));
    throw new Error(`${builtin ? "the browser bundle pulls in a Node built-in" : "esbuild failed to bundle for the browser"}:\n${lines.join("\n")}`);
  }
}

/** An esbuild plugin that resolves `../../src/index.ts` (the library, as the page entry imports it) to `to`. */
export function redirectLibrary(to: string, external: boolean): Plugin {
  return {
    name: "redirect-library",
    setup(b) {
      b.onResolve({ filter: /(^|\/)src\/index\.ts$/ }, (args) => (external ? { path: to, external: true } : b.resolve(to, { kind: args.kind, resolveDir: ROOT })));
    },
  };
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
};

/** A static server on 127.0.0.1: in-memory files plus directory mounts. */
export interface TestServer {
  readonly origin: string;
  /** serve `body` at `path` (replacing what was there) */
  put(path: string, body: string | Uint8Array, type?: string): void;
  close(): Promise<void>;
}

/**
 * Starts the server on an ephemeral port. `mounts` maps a URL prefix ending in `/` to a
 * directory; requests that leave the directory get 403.
 */
export async function startServer(mounts: Record<string, string>): Promise<TestServer> {
  const files = new Map<string, { body: string | Uint8Array; type: string }>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      const file = files.get(path);
      if (file) {
        res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" });
        res.end(file.body);
        return;
      }
      if (path === "/favicon.ico") {
        res.writeHead(204).end();
        return;
      }
      for (const [prefix, dir] of Object.entries(mounts)) {
        if (!path.startsWith(prefix)) continue;
        const target = resolve(dir, path.slice(prefix.length));
        if (target !== dir && !target.startsWith(dir.endsWith(sep) ? dir : dir + sep)) {
          res.writeHead(403).end();
          return;
        }
        try {
          const body = await readFile(target);
          res.writeHead(200, { "content-type": TYPES[extname(target)] ?? "application/octet-stream", "cache-control": "no-store" });
          res.end(body);
        } catch {
          res.writeHead(404).end(`not found: ${relative(ROOT, target)}`);
        }
        return;
      }
      res.writeHead(404).end("not found");
    })().catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    put(path, body, type = TYPES[extname(path)] ?? "application/octet-stream") {
      files.set(path, { body, type });
    },
    async close() {
      server.closeAllConnections();
      await withTimeout(new Promise<void>((ok) => server.close(() => ok())), 5_000, "closing the test server");
    },
  };
}

/** Chromium flags for WebRTC calls with a fake camera and microphone and no permission prompt. */
export const FAKE_MEDIA_ARGS: readonly string[] = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"];

/** Launches Debian's chromium headless, with the flags TOOLCHAIN.md section 7 verified, plus `extraArgs`. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 30_000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...extraArgs],
  });
}

/** What a page said on its way: uncaught errors, console errors and failed requests. */
export class PageLog {
  readonly errors: string[] = [];
  readonly console: string[] = [];
  /** rejects on the first uncaught page error, so a wait does not sit out its whole timeout */
  readonly fatal: Promise<never>;

  constructor(page: Page) {
    let fail: (err: Error) => void = () => {};
    this.fatal = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.fatal.catch(() => {});
    page.on("pageerror", (err) => {
      this.errors.push(`uncaught: ${err.stack ?? err.message}`);
      fail(new Error(`uncaught error in the page: ${err.stack ?? err.message}`));
    });
    page.on("console", (msg) => {
      this.console.push(msg.text());
      if (msg.type() === "error") this.errors.push(`console.error: ${msg.text()} (${msg.location().url})`);
    });
    page.on("requestfailed", (req) => this.errors.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ""}`));
    page.on("response", (res) => {
      if (res.status() >= 400) this.errors.push(`HTTP ${res.status()}: ${res.url()}`);
    });
  }
}

/**
 * Opens `url` in a new page and waits (bounded) for the in-page suite to leave its report in
 * `window.__results`. The page is closed before returning.
 */
export async function runPageSuite(browser: Browser, url: string, timeoutMs: number): Promise<{ report: PageReport; log: PageLog }> {
  const page = await browser.newPage();
  const log = new PageLog(page);
  try {
    await page.goto(url, { timeout: 30_000, waitUntil: "load" });
    await withTimeout(
      Promise.race([page.waitForFunction(() => window.__results !== undefined, null, { timeout: timeoutMs, polling: 100 }), log.fatal]),
      timeoutMs + 5_000,
      `the in-page suite at ${url}`,
    );
    const report = await withTimeout(page.evaluate(() => window.__results!), 10_000, "reading window.__results");
    return { report, log };
  } catch (err) {
    const detail = log.errors.length ? `\npage log:\n  ${log.errors.join("\n  ")}` : "";
    throw new Error(`${(err as Error).message}${detail}`, { cause: err });
  } finally {
    await page.close().catch(() => {});
  }
}

/** The first fenced code block of `lang` in a markdown file. */
export async function markdownBlock(file: string, lang: string): Promise<string> {
  const text = await readFile(join(ROOT, file), "utf8");
  const match = new RegExp("```" + lang + "\\n([\\s\\S]*?)\\n```").exec(text);
  if (!match) throw new Error(`${file} has no \`\`\`${lang} block`);
  return match[1]!;
}
