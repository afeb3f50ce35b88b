import type { Clock } from '../internal/clock.js';

/** Wait for `promise` (its outcome ignored), but no longer than `ms`; the timer is always cleared. */
export async function waitAtMost(clock: Clock, promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: unknown;
  try {
    await Promise.race([
      // Settles either way, never rejects.
      promise.catch(() => {}),
      new Promise<void>((resolve) => {
        timer = clock.setTimeout(resolve, ms);
      }),
    ]);
  } finally {
    clock.clearTimeout(timer);
  }
}
