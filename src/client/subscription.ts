import type { TetherError } from '../errors/index.js';
import type { KnownSessionEvent, ResetInfo, ResetReason, SessionEvent } from '../protocol/index.js';
import type { Consumer } from './session-feed.js';
import type { ClientContext } from './context.js';
import { EventQueue, overflowError } from './event-queue.js';

/**
 * Yielded by a subscription, not sent by the server: the history needed to
 * resume is gone (`reason`), so events continue after `after` in `epoch`.
 * Never a silent gap.
 */
export interface SessionResetEvent {
  type: 'session.reset';
  sessionId: string;
  epoch: string;
  after: number;
  reason: ResetReason;
  turnId?: undefined;
}

/**
 * What a subscription yields: a discriminated union on `type`, so
 * `if (ev.type === 'session.reset') ev.after` type-checks. Like `TurnEvent`,
 * it lists the known event types; events of types this version does not know
 * (a newer server) are still yielded at runtime, never dropped — handle them
 * in a `default:` branch (their shape is `UnknownSessionEvent`).
 */
export type SubscriptionEvent = KnownSessionEvent | SessionResetEvent;

/** Options of `session.subscribe`. */
export interface SubscribeOptions {
  /**
   * Yield the events after this `seq`; `'now'` yields only events created
   * after the call (the session's current `seq` is asked first, no history is
   * replayed). @default the cursor in `cursorStore` for this session, else 0
   * (the whole history the server holds).
   */
  after?: number | 'now' | undefined;
  /** Aborting ends the subscription: the iterator throws `signal.reason`. */
  signal?: AbortSignal | undefined;
}

/**
 * A session's events, each exactly once, in `seq` order, across reconnects
 * and transport switches. `close()` (or `break`) ends it.
 *
 * @example
 * const sub = session.subscribe();
 * for await (const ev of sub) console.log(ev.seq, ev.type);
 */
export interface Subscription extends AsyncIterable<SubscriptionEvent> {
  close(): void;
}

/** @internal */
export class SubscriptionImpl implements Subscription, Consumer {
  readonly sessionId: string;
  seq = 0;
  epoch: string | undefined = undefined;
  readonly #ctx: ClientContext;
  readonly #queue: EventQueue<SubscriptionEvent>;
  #registered = false;
  #closed = false;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.#end(this.#signal!.reason);

  constructor(ctx: ClientContext, sessionId: string, options: SubscribeOptions) {
    this.#ctx = ctx;
    this.sessionId = sessionId;
    this.#queue = new EventQueue(
      ctx.options.bufferLimit,
      () => this.close(),
      // Persist what the app has actually received, so a restart resumes right after it.
      (ev) => ctx.saveCursor(this.sessionId, ev.epoch, ev.type === 'session.reset' ? ev.after : ev.seq),
      // A reader this far behind ends typed (F6: bounded memory); it resumes with `subscribe({ after: lastSeq })`.
      { maxChars: ctx.options.maxMessageBytes, onOverflow: () => this.#end(overflowError(sessionId)) },
    );
    this.#signal = options.signal;
    const after = options.after;
    if (after !== undefined && after !== 'now' && (!Number.isInteger(after) || after < 0)) {
      throw new TypeError(`subscribe: \`after\` must be a non-negative integer or 'now', got ${String(after)}`);
    }
    if (this.#signal?.aborted) {
      this.#end(this.#signal.reason);
      return;
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (after === 'now') {
      // Live from here: start after the session's current position (in its current epoch).
      void ctx.snapshot(sessionId).then(
        ({ session }) => {
          this.seq = session.seq;
          this.epoch = session.epoch;
          this.#register();
        },
        (error: unknown) => this.#end(error),
      );
    } else if (after !== undefined) {
      this.seq = after;
      this.#register();
    } else {
      void ctx.loadCursor(sessionId).then((cursor) => {
        if (cursor) {
          this.seq = cursor.seq;
          this.epoch = cursor.epoch;
        }
        this.#register();
      });
    }
  }

  #register(): void {
    if (this.#closed) return;
    this.#registered = true;
    this.#ctx.manager.addConsumer(this);
  }

  onEvent(event: SessionEvent): void {
    this.#queue.push(event as KnownSessionEvent);
  }

  onReset(info: ResetInfo): void {
    this.#queue.push({ type: 'session.reset', sessionId: info.sessionId, epoch: info.epoch, after: info.after, reason: info.reason });
  }

  onEnd(error: TetherError): void {
    this.#registered = false;
    this.#end(error.code === 'client_closed' ? undefined : error);
  }

  #end(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (this.#registered) {
      this.#registered = false;
      this.#ctx.manager.removeConsumer(this);
    }
    this.#queue.end(error);
  }

  close(): void {
    this.#end();
  }

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionEvent> {
    return this.#queue;
  }
}
