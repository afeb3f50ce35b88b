/**
 * Time as a dependency. Everything that waits (backoff, heartbeats, timeouts)
 * takes a `Clock` so tests can drive it exactly.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. Timers are `unref`'d where the runtime supports it, so a pending timer never keeps Node alive on its own. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = globalThis.setTimeout(fn, ms) as unknown as { unref?: () => void };
    return handle;
  },
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};
