import { ClosedError, TimeoutError } from '../errors/index.js';
import type { Clock } from '../internal/clock.js';
import { waitAtMost } from './deadline.js';

interface Entry {
  readonly controller: AbortController;
  readonly done: Promise<unknown>;
  fail(reason: unknown): void;
}

/**
 * Every command in flight (F9). Each one is either delivered or rejected with a
 * typed error (`TimeoutError` at `requestTimeoutMs`, `ClosedError` on close, the
 * caller's `signal.reason` on abort), never dropped. `close()` lets what is in
 * flight finish for a bounded time, then rejects the rest (F7).
 */
export class Outbox {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #entries = new Set<Entry>();
  #closed = false;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Run `op` as a tracked command; its signal aborts on timeout, user abort, or close. */
  run<T>(name: string, op: (signal: AbortSignal) => Promise<T>, userSignal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError());
    if (userSignal?.aborted) return Promise.reject(userSignal.reason);
    const controller = new AbortController();
    let reject!: (reason: unknown) => void;
    let resolve!: (value: T) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const fail = (reason: unknown) => {
      controller.abort(reason);
      reject(reason);
    };
    const timer = this.#clock.setTimeout(
      () => fail(new TimeoutError(`${name} took longer than ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    const onAbort = () => fail(userSignal!.reason);
    userSignal?.addEventListener('abort', onAbort, { once: true });
    const entry: Entry = { controller, done: promise.catch(() => {}), fail };
    this.#entries.add(entry);
    void entry.done.finally(() => {
      this.#clock.clearTimeout(timer);
      userSignal?.removeEventListener('abort', onAbort);
      this.#entries.delete(entry);
    });
    op(controller.signal).then(resolve, (error: unknown) => reject(controller.signal.aborted ? controller.signal.reason : error));
    return promise;
  }

  /** New commands reject with `ClosedError` from now on; those in flight continue. */
  stopAccepting(): void {
    this.#closed = true;
  }

  /** Stop accepting commands; wait up to `timeoutMs` for those in flight, then reject them with `ClosedError`. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    if (this.#entries.size > 0 && timeoutMs > 0) {
      await waitAtMost(this.#clock, Promise.all([...this.#entries].map((e) => e.done)), timeoutMs);
    }
    const error = new ClosedError('The client was closed before the command completed');
    for (const entry of [...this.#entries]) entry.fail(error);
  }
}
