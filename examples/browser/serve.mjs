#!/usr/bin/env node
// The browser demo's server: bundles examples/browser/demo.ts with esbuild (from the package
// source, as an application bundler would) and serves it with index.html.
//
//   npm run demo                 # http://127.0.0.1:8080/
//   PORT=9000 HOST=0.0.0.0 npm run demo
//
// PORT=0 picks a free port; the URL is printed either way.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? "127.0.0.1";

const started = Date.now();
const bundle = await build({
  entryPoints: [join(here, "demo.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: "inline",
  write: false,
  logLevel: "warning",
});
const js = bundle.outputFiles[0].contents;
const html = await readFile(join(here, "index.html"));
console.log(`bundled demo.ts: ${(js.length / 1024).toFixed(0)} KiB in ${Date.now() - started} ms`);

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (path === "/" || path === "/index.html") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(html);
  } else if (path === "/demo.js") {
    res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" }).end(js);
  } else {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  }
});
server.on("error", (err) => {
  console.error(`demo server: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  const address = server.address();
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  console.log(`statsworker-wasm demo: http://${shown}:${address.port}/  (Ctrl+C to stop)`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
