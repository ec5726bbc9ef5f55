/**
 * One hardened HTTP POST, shared by the reporters that speak HTTP (`HttpReporter`, `OtlpReporter`).
 *
 * In Node it speaks `node:http` / `node:https` through a keep-alive agent of its own, found at run
 * time (`process.getBuiltinModule`, Node >= 20.16), so the module imports no Node built-in and
 * runs in browsers too, where it uses `fetch`. An injected `fetch` is always used as given.
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
  /** the `fetch` to call, when the POST does not go through {@link PostOptions.node} */
  readonly fetch: FetchFunction | undefined;
  /** Node's HTTP client for `url`, used instead of `fetch` when set */
  readonly node: NodeClient | undefined;
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
  const url = String(options.url);
  // Node's own client when nothing was injected: undici's fetch costs about 75 KB of JS heap and
  // a stream pipeline per request, which at one request per flush window is most of the heap a
  // window of 8 000 stats costs end to end.
  const node = options.fetch === undefined ? nodeClient(url) : undefined;
  const fetchFn = node !== undefined ? undefined : (options.fetch ?? globalThis.fetch?.bind(globalThis));
  if (node === undefined && typeof fetchFn !== "function") throw new ArgumentError("no fetch available: pass options.fetch");
  const { requestTimeoutMs, ...rest } = options;
  return {
    format,
    post: {
      fetch: fetchFn,
      node,
      url,
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
  if (options.node !== undefined) {
    const { status, text, retryAfter } = await nodePost(options.node, options, body, signal);
    return answer(status, text, retryAfter, body.length);
  }
  // Headers compares names case-insensitively, so a user's "Content-Type" replaces ours instead
  // of being sent next to it.
  const headers = new Headers(typeof options.headers === "function" ? options.headers() : options.headers);
  if (!headers.has("content-type")) headers.set("content-type", options.contentType);
  let response: Response;
  try {
    response = await options.fetch!(options.url, { method: "POST", headers, body, signal, redirect: "error" });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    // With redirect "error", fetch fails with a network error; Node's names the redirect in its
    // cause. Retrying a redirect cannot help: it is a misconfigured URL.
    const reason = describeError(err);
    throw new DeliveryError(reason, { permanent: /redirect/i.test(reason), cause: err });
  }
  const text = await readBounded(response, options.maxResponseBytes);
  return answer(response.status, text, response.headers.get("retry-after"), body.length);
}

/** What an answer means: the bytes sent for a 2xx, else the {@link DeliveryError} to throw. */
function answer(status: number, text: string, retryAfter: string | null | undefined, sent: number): number {
  if (status >= 200 && status < 300) return sent;
  const reason = `status ${status}${text === "" ? "" : `: ${text.slice(0, 200)}`}`;
  if (status === 408 || status === 429 || status >= 500) {
    throw new DeliveryError(reason, { retryAfterMs: parseRetryAfter(retryAfter) });
  }
  throw new DeliveryError(reason, { permanent: true });
}

// The little of node:http used here, declared structurally: the package's declarations must
// type-check for consumers without @types/node (browser builds).
interface Agent {
  destroy(): void;
}
interface RequestOptions {
  method: string;
  agent: Agent;
  headers: Record<string, string>;
}
interface IncomingMessage {
  readonly statusCode?: number | undefined;
  readonly headers: Record<string, string | string[] | undefined>;
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close" | "error", listener: () => void): unknown;
  destroy(): void;
}
interface ClientRequest {
  on(event: "response", listener: (res: IncomingMessage) => void): unknown;
  on(event: "error", listener: (err: unknown) => void): unknown;
  on(event: "finish" | "close", listener: () => void): unknown;
  destroy(): void;
  end(body: Uint8Array): void;
}

/** Node's HTTP client for one reporter's endpoint: the module for its scheme and a keep-alive agent. */
export interface NodeClient {
  readonly request: (url: string, options: RequestOptions) => ClientRequest;
  /** one reporter's connections: it sends one request at a time, so one socket stays open */
  readonly agent: Agent;
}

interface NodeHttpModule {
  request(url: string, options: RequestOptions): ClientRequest;
  Agent: new (options: { keepAlive: boolean; maxSockets: number }) => Agent;
}

/**
 * Node's client for `url` (http: or https:), or `undefined` outside Node, before Node 20.16, or
 * for another scheme (then `fetch` is used, and says what is wrong with the URL).
 */
export function nodeClient(url: string): NodeClient | undefined {
  const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule;
  if (typeof getBuiltin !== "function") return undefined;
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return undefined;
  }
  if (protocol !== "http:" && protocol !== "https:") return undefined;
  const mod = getBuiltin(protocol === "https:" ? "node:https" : "node:http") as NodeHttpModule | undefined;
  if (mod === undefined) return undefined;
  // Idle keep-alive sockets are unref'd by the agent: they never keep a host process alive.
  return { request: mod.request.bind(mod), agent: new mod.Agent({ keepAlive: true, maxSockets: 1 }) };
}

/** Closes the connections a {@link PostOptions} holds (Node's client only; fetch keeps its own pool). */
export function closePost(options: PostOptions): void {
  options.node?.agent.destroy();
}

interface NodeAnswer {
  status: number;
  text: string;
  retryAfter: string | undefined;
}

/**
 * One POST through Node's client, with what {@link post} promises of `fetch`: no redirect
 * followed, at most `maxResponseBytes` of the body read (then the connection is closed), the
 * signal aborting the request at any point. Rejects with `signal.reason` once aborted, and with a
 * retryable {@link DeliveryError} on a network error before the answer.
 */
function nodePost(client: NodeClient, options: PostOptions, body: Uint8Array, signal: AbortSignal): Promise<NodeAnswer> {
  return new Promise<NodeAnswer>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const user = typeof options.headers === "function" ? options.headers() : options.headers;
    const headers: Record<string, string> = {};
    let typed = false;
    for (const name of Object.keys(user)) {
      const lower = name.toLowerCase();
      // The body's length is ours to say; a user's value would corrupt the framing.
      if (lower === "content-length") continue;
      if (lower === "content-type") typed = true;
      headers[lower] = user[name]!;
    }
    if (!typed) headers["content-type"] = options.contentType;
    headers["content-length"] = String(body.length);
    let done = false;
    // the answer waits for the body to be written too: its bytes may be reused once this settles
    let written = false;
    let answered: (() => void) | undefined;
    let req: ClientRequest | undefined;
    const onAbort = (): void => {
      if (done) return;
      done = true;
      req?.destroy();
      reject(signal.reason);
    };
    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      reject(signal.aborted ? signal.reason : new DeliveryError(describeError(err), { cause: err }));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      req = client.request(options.url, { method: "POST", agent: client.agent, headers });
    } catch (err) {
      // A header Node refuses (a newline in a value, say): as fetch's Headers throws for it.
      done = true;
      signal.removeEventListener("abort", onAbort);
      reject(err);
      return;
    }
    req.on("error", fail);
    req.on("response", (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const limit = options.maxResponseBytes;
      const parts: Uint8Array[] = [];
      let read = 0;
      const finish = (): void => {
        if (done) return;
        done = true;
        signal.removeEventListener("abort", onAbort);
        const text = decode(parts);
        const retryAfter = res.headers["retry-after"];
        answered =
          status >= 300 && status < 400
            ? // fetch with redirect "error" fails the same way: a misconfigured URL, never retried
              () => reject(new DeliveryError(`unexpected redirect: status ${status}`, { permanent: true }))
            : () => resolve({ status, text, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
        if (written) answered();
      };
      res.on("data", (chunk: Uint8Array) => {
        if (read < limit) parts.push(read + chunk.length > limit ? chunk.subarray(0, limit - read) : chunk);
        read += chunk.length;
        if (read >= limit) {
          // The rest is not read: closing the connection is cheaper than draining an endless body.
          res.destroy();
          finish();
        }
      });
      // A body cut off by a reset: what was read is still worth logging, the status still counts.
      res.on("error", () => {});
      res.on("end", finish);
      res.on("close", finish);
    });
    req.on("finish", () => {
      written = true;
      answered?.();
    });
    // A request that ends before its body is written (the server answered early and closed)
    // releases the body with its socket.
    req.on("close", () => {
      if (written) return;
      written = true;
      answered?.();
    });
    req.end(body);
  });
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
