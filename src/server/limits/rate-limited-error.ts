/** The 429 every limit answers: the protocol's JSON error plus `Retry-After`. */
import { headers } from '../../protocol/index.js';
import { ServerError } from '../core/server-error.js';

/** Which limit refused a request (`details.limit` of the error). */
export type LimitName = 'sessions' | 'connections' | 'prompts' | 'queuedTurns';

/**
 * A request refused by a limit: `429 rate_limited`, `Retry-After` in whole
 * seconds (at least 1), and `details: { limit, retryAfterMs }` so a WebSocket
 * reply (which has no headers) carries the same hint.
 *
 * @example
 * throw new RateLimitedError('prompts', 1500);
 */
export class RateLimitedError extends ServerError {
  override name = 'RateLimitedError';
  readonly limit: LimitName;
  readonly retryAfterMs: number;

  constructor(limit: LimitName, retryAfterMs: number, message = `Too many requests (${limit} limit); retry later`) {
    const wait = Math.max(1, Math.ceil(retryAfterMs));
    super('rate_limited', message, 429, { details: { limit, retryAfterMs: wait } });
    this.limit = limit;
    this.retryAfterMs = wait;
  }

  override headers(): Record<string, string> {
    return { [headers.retryAfter]: String(Math.max(1, Math.ceil(this.retryAfterMs / 1000))) };
  }
}
