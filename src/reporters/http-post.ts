/**
 * One hardened HTTP POST, shared by the reporters that speak HTTP (`HttpReporter`, `OtlpReporter`).
 *
 * Uses only `fetch`, so it runs in browsers too.
 *
 * @module
 */
import { ArgumentError } from "../errors.ts";
import { checkOption, DeliveryError, describeError } from "./delivery.ts";

/** The `fetch` the HTTP reporters call: the platform's by default, or one injected for tests. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** Request headers as an object, or a function returning them, called for every attempt. */
export type HeadersOption = Record<string, string> | (() => Record<string, string>);

/** Default bound on the bytes of a response body read (for the log), in bytes. */
export const DEFAULT_MAX_RESPONSE_BYTES = 4096;

/** What {@link post} needs besides the body. */
export interface PostOptions {
  readonly fetch: FetchFunction;
  readonly url: string;
  readonly contentType: string;
  readonly headers: HeadersOption;
  /** most response-body bytes read; the rest is cancelled unread */
  readonly maxResponseBytes: number;
}

/** The options every HTTP-based reporter takes and checks the same way. */
export interface HttpTargetOptions {
  url: string | URL;
  format?: "protobuf" | "json";
  fetch?: FetchFunction;
  headers?: HeadersOption;
  requestTimeoutMs?: number;
  maxResponseBytes?: number;
}

/**
 * Checks the HTTP options of reporter `name` (`"http"`, `"otlp"`) and derives its POST and the
 * delivery core's attempt timeout (`requestTimeoutMs`, default 10 000) from them; `core` is the
 * rest of the options, for the core.
 *
 * @throws {ArgumentError} on a missing url, a bad format, a bad number, or when no `fetch` is available
 */
export function httpTarget<O extends HttpTargetOptions>(
  name: string,
  options: O,
): { format: "protobuf" | "json"; post: PostOptions; core: Omit<O, "requestTimeoutMs"> & { attemptTimeoutMs: number } } {
  if (typeof options?.url !== "string" && !(options?.url instanceof URL)) {
    throw new ArgumentError(`${name} reporter needs a url`);
  }
  const format = options.format ?? "protobuf";
  if (format !== "protobuf" && format !== "json") {
    throw new ArgumentError(`unknown ${name} reporter format ${JSON.stringify(format)}`);
  }
  const fetchFn = options.fetch ?? globalThis.fetch?.bind(globalThis);
  if (typeof fetchFn !== "function") throw new ArgumentError("no fetch available: pass options.fetch");
  const { requestTimeoutMs, ...rest } = options;
  return {
    format,
    post: {
      fetch: fetchFn,
      url: String(options.url),
      contentType: format === "json" ? "application/json" : "application/x-protobuf",
      headers: options.headers ?? {},
      maxResponseBytes: checkOption("maxResponseBytes", options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 0),
    },
    core: { ...rest, attemptTimeoutMs: checkOption("requestTimeoutMs", requestTimeoutMs ?? 10_000, 1) },
  };
}

/**
 * POSTs `body` and resolves with its length when the server answers 2xx.
 *
 * Redirects are never followed (`redirect: "error"`): a 3xx is a failure, never a delivery, and
 * the headers (credentials) never reach another origin. At most `maxResponseBytes` of the response
 * body are read, whatever the status, so an endless body cannot grow memory; the rest is
 * cancelled. 408, 429 and 5xx answers and network errors reject with a retryable
 * {@link DeliveryError} (with the server's `Retry-After`), a redirect and any other status with a
 * permanent one.
 */
export async function post(options: PostOptions, body: Uint8Array<ArrayBuffer>, signal: AbortSignal): Promise<number> {
  // Headers compares names case-insensitively, so a user's "Content-Type" replaces ours instead
  // of being sent next to it.
  const headers = new Headers(typeof options.headers === "function" ? options.headers() : options.headers);
  if (!headers.has("content-type")) headers.set("content-type", options.contentType);
  let response: Response;
  try {
    response = await options.fetch(options.url, { method: "POST", headers, body, signal, redirect: "error" });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    // With redirect "error", fetch fails with a network error; Node's names the redirect in its
    // cause. Retrying a redirect cannot help: it is a misconfigured URL.
    const reason = describeError(err);
    throw new DeliveryError(reason, { permanent: /redirect/i.test(reason), cause: err });
  }
  const status = response.status;
  const text = await readBounded(response, options.maxResponseBytes);
  if (status >= 200 && status < 300) return body.length;
  const reason = `status ${status}${text === "" ? "" : `: ${text.slice(0, 200)}`}`;
  if (status === 408 || status === 429 || status >= 500) {
    throw new DeliveryError(reason, { retryAfterMs: parseRetryAfter(response.headers.get("retry-after")) });
  }
  throw new DeliveryError(reason, { permanent: true });
}

/** Reads at most `limit` bytes of the body as text and cancels the rest; never throws. */
async function readBounded(response: Response, limit: number): Promise<string> {
  const stream = response.body;
  if (stream === null) return "";
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let read = 0;
  try {
    while (read < limit) {
      const { done, value } = await reader.read();
      if (done) return decode(parts);
      parts.push(value);
      read += value.length;
    }
    await reader.cancel().catch(() => {});
  } catch {
    // A body cut off by a reset or an abort: what was read is still worth logging.
    reader.cancel().catch(() => {});
  }
  return decode(parts);
}

function decode(parts: readonly Uint8Array[]): string {
  if (parts.length === 0) return "";
  const decoder = new TextDecoder();
  let text = "";
  for (const p of parts) text += decoder.decode(p, { stream: true });
  return text + decoder.decode();
}

/**
 * Parses an HTTP `Retry-After` value into milliseconds from now.
 *
 * Accepts delay-seconds (`"120"`) and an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`); a date in
 * the past gives 0. Returns `undefined` for a missing or unparsable value.
 *
 * @param now the current time in epoch milliseconds. Default: `Date.now()`.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // All three HTTP-date forms (RFC 9110 5.6.7) start with a day name; Date.parse alone would
  // also take "-5" or "2015" as dates.
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
