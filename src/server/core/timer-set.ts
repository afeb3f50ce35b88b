/** TimerSet: the core's timers on its injected clock, all cleared at once on shutdown (F7). */
import type { Clock } from '../../internal/clock.js';

/** Timers started through one clock, tracked so `clear()` leaves none behind. */
export class TimerSet {
  readonly clock: Clock;
  #handles = new Set<unknown>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Run `fn` after `ms`. */
  set(fn: () => void, ms: number): unknown {
    const handle = this.clock.setTimeout(() => {
      this.#handles.delete(handle);
      fn();
    }, ms);
    this.#handles.add(handle);
    return handle;
  }

  /** Cancel one timer; unknown or fired handles are fine. */
  cancel(handle: unknown): void {
    if (handle === undefined) return;
    this.#handles.delete(handle);
    this.clock.clearTimeout(handle);
  }

  /** Cancel every timer. */
  clear(): void {
    for (const handle of this.#handles) this.clock.clearTimeout(handle);
    this.#handles.clear();
  }
}
