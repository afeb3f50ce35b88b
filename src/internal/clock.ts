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
 * The real clock. Timers are deliberately not `unref`'d: a pending reconnect
 * keeps a live subscription's process alive, and `close()` clears every timer
 * (F7), which the leak tests check.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};
