/**
 * Run `fn` soon, after pending I/O callbacks: `setImmediate` in Node,
 * a zero timeout elsewhere. Used to batch per event-loop turn (store
 * appends, reader wake-ups) instead of per event.
 */
export const scheduleSoon: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function'
    ? (fn) => {
        globalThis.setImmediate(fn);
      }
    : (fn) => {
        globalThis.setTimeout(fn, 0);
      };

/** Resolves on the next event-loop turn (lets sockets and timers run). */
export function nextLoopTurn(): Promise<void> {
  return new Promise((resolve) => scheduleSoon(resolve));
}
