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
  /** The pending timer; `undefined` once it fired or was stopped, so a handle is never cleared twice (a fired id may be reused). */
  #handle: unknown;

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

  /** No expiry after this; idempotent. */
  stop(): void {
    this.#clock.clearTimeout(this.#handle); // a no-op for `undefined`, as with the global
    this.#handle = undefined;
  }

  // Runs only while armed: `stop()` clears the timer, and expiring does not re-arm it.
  readonly #fire = (): void => {
    this.#handle = undefined;
    const idle = this.#clock.now() - this.#last;
    if (idle < this.#timeoutMs) this.#handle = this.#clock.setTimeout(this.#fire, this.#timeoutMs - idle);
    else this.#onExpire();
  };
}
