/** A few timers kept by name, started and cleared in one place (partysocket's one `_clearTimeouts()`). */
import type { Clock } from '../internal/clock.js';

/**
 * At most one timer per name. `set` replaces a running one; a timer forgets
 * itself when it fires; `clear()` with no names clears them all.
 *
 * @example
 * const timers = new NamedTimers<'retry' | 'stable'>(clock);
 * timers.set('retry', 250, reconnect);
 * timers.clear(); // every timer off
 */
export class NamedTimers<Name extends string> {
  readonly #clock: Clock;
  readonly #handles = new Map<Name, unknown>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Whether timer `name` is pending. */
  has(name: Name): boolean {
    return this.#handles.has(name);
  }

  /** Start timer `name` (replacing one running under that name). */
  set(name: Name, ms: number, run: () => void): void {
    this.clear(name);
    const handle = this.#clock.setTimeout(() => {
      if (this.#handles.get(name) === handle) this.#handles.delete(name);
      run();
    }, ms);
    this.#handles.set(name, handle);
  }

  /** Forget timer `name` without clearing it: it is the one running now. */
  forget(name: Name): void {
    this.#handles.delete(name);
  }

  /** Clear the named timers, or all of them. */
  clear(...names: Name[]): void {
    for (const name of names.length > 0 ? names : [...this.#handles.keys()]) {
      if (!this.#handles.has(name)) continue;
      this.#clock.clearTimeout(this.#handles.get(name));
      this.#handles.delete(name);
    }
  }
}
