/** The one `Logger` shape of the client and the server: pino's `(fields, message)`. */

/**
 * Where agent-tether writes what it has to say. Every method is optional and
 * takes pino's argument order, `(fields, message)`, so a pino (or bunyan-style)
 * logger can be passed as it is; an error travels in `fields.err`.
 *
 * @example
 * import pino from 'pino';
 * createServer({ agent, logger: pino() });
 * createClient({ baseUrl, logger: consoleLogger('debug') });
 */
export interface Logger {
  debug?(fields: LogFields, message: string): void;
  info?(fields: LogFields, message: string): void;
  warn?(fields: LogFields, message: string): void;
  error?(fields: LogFields, message: string): void;
}

/** Structured context of one log line; `err` holds an error, as pino expects. */
export type LogFields = Record<string, unknown> & { err?: unknown };

/** The levels of a {@link Logger}, least severe first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * A {@link Logger} that writes to `console` at `level` and above, message first,
 * then the fields when there are any.
 *
 * @default level 'warn'
 * @example
 * createServer({ agent, logger: consoleLogger('info') });
 */
export function consoleLogger(level: LogLevel = 'warn'): Logger {
  const logger: Logger = {};
  for (const name of LEVELS.slice(LEVELS.indexOf(level))) {
    logger[name] = (fields, message) =>
      Object.keys(fields).length === 0 ? console[name](message) : console[name](message, fields);
  }
  return logger;
}
