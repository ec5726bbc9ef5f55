// A real redis-server for the tests: started on 127.0.0.1 and a free port, ready once it
// answers PING, stopped (and its directory removed) by the test's after() hook.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RedisServerOptions {
  /** keep data across restart(): append-only file, fsync on every write, in a temp directory */
  persistent?: boolean;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** the process's exit, for a test that kills it */
  readonly process: ChildProcess;
  /** SIGKILLs the server (it gets no chance to save anything) and waits for it to exit */
  kill(): Promise<void>;
  /** starts the server again on the same port (and directory); resolves when it answers PING */
  start(): Promise<void>;
  /** stops the server and removes its directory; safe to call twice */
  stop(): Promise<void>;
}

/** Returns a port that was free a moment ago (the kernel picks it; a race is possible, rare). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `PING` on 127.0.0.1:`port` answers `+PONG`, polling every 20 ms up to `timeoutMs`. */
export async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await sleep(20);
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d.toString("latin1");
      // "-LOADING" while an append-only file is replayed: not ready yet
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

/** Starts `redis-server` on a free port of 127.0.0.1; resolves when it answers PING. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "statsworker-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no", "--dir", dir];
  args.push(...(options.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]));
  let child: ChildProcess | undefined;
  let stderr = "";

  async function start(): Promise<void> {
    const proc = spawn("redis-server", args, { stdio: ["ignore", "ignore", "pipe"] });
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new Error(`redis-server exited with ${code} before answering PING: ${stderr}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPing(port), exited]);
  }

  async function kill(): Promise<void> {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get process() {
      return child!;
    },
    kill,
    start,
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
