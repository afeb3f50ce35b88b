/** Every command in flight, tracked until it is delivered or rejected (F9); nothing is queued here. */
import { ClosedError, TimeoutError } from '../errors/index.js';
import { waitAtMost, type Clock } from '../internal/clock.js';

/**
 * Every command in flight (F9). Each one is either delivered or rejected with a
 * typed error (`TimeoutError` at `requestTimeoutMs`, `ClosedError` on close, the
 * caller's `signal.reason` on abort), never dropped. `close()` lets what is in
 * flight finish for a bounded time, then rejects the rest (F7).
 */
export class CommandTracker {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  /** Each command's controller (aborting it rejects the command with the reason) and its settling. */
  readonly #entries = new Map<AbortController, Promise<void>>();
  #closed = false;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** Run `op` as a tracked command; its signal aborts on timeout, user abort, or close, and the command rejects with the reason. */
  run<T>(name: string, op: (signal: AbortSignal) => Promise<T>, userSignal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError());
    if (userSignal?.aborted) return Promise.reject(userSignal.reason);
    const controller = new AbortController();
    const { signal } = controller;
    const timer = this.#clock.setTimeout(
      () => controller.abort(new TimeoutError(`${name} took longer than ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    const onAbort = () => controller.abort(userSignal!.reason);
    userSignal?.addEventListener('abort', onAbort);
    const promise = new Promise<T>((resolve, reject) => {
      // The first abort wins over whatever `op` does afterwards.
      signal.addEventListener('abort', () => reject(signal.reason));
      op(signal).then(resolve, reject);
    });
    const settle = () => {
      this.#clock.clearTimeout(timer);
      userSignal?.removeEventListener('abort', onAbort);
      this.#entries.delete(controller);
    };
    this.#entries.set(controller, promise.then(settle, settle));
    return promise;
  }

  /** New commands reject with `ClosedError` from now on; those in flight continue. */
  stopAccepting(): void {
    this.#closed = true;
  }

  /** Stop accepting commands; wait up to `timeoutMs` for those in flight, then reject them with `ClosedError`. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    if (this.#entries.size > 0 && timeoutMs > 0) await waitAtMost(this.#clock, Promise.all(this.#entries.values()), timeoutMs);
    const error = new ClosedError();
    for (const controller of [...this.#entries.keys()]) controller.abort(error);
  }
}
