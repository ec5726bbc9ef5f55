import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import { AnalyticsStatsSchema } from "../gen/livekit/livekit_analytics_pb.ts";
import type { QueuedBatch } from "./delivery.ts";
import { closePost, type FetchFunction, type HeadersOption, httpTarget, post, type PostOptions } from "./http-post.ts";
import { NetworkReporter, type NetworkReporterOptions } from "./network-reporter.ts";
import { concatBatches } from "./stamp.ts";

export { parseRetryAfter, type FetchFunction } from "./http-post.ts";

/** How a batch is encoded in the request body. */
export type HttpReporterFormat = "protobuf" | "json";

/**
 * Options of {@link HttpReporter}: the request, plus the bounds, coalescing and retry delays of
 * the delivery core ({@link NetworkReporterOptions}; its `attemptTimeoutMs` is `requestTimeoutMs`
 * here).
 */
export interface HttpReporterOptions extends Omit<NetworkReporterOptions, "attemptTimeoutMs"> {
  /** Endpoint every request is POSTed to. Required. */
  url: string | URL;
  /**
   * Body encoding: `"protobuf"` sends one binary `AnalyticsStats` message with
   * `content-type: application/x-protobuf`, the stamped engine bytes as they are; `"json"` sends
   * it as proto3 JSON (`{"stats":[...]}`, lowerCamelCase names) with
   * `content-type: application/json`. Default: `"protobuf"`.
   */
  format?: HttpReporterFormat;
  /**
   * Extra request headers (authorization, for instance), or a function returning them, called
   * for every attempt so a rotating token is picked up on retries. They override the reporter's
   * own `content-type`. Default: none.
   */
  headers?: HeadersOption;
  /**
   * The `fetch` to call for every request. Default: in Node >= 20.16, Node's own `http`/`https`
   * client with a keep-alive connection of the reporter's own (closed by `close()`); elsewhere
   * `globalThis.fetch` (browsers, older Node).
   */
  fetch?: FetchFunction;
  /**
   * Abort one request after this long, in milliseconds; a timeout is retried. `Infinity` turns
   * the timeout off. Default: `10_000`.
   */
  requestTimeoutMs?: number;
  /**
   * Most bytes of a response body read (they appear in the log of a failure); the rest is
   * cancelled unread, so an endless body costs nothing. Default: `4096`.
   */
  maxResponseBytes?: number;
}

/**
 * A reporter that POSTs batches to an HTTP endpoint, in the spirit of LiveKit's analytics
 * `SendStats`, coalescing the batches of many workers into one request.
 *
 * Every stat gets `node` (when the option is set) and, when it has none, a unique `id` (`"AS_"`
 * and 12 base62 characters), stamped into the encoded bytes when the batch is accepted, so a
 * retried request carries the same ids and the receiver can drop duplicates (a request that timed
 * out may still have been processed). With the wasm engine and the protobuf format no message
 * object is built between the engine and the socket.
 *
 * Requests carry up to `maxGroupBytes` (4 MiB) of batches, one request at a time, in order: a
 * flush of 10 000 participants is a couple of requests. Network errors, timeouts, 408, 429 and
 * 5xx are retried with exponential backoff and full jitter, honouring `Retry-After` but never
 * sooner than `minRetryDelayMs`; redirects are not followed and count as failures, and so does
 * any other non-2xx status (see `DeliveryQueue` for how a refused request of several batches is
 * retried batch by batch). Queue bounds default to 100 000 batches, 1 000 000 stats and 64 MiB,
 * far above a W3 window (10 000 workers, 40 000 stats, about 7 MB). `report()` and
 * `reportBytes()` never throw and return at once; `close(deadlineMs)` returns by its deadline
 * even when the endpoint hangs.
 */
export class HttpReporter extends NetworkReporter {
  readonly #format: HttpReporterFormat;
  readonly #post: PostOptions;

  /**
   * @param options see {@link HttpReporterOptions}; `url` is required
   * @throws {ArgumentError} on a missing url, a bad format, a bad bound or delay, or when no
   *   `fetch` is available
   */
  constructor(options: HttpReporterOptions) {
    const target = httpTarget("http", options);
    super("http", target.core);
    this.#format = target.format;
    this.#post = target.post;
  }

  protected override send(group: readonly QueuedBatch[], signal: AbortSignal): Promise<number> {
    // concatBatches copies a group of several; a single batch is sent from the queue's buffer
    // through Node's client, which is done with it when the request has been written, but fetch
    // may still stream a body after its response arrives, so it gets a copy.
    const bytes =
      group.length > 1 ? concatBatches(group.map((b) => b.bytes)) : this.#post.node !== undefined ? group[0]!.bytes : group[0]!.bytes.slice();
    if (this.#format === "protobuf") return post(this.#post, bytes, signal);
    const json = toJsonString(AnalyticsStatsSchema, fromBinary(AnalyticsStatsSchema, bytes));
    return post(this.#post, new TextEncoder().encode(json), signal);
  }

  protected override closeTransport(): void {
    closePost(this.#post);
  }
}
