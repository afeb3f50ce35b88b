import type { ResolvedReconnectOptions } from './options.js';

/**
 * The delay before reconnect attempt `attempt` (1-based): exponential growth
 * capped at `maxDelayMs`, with "full jitter" (uniform in [0, cap)) so a fleet of
 * clients that lost the same server does not come back in lock-step (F8).
 * `random` is injected so tests are exact: `0` gives 0 ms, `0.999…` almost the cap.
 */
export function backoffDelay(
  attempt: number,
  options: Pick<ResolvedReconnectOptions, 'initialDelayMs' | 'maxDelayMs' | 'factor' | 'jitter'>,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const cap = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** exponent);
  if (options.jitter === 'none') return cap;
  return Math.floor(random() * cap);
}
