import { ConnectionError, TetherError, TimeoutError } from '../errors/index.js';
import type { Clock } from '../internal/clock.js';
import type {
  Cursor,
  Transport,
  TransportCloseInfo,
  TransportEvents,
  TransportName,
  TransportOptions,
} from './transport.js';

/** How long `close()` waits for queued frames and the close handshake. @default 1_000 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 1_000;

/** Wraps anything thrown into a `TetherError` for `closed()`. */
export function toTetherError(error: unknown, message: string): TetherError {
  if (error instanceof TetherError) return error;
  return new ConnectionError(message, { cause: error });
}

/**
 * What every transport attempt shares: the open/closed bookkeeping and the
 * stale-callback guard (F4). Once `ended` is set (our `close()` or a
 * failure), nothing of this attempt calls an `events` method again:
 * `open()` at most once, `closed()` exactly once unless we closed it.
 */
export abstract class BaseTransport implements Transport {
  abstract readonly name: TransportName;
  protected readonly options: TransportOptions;
  protected readonly events: TransportEvents;
  protected readonly clock: Clock;
  /** `open()` was called. */
  protected opened = false;
  /** The attempt is over (closed by us or failed): every late callback returns early. */
  protected ended = false;
  /** Last server hint for the next delay (SSE `retry:`, `Retry-After`). */
  protected retryAfterMs: number | undefined;
  #openTimer: unknown;
  #openTimerStarted = false;

  constructor(options: TransportOptions, events: TransportEvents) {
    this.options = options;
    this.events = events;
    this.clock = options.clock;
  }

  abstract subscribe(sessionId: string, cursor: Cursor): void;
  abstract unsubscribe(sessionId: string): void;
  abstract close(timeoutMs?: number): Promise<void>;

  /** Releases everything the attempt holds (sockets, fetches, timers). Never calls `events`. */
  protected abstract teardown(error: TetherError | undefined, closeCode?: number): void;

  /** Starts the `openTimeoutMs` deadline (once). */
  protected startOpenTimer(): void {
    if (this.#openTimerStarted || this.ended) return;
    this.#openTimerStarted = true;
    const ms = this.options.openTimeoutMs;
    this.#openTimer = this.clock.setTimeout(() => {
      this.#openTimer = undefined;
      if (this.ended || this.opened) return;
      this.fail(new TimeoutError(`The ${this.name} transport did not open within ${ms} ms`));
    }, ms);
  }

  protected clearOpenTimer(): void {
    if (this.#openTimer !== undefined) {
      this.clock.clearTimeout(this.#openTimer);
      this.#openTimer = undefined;
    }
  }

  /** The last subscription went away before the attempt opened: nothing is left to prove, so no deadline. */
  protected stopOpenTimer(): void {
    this.clearOpenTimer();
    this.#openTimerStarted = false;
  }

  /** Marks the attempt open and tells the caller (once). */
  protected markOpen(): void {
    if (this.ended || this.opened) return;
    this.opened = true;
    this.clearOpenTimer();
    this.events.open();
  }

  /** Ends the attempt with `error` and reports it through `closed()` exactly once. */
  protected fail(error: TetherError, extra: { code?: number | undefined } = {}): void {
    if (this.ended) return;
    this.ended = true;
    this.clearOpenTimer();
    try {
      this.teardown(error, extra.code);
    } catch {
      // Releasing resources must not stop the report below.
    }
    const info: TransportCloseInfo = { opened: this.opened, error };
    if (this.retryAfterMs !== undefined) info.retryAfterMs = this.retryAfterMs;
    if (extra.code !== undefined) info.code = extra.code;
    this.events.closed(info);
  }

  /** Ends the attempt on our own `close()`: no `closed()` call. Returns false when it had already ended. */
  protected endByUs(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.clearOpenTimer();
    return true;
  }
}
