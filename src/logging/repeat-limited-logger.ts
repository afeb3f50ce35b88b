/** A Logger wrapper that stops a flood of identical warn/error lines: a few go through, the rest are counted. */
import type { Clock } from '../internal/clock.js';
import type { Logger, LogFields } from './logger.js';

/** How {@link repeatLimitedLogger} limits. */
export interface RepeatLimitOptions {
  /** Identical lines (same level and message) written per window. */
  maxLines: number;
  windowMs: number;
  clock: Pick<Clock, 'now'>;
}

interface Window {
  start: number;
  written: number;
  suppressed: number;
}

/** Distinct lines tracked at once; beyond that, closed windows are forgotten first. */
const MAX_TRACKED = 1_000;

/**
 * `logger` with its `warn` and `error` lines limited: per level and message,
 * at most `maxLines` per `windowMs`. The first line after a window that
 * dropped some carries `repeated: <count dropped>`, so nothing is lost
 * silently. `debug` and `info` (the request log) pass untouched: they are
 * off by default and chosen by whoever turned them on.
 *
 * @example
 * const logger = repeatLimitedLogger(pino(), { maxLines: 10, windowMs: 10_000, clock: systemClock });
 */
export function repeatLimitedLogger(logger: Logger, options: RepeatLimitOptions): Logger {
  const windows = new Map<string, Window>();
  const limited = (level: 'warn' | 'error') => {
    const write = logger[level]?.bind(logger);
    if (!write) return undefined;
    return (fields: LogFields, message: string) => {
      const now = options.clock.now();
      const key = `${level}\u0000${message}`;
      let window = windows.get(key);
      if (window && now - window.start >= options.windowMs) {
        const dropped = window.suppressed;
        windows.delete(key);
        window = undefined;
        if (dropped > 0) fields = { ...fields, repeated: dropped };
      }
      if (!window) {
        if (windows.size >= MAX_TRACKED) forgetClosed(windows, now, options.windowMs);
        window = { start: now, written: 0, suppressed: 0 };
        windows.set(key, window);
      }
      if (window.written >= options.maxLines) {
        window.suppressed++;
        // The first dropped line says so, once per window.
        if (window.suppressed === 1) write({ repeatedLimit: options.maxLines, windowMs: options.windowMs }, `${message} (repeated; further identical lines are counted for ${options.windowMs} ms)`);
        return;
      }
      window.written++;
      write(fields, message);
    };
  };
  const result: Logger = { ...pick(logger, 'debug'), ...pick(logger, 'info') };
  const warn = limited('warn');
  const error = limited('error');
  if (warn) result.warn = warn;
  if (error) result.error = error;
  return result;
}

function pick(logger: Logger, level: 'debug' | 'info'): Logger {
  const fn = logger[level];
  return fn ? { [level]: fn.bind(logger) } : {};
}

function forgetClosed(windows: Map<string, Window>, now: number, windowMs: number): void {
  for (const [key, window] of windows) if (now - window.start >= windowMs) windows.delete(key);
  // Still full of open windows: forget the oldest rather than grow.
  if (windows.size >= MAX_TRACKED) windows.delete(windows.keys().next().value as string);
}
