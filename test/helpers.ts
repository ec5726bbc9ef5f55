/**
 * Shared test fixtures: engine list, stat builders, a capturing reporter and a manual clock.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { loadEngine, type Engine, type EngineKind } from "../src/index.ts";
import { AnalyticsStatSchema, type AnalyticsStat } from "../src/gen/livekit/livekit_analytics_pb.ts";
import type { Logger } from "../src/logger.ts";

/** Every engine kind; each behaviour test runs once per kind. */
export const ENGINE_KINDS: readonly EngineKind[] = process.env["ENGINES"] ? (process.env["ENGINES"].split(",") as EngineKind[]) : ["ts", "wasm"];

const cache = new Map<EngineKind, Promise<Engine>>();

/** A shared engine of `kind` (one wasm instance for the whole test file, as a service would). */
export function engine(kind: EngineKind): Promise<Engine> {
  let e = cache.get(kind);
  if (e === undefined) {
    e = loadEngine(kind);
    cache.set(kind, e);
  }
  return e;
}

/** `create(AnalyticsStatSchema, init)`. */
export function stat(init: MessageInitShape<typeof AnalyticsStatSchema> = {}): AnalyticsStat {
  return create(AnalyticsStatSchema, init);
}

/** A reporter that records every batch it is given. */
export class CapturingReporter {
  readonly batches: AnalyticsStat[][] = [];
  onReport: ((stats: AnalyticsStat[]) => void) | undefined = undefined;

  report(stats: AnalyticsStat[]): void {
    this.batches.push(stats);
    this.onReport?.(stats);
  }

  /** every stat of every batch, in order */
  get all(): AnalyticsStat[] {
    return this.batches.flat();
  }
}

/** A clock the test moves by hand. */
export class ManualClock {
  ms: number;
  constructor(start = Date.UTC(2026, 10, 25, 12, 0, 0)) {
    this.ms = start;
  }
  readonly now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A logger that records warnings and errors. */
export class RecordingLogger implements Logger {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];
  debug(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: "debug", message, fields });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: "info", message, fields });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: "warn", message, fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: "error", message, fields });
  }
  count(level: string): number {
    return this.lines.filter((l) => l.level === level).length;
  }
}

/** The float32 bits of `x`. */
export function f32bits(x: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x);
  return b.getUint32(0);
}

/** The bytes of `parts`, one after another (a batch of size-delimited messages, say). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
