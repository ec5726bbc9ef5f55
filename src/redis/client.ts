/**
 * The Redis connection shared by the stream reporter and the stream collector: node-redis
 * (`@redis/client`) configured so that nothing queues outside our own bounds.
 *
 * @module
 */
import { createClient, RESP_TYPES } from "@redis/client";
import { ArgumentError } from "../errors.ts";
import type { Logger } from "../logger.ts";

/** Reconnect delays grow from this, in milliseconds... */
const RECONNECT_MIN_MS = 50;
/** ...doubling up to this cap, in milliseconds. */
const RECONNECT_MAX_MS = 2_000;

/** Options of {@link createStreamClient}. */
export interface StreamClientOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` (TLS). Required. */
  url: string;
  /** Where connection loss and recovery are logged (once per outage). Required. */
  logger: Logger;
  /** What the log lines name as the speaker, such as `"redis reporter"`. Required. */
  role: string;
  /** Give up one connection attempt after this long, in milliseconds. Default: `5_000`. */
  connectTimeoutMs?: number;
}

/** The client type both sides use: bulk strings come back as `Buffer`. */
export type StreamClient = ReturnType<typeof createStreamClient>;

/**
 * Creates a node-redis client (not yet connected) that returns bulk strings as `Buffer`,
 * reconnects forever with capped exponential backoff, and rejects commands at once while
 * disconnected instead of queueing them (the callers hold their own bounded queues).
 *
 * @throws {ArgumentError} when `url` is not a `redis://` or `rediss://` URL
 */
export function createStreamClient(options: StreamClientOptions) {
  const url = checkRedisUrl(options.url);
  const { logger, role } = options;
  let down = false;
  const client = createClient({
    url,
    // node-redis would otherwise queue every command issued during an outage, without a bound.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      reconnectStrategy: (retries: number) =>
        Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(retries, 16)) * (0.5 + Math.random() / 2),
    },
  }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  // node-redis emits "error" for every failed (re)connection attempt; without a listener that
  // would crash the process. Log the first of an outage only.
  client.on("error", (err: unknown) => {
    if (down) return;
    down = true;
    logger.warn(`${role} lost its redis connection, reconnecting`, { url: redactUrl(url), error: String(err) });
  });
  client.on("ready", () => {
    if (!down) return;
    down = false;
    logger.info(`${role} reconnected to redis`, { url: redactUrl(url) });
  });
  return client;
}

/**
 * Returns `url` when it is a `redis://` or `rediss://` URL, or throws an ArgumentError naming it
 * (its password replaced by `***`).
 */
export function checkRedisUrl(url: unknown): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:")) {
    throw new ArgumentError(`redis url must be redis:// or rediss://, got ${JSON.stringify(typeof url === "string" ? redactUrl(url) : url)}`);
  }
  return url as string;
}

/** `url` with any password replaced by `***`, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "***";
    return parsed.toString();
  } catch {
    // unparsable, but it may still hold a password
    return url.replace(/\/\/([^/@:]*):[^/@]*@/, "//$1:***@");
  }
}

/** Reports whether `err` is a Redis error reply starting with `code` (`"NOGROUP"`, `"BUSYGROUP"`). */
export function isReplyError(err: unknown, code: string): boolean {
  return err instanceof Error && err.message.startsWith(code);
}
