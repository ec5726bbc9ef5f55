import { splitBatch } from "../reporters/split-batch.ts";
import * as grpc from "@grpc/grpc-js";
import { ArgumentError } from "../errors.ts";
import { checkOption, DeliveryError, type QueuedBatch } from "../reporters/delivery.ts";
import { NetworkReporter, type NetworkReporterOptions } from "../reporters/network-reporter.ts";
import { concatBatches } from "../reporters/stamp.ts";
import { INGEST_STATS_PATH, analyticsRecorderServiceDefinition } from "./service.ts";

/** Request metadata of every stream: fixed, or made afresh for each stream (a rotating token). */
export type MetadataOption = grpc.Metadata | Record<string, string> | (() => grpc.Metadata | Record<string, string>);

/**
 * Options of {@link AnalyticsRecorderReporter}: the channel, plus the bounds, coalescing and
 * retry delays of the delivery core ({@link NetworkReporterOptions}).
 */
export interface AnalyticsRecorderReporterOptions extends NetworkReporterOptions {
  /**
   * Longest delay before any retry, in milliseconds, a `grpc-retry-pushback-ms` hint included;
   * it also caps the channel's reconnect backoff, so a restarted recorder is reached within
   * about this long. Default: `5_000` (shorter than the other network reporters' 30 s).
   */
  maxRetryDelayMs?: number;
  /**
   * The recorder's address, a grpc-js target: `host:port`, `dns:///host:port`, `[::1]:port`,
   * `unix:/path`. Required.
   */
  address: string;
  /**
   * Channel credentials. Default: plaintext for a loopback address (`localhost`, `127.x.x.x`,
   * `[::1]`, with or without `dns:///`) or a `unix:` socket, TLS with the system's roots
   * (`grpc.credentials.createSsl()`) for any other.
   */
  credentials?: grpc.ChannelCredentials;
  /**
   * Request metadata sent with every stream (`authorization`, for instance), or a function
   * returning it, called for every stream so a rotating token is picked up on retries.
   * Default: none.
   */
  metadata?: MetadataOption;
  /**
   * Most bytes of one `AnalyticsStats` message on the stream: consecutive batches are
   * concatenated into messages up to this size (a single larger batch goes alone). Keep it under
   * the receiver's `max_receive_message_length` (4 MiB in grpc-js and grpc-go). Default:
   * `1024 * 1024` (1 MiB).
   */
  maxMessageBytes?: number;
  /**
   * grpc-js channel options, merged over the reporter's own: keepalive pings every 30 s, and
   * reconnect backoff from 100 ms up to `maxRetryDelayMs`. Default: none.
   */
  channelOptions?: Partial<grpc.ChannelOptions>;
}

// Local targets, where plaintext is the default: loopback addresses and Unix sockets.
// The reporter's default maxRetryDelayMs, in milliseconds.
const DEFAULT_MAX_RETRY_DELAY_MS = 5000;

const LOCAL = /^(?:(?:dns:(?:\/\/\/)?)?(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?|unix:.*)$/i;

// Statuses that mean the receiver refused the data or the call itself: sending the same bytes
// again to the same endpoint cannot succeed (as HTTP 4xx other than 408 and 429).
const PERMANENT = new Set<number>([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.PERMISSION_DENIED,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNIMPLEMENTED,
  grpc.status.UNAUTHENTICATED,
]);

/**
 * A reporter that streams batches to a LiveKit analytics recorder over gRPC,
 * `livekit.AnalyticsRecorderService/IngestStats`, as a LiveKit server does, and loses nothing
 * within the queue bounds when the recorder goes away.
 *
 * Every stat gets `node` (when the option is set) and, when it has none, a unique `AS_` id,
 * stamped into the engine's encoded bytes when the batch is accepted: no message object is built
 * between the engine and the socket, and a resent stat carries the same id.
 *
 * An `IngestStats` client stream has no per-message acknowledgement: the only answer is the
 * `google.protobuf.Empty` that ends it. So the reporter rotates streams: each send of the
 * delivery core opens one stream on the long-lived channel (one HTTP/2 connection), writes the
 * group of queued batches as `AnalyticsStats` messages of up to `maxMessageBytes`, half-closes
 * it after that group (at most `maxGroupBytes`, 4 MiB, or `maxGroupBatches` batches), and counts
 * the batches delivered only when the `Empty` arrives. A stream that fails, is cut, or is not
 * answered within `attemptTimeoutMs` (10 s) is cancelled, and its messages, all unacknowledged,
 * are sent again on the next stream after an exponential backoff with full jitter (honouring a
 * `grpc-retry-pushback-ms` hint, never sooner than `minRetryDelayMs`): at-least-once delivery, so
 * a receiver de-duplicates by `id`. The channel reconnects on its own, with its backoff capped at
 * `maxRetryDelayMs`.
 *
 * `UNAVAILABLE`, `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, `ABORTED`, `INTERNAL`, `UNKNOWN`,
 * `CANCELLED` and `DATA_LOSS` are retried; `INVALID_ARGUMENT`, `UNIMPLEMENTED`,
 * `UNAUTHENTICATED`, `PERMISSION_DENIED`, `NOT_FOUND`, `ALREADY_EXISTS`, `FAILED_PRECONDITION`,
 * `OUT_OF_RANGE`, and `RESOURCE_EXHAUSTED` for a message over the receiver's size limit, are
 * permanent: a stream of several batches is then retried batch by batch, and the batch refused
 * alone is dropped and counted as a failure. `report()` and `reportBytes()` never throw and
 * return at once; `close(deadlineMs)` returns by its deadline even when the recorder hangs, and
 * closes the channel.
 */
export class AnalyticsRecorderReporter extends NetworkReporter {
  readonly #client: grpc.Client;
  readonly #metadata: MetadataOption | undefined;
  readonly #maxMessageBytes: number;

  /**
   * @param options see {@link AnalyticsRecorderReporterOptions}; `address` is required
   * @throws {ArgumentError} on a missing address, bad metadata, or a bad bound or delay
   */
  constructor(options: AnalyticsRecorderReporterOptions) {
    if (typeof options?.address !== "string" || options.address === "") {
      throw new ArgumentError(`analytics recorder reporter needs an address, got ${JSON.stringify(options?.address)}`);
    }
    const metadata = options.metadata;
    if (metadata !== undefined && typeof metadata !== "function" && (typeof metadata !== "object" || metadata === null)) {
      throw new ArgumentError(`metadata must be an object, a grpc Metadata or a function, got ${typeof metadata}`);
    }
    const { address, credentials, metadata: _metadata, maxMessageBytes, channelOptions, ...core } = options;
    // A shorter retry cap than the core's 30 s: a recorder restart (a deploy) should be caught up
    // within seconds, and a retry against a dead endpoint costs one refused connection.
    // (Raised to a larger minRetryDelayMs, so that setting only the floor stays valid.)
    const min = core.minRetryDelayMs;
    const maxRetryDelayMs =
      core.maxRetryDelayMs ?? (typeof min === "number" && min > DEFAULT_MAX_RETRY_DELAY_MS ? min : DEFAULT_MAX_RETRY_DELAY_MS);
    super("grpc", { ...core, maxRetryDelayMs });
    this.#metadata = metadata;
    this.#maxMessageBytes = checkOption("maxMessageBytes", maxMessageBytes ?? 1024 * 1024, 1);
    const maxBackoffMs = Math.min(Math.max(maxRetryDelayMs, 1), 2 ** 31 - 1);
    this.#client = new grpc.Client(
      address,
      credentials ?? defaultCredentials(address),
      {
        "grpc.keepalive_time_ms": 30_000,
        "grpc.initial_reconnect_backoff_ms": Math.min(100, maxBackoffMs),
        "grpc.max_reconnect_backoff_ms": maxBackoffMs,
        ...channelOptions,
      },
    );
  }

  protected override send(group: readonly QueuedBatch[], signal: AbortSignal): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      let metadata: grpc.Metadata;
      try {
        metadata = this.#streamMetadata();
      } catch (err) {
        reject(new DeliveryError(`cannot build request metadata: ${errorMessage(err)}`, { cause: err }));
        return;
      }
      const method = analyticsRecorderServiceDefinition.IngestStats;
      const messages = this.#messages(group);
      let bytes = 0;
      for (const m of messages) bytes += m.byteLength;
      const call = this.#client.makeClientStreamRequest<Uint8Array, unknown>(
        INGEST_STATS_PATH,
        method.requestSerialize,
        method.responseDeserialize,
        metadata,
        {},
        (err) => {
          signal.removeEventListener("abort", cancel);
          if (err === null || err === undefined) resolve(bytes);
          else reject(deliveryError(err));
        },
      );
      // The queue gave up on this attempt (timeout or close deadline): free the stream; it was
      // never acknowledged, so its batches count as not delivered.
      const cancel = (): void => call.cancel();
      signal.addEventListener("abort", cancel, { once: true });
      // The status arrives through the callback; without a listener an "error" event would throw.
      call.on("error", () => {});
      for (const m of messages) call.write(m);
      call.end();
    });
  }

  protected override closeTransport(): void {
    this.#client.close();
  }

  #streamMetadata(): grpc.Metadata {
    const source = typeof this.#metadata === "function" ? this.#metadata() : this.#metadata;
    if (source === undefined) return new grpc.Metadata();
    if (source instanceof grpc.Metadata) return source.clone();
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(source)) metadata.set(key, value);
    return metadata;
  }

  /**
   * The group as messages of up to maxMessageBytes, each a concatenation of whole stats: a queued
   * batch may hold many workers' batches (one event-loop turn's), so it is cut between stats first.
   */
  #messages(group: readonly QueuedBatch[]): Uint8Array[] {
    const messages: Uint8Array[] = [];
    let run: Uint8Array[] = [];
    let runBytes = 0;
    const close = (): void => {
      if (run.length === 0) return;
      // One batch goes as it is (grpc-js frames it without a copy); several are joined once.
      messages.push(run.length === 1 ? run[0]! : concatBatches(run));
      run = [];
      runBytes = 0;
    };
    for (const batch of group) {
      for (const piece of splitBatch(batch.bytes, this.#maxMessageBytes)) {
        if (runBytes + piece.byteLength > this.#maxMessageBytes) close();
        run.push(piece);
        runBytes += piece.byteLength;
      }
    }
    close();
    return messages;
  }
}

/**
 * The credentials used when none are given: plaintext for a loopback address or a Unix socket,
 * TLS with the system's roots for any other target.
 */
export function defaultCredentials(address: string): grpc.ChannelCredentials {
  return LOCAL.test(address) ? grpc.credentials.createInsecure() : grpc.credentials.createSsl();
}

function deliveryError(err: grpc.ServiceError): DeliveryError {
  const code = err.code ?? grpc.status.UNKNOWN;
  // grpc-js and grpc-go say "larger than max" when a message exceeds the receiver's limit:
  // the same bytes will be refused every time.
  const tooLarge = code === grpc.status.RESOURCE_EXHAUSTED && /larger than max/i.test(err.details ?? "");
  const pushback = Number(err.metadata?.get("grpc-retry-pushback-ms")[0]);
  return new DeliveryError(`IngestStats ${grpc.status[code] ?? code}: ${err.details || err.message}`, {
    permanent: PERMANENT.has(code) || tooLarge,
    retryAfterMs: Number.isFinite(pushback) && pushback >= 0 ? pushback : undefined,
    cause: err,
  });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
