import { TetherError, type TetherErrorOptions } from './tether-error.js';

/**
 * A request or connection attempt took longer than its deadline
 * (`requestTimeoutMs`, or a heartbeat deadline).
 *
 * @example
 * if (error instanceof TimeoutError) retryLater();
 */
export class TimeoutError extends TetherError {
  override name = 'TimeoutError';

  constructor(message: string, options: TetherErrorOptions = {}) {
    super('timeout', message, options);
  }
}
