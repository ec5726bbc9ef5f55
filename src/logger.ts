/**
 * The logging interface the library writes through.
 *
 * `console` satisfies it, and so do pino and winston loggers wrapped in one line (see README).
 * Messages are short lowercase sentences; details go into `fields`.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** A logger that drops everything: the default wherever a `logger` option is omitted. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
