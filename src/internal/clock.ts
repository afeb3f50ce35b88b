/**
 * Time as a dependency. Everything that waits (backoff, heartbeats, timeouts)
 * takes a `Clock` so tests can drive it exactly.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Waits `ms` on `clock`, or less when `signal` aborts first; never rejects,
 * and leaves no timer or listener behind either way (F7).
 */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/**
 * The real clock. Timers are deliberately not `unref`'d: a pending reconnect
 * keeps a live subscription's process alive, and `close()` clears every timer
 * (F7), which the leak tests check.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Waits for `promise` (its outcome ignored) but no longer than `ms` on `clock`;
 * resolves `true` when it settled in time, `false` when the time ran out.
 * Never rejects, and the timer is always cleared (F7).
 */
export async function waitAtMost(clock: Clock, promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: unknown;
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = clock.setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clock.clearTimeout(timer);
  }
}
