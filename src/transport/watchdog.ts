import type { Clock } from '../internal/clock.js';

/**
 * Calls `onExpire` once when `touch()` has not been called for `timeoutMs`.
 *
 * `touch()` only records the time: the timer is re-armed lazily when it fires
 * early, so a busy stream costs one `clock.now()` per chunk, not a timer
 * reset per message (liveness without hurting throughput).
 */
export class Watchdog {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #onExpire: () => void;
  #last: number;
  #handle: unknown;
  #stopped = false;

  constructor(clock: Clock, timeoutMs: number, onExpire: () => void) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#onExpire = onExpire;
    this.#last = clock.now();
    this.#handle = clock.setTimeout(this.#fire, timeoutMs);
  }

  /** Traffic was seen now. */
  touch(): void {
    this.#last = this.#clock.now();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clock.clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  readonly #fire = (): void => {
    this.#handle = undefined;
    if (this.#stopped) return;
    const idle = this.#clock.now() - this.#last;
    if (idle >= this.#timeoutMs) {
      this.#stopped = true;
      this.#onExpire();
    } else {
      this.#handle = this.#clock.setTimeout(this.#fire, this.#timeoutMs - idle);
    }
  };
}
