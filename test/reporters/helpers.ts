// Shared fixtures of the reporter suites: stats, a real HTTP server, bounded waiting, a seeded PRNG.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type AnalyticsStat,
  AnalyticsStatSchema,
  StreamType,
} from "../../src/gen/livekit/livekit_analytics_pb.ts";
import { Random } from "../../src/sim/random.ts";

/** A stat whose `trackId` (`TR_<batch>_<index>`) lets a receiver check order and completeness. */
export function makeStat(batch: number, index = 0): AnalyticsStat {
  return create(AnalyticsStatSchema, {
    kind: index % 2 === 0 ? StreamType.UPSTREAM : StreamType.DOWNSTREAM,
    timeStamp: timestampFromMs(1_700_000_000_000 + batch * 10_000),
    roomId: "RM_room",
    roomName: "room ü", // non-ASCII on purpose: byte counts and encodings must cope
    participantId: "PA_alice",
    trackId: `TR_${batch}_${index}`,
    score: 4.5,
    streams: [
      {
        ssrc: 0,
        primaryPackets: 100 + batch,
        primaryBytes: 123_456_789_012n + BigInt(batch),
        retransmitBytes: 2n ** 63n - 1n,
        packetsLost: 3,
        rtt: 42,
        jitter: 7,
        videoLayers: [{ layer: 2, packets: 50, bytes: 9_000_000_000n, frames: 30 }],
      },
    ],
  });
}

/** `count` stats of batch number `batch`. */
export function makeBatch(batch: number, count = 2): AnalyticsStat[] {
  return Array.from({ length: count }, (_, i) => makeStat(batch, i));
}

/** One request the test server received, with the body fully read. */
export interface Received {
  readonly body: Buffer;
  readonly headers: IncomingMessage["headers"];
  readonly method: string | undefined;
  /** what the server did with it, as named by the handler's return value */
  readonly action: string;
}

/**
 * Decides what the server does with request number `n` (0-based): answer it through `res`
 * (or destroy the socket) and return a short name of the action for the record.
 */
export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, n: number) => string;

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  /** bodies of the requests answered with 2xx, in the order they were answered */
  readonly accepted: Buffer[];
  close(): Promise<void>;
}

/** Answers 204 to everything. */
export const ok: Handler = (_req, res) => {
  res.writeHead(204).end();
  return "ok";
};

/** Starts a real HTTP server on 127.0.0.1 (`port` 0: any free port). */
export async function startServer(handler: Handler = ok, port = 0): Promise<TestServer> {
  const received: Received[] = [];
  const accepted: Buffer[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const body = Buffer.concat(parts);
      const n = received.length;
      const action = handler(req, res, body, n);
      received.push({ body, headers: req.headers, method: req.method, action });
      if (action === "ok") accepted.push(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actualPort}/stats`,
    port: actualPort,
    received,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port that nothing listens on right now (bound once, then released). */
export async function freePort(): Promise<number> {
  const s = await startServer();
  await s.close();
  return s.port;
}

/** Polls `predicate` every 5 ms; fails after `timeoutMs` with `what` in the message. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A seeded PRNG (src/sim/random.ts) so fault patterns can be replayed from the printed seed. */
export function seededRandom(seed: number): () => number {
  const random = new Random(seed);
  return () => random.float();
}

/** A logger that records every call, for tests that check what was logged. */
export function recordingLogger(): {
  entries: Array<{ level: string; message: string; fields: Record<string, unknown> | undefined }>;
  debug(m: string, f?: Record<string, unknown>): void;
  info(m: string, f?: Record<string, unknown>): void;
  warn(m: string, f?: Record<string, unknown>): void;
  error(m: string, f?: Record<string, unknown>): void;
} {
  const entries: Array<{ level: string; message: string; fields: Record<string, unknown> | undefined }> = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    entries.push({ level, message, fields });
  };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
