/** StoreWriter: one session's writes to the store — in order, batched per loop turn, retried through an outage. */
import type { SessionEvent } from '../../protocol/index.js';
import type { Logger } from '../../logging/logger.js';
import { scheduleSoon } from './schedule.js';
import { ServerError } from './server-error.js';
import type { SessionRecord, SessionStore, TurnRecord } from './session-store.js';
import type { TimerSet } from './timer-set.js';

/** The error every command answers while the store cannot take its writes: 503 with `Retry-After`. */
export function storeUnavailable(cause: unknown): ServerError {
  // Some clients' errors carry only a name (node-redis's command timeout is a `TimeoutError` with no message).
  const detail = cause instanceof Error && (cause.message || cause.name) ? `: ${cause.message || cause.name}` : '';
  return new ServerError('store_unavailable', `The session store cannot save right now${detail}`, 503, { cause });
}

/**
 * Whether the store is failing, across sessions, so an outage is logged once
 * when it starts and once when it ends, never once per event.
 */
export class StoreHealth {
  #logger: Logger;
  /** Writers whose failed write is waiting for a retry. */
  #failing = new Set<string>();
  #outage = false;
  #failedWrites = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Whether the store is failing now (since a failed write, until writes succeed and no retry is pending). */
  get failing(): boolean {
    return this.#outage;
  }

  /** A write failed; `retried` when its writer keeps retrying it (the outage lasts until that succeeds). */
  failed(key: string, error: unknown, retried = true): void {
    this.#failedWrites++;
    if (!this.#outage) {
      this.#logger.error?.(
        { err: error, sessionId: key },
        'agent-tether: the store failed; writes are retried, commands answer 503 store_unavailable until it recovers',
      );
      this.#outage = true;
    }
    if (retried) this.#failing.add(key);
  }

  /** A write succeeded. */
  succeeded(key: string): void {
    this.#failing.delete(key);
    if (!this.#outage || this.#failing.size > 0) return;
    this.#outage = false;
    this.#logger.warn?.({ failedWrites: this.#failedWrites }, 'agent-tether: the store recovered');
    this.#failedWrites = 0;
  }
}

type Op =
  | { kind: 'events'; events: SessionEvent[]; upTo: number; inFlight: boolean }
  | { kind: 'turn'; record: TurnRecord; upTo: number; inFlight: boolean }
  | { kind: 'session'; record: SessionRecord; upTo: number; inFlight: boolean };

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What a {@link StoreWriter} needs from the core. */
export interface StoreWriterOptions {
  sessionId: string;
  store: SessionStore;
  health: StoreHealth;
  timers: TimerSet;
  maxEvents: number;
  /** Events up to `seq` are stored: make them visible (write-ahead). */
  onStored(seq: number): void;
  /** A write failed: the core ends the session's unfinished turns with a typed error. */
  onFailed(error: unknown): void;
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Writes one session's events and turn records to the store in the order
 * they happened, one call at a time (the store contract's ordering), merging
 * the events of one loop turn into one append. A failed write stays at the
 * head and is retried with backoff until it succeeds; nothing after it is
 * written (or made visible) before it. `flush()` is how commands acknowledge
 * only what is stored.
 */
export class StoreWriter {
  #o: StoreWriterOptions;
  #queue: Op[] = [];
  #enqueued = 0;
  #done = 0;
  #waiters: Waiter[] = [];
  #scheduled = false;
  #running = false;
  #error: unknown;
  #retryMs = RETRY_FIRST_MS;
  #retryTimer: unknown;
  #closed = false;
  #idle: Array<() => void> = [];

  constructor(options: StoreWriterOptions) {
    this.#o = options;
  }

  /** Whether the last write failed and has not succeeded since. */
  get failing(): boolean {
    return this.#error !== undefined;
  }

  /** Whether everything handed over is stored. */
  get idle(): boolean {
    return this.#queue.length === 0;
  }

  /** Queue events for the log (contiguous, in `seq` order). */
  events(events: SessionEvent[]): void {
    const last = this.#queue.at(-1);
    const upTo = ++this.#enqueued;
    if (last?.kind === 'events' && !last.inFlight) {
      last.events.push(...events);
      last.upTo = upTo;
    } else this.#queue.push({ kind: 'events', events: [...events], upTo, inFlight: false });
    this.#schedule();
  }

  /** Queue a turn record. */
  turn(record: TurnRecord): void {
    this.#queue.push({ kind: 'turn', record, upTo: ++this.#enqueued, inFlight: false });
    this.#schedule();
  }

  /** Queue the session's record (replaced whole). */
  record(record: SessionRecord): void {
    this.#queue.push({ kind: 'session', record, upTo: ++this.#enqueued, inFlight: false });
    this.#schedule();
  }

  /**
   * Resolves once everything queued so far is stored; rejects with
   * `store_unavailable` when a write covering it failed (it is still retried).
   */
  flush(): Promise<void> {
    const upTo = this.#enqueued;
    if (this.#done >= upTo) return Promise.resolve();
    if (this.#error !== undefined) return Promise.reject(storeUnavailable(this.#error));
    return new Promise((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
  }

  /** Resolves when the queue is empty or a write failed (shutdown: write what we can, do not wait out an outage). */
  settled(): Promise<void> {
    if (this.#queue.length === 0 || this.#error !== undefined) return Promise.resolve();
    this.#schedule();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stop retrying (shutdown); the pending writes are attempted once more now. */
  close(): void {
    this.#closed = true;
    this.#o.timers.cancel(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #schedule(): void {
    if (this.#scheduled || this.#running || this.#retryTimer !== undefined) return;
    this.#scheduled = true;
    // One store write (and one reader wake-up) per loop turn, not per event.
    scheduleSoon(() => {
      this.#scheduled = false;
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const { store, sessionId, maxEvents, health } = this.#o;
    while (this.#queue.length > 0) {
      const op = this.#queue[0]!;
      op.inFlight = true;
      try {
        if (op.kind === 'events') await store.appendEvents(sessionId, op.events, { maxEvents });
        else if (op.kind === 'turn') await store.saveTurn(sessionId, op.record);
        else await store.saveSession(op.record);
      } catch (error) {
        op.inFlight = false;
        this.#fail(error);
        break;
      }
      this.#queue.shift();
      this.#done = op.upTo;
      if (this.#error !== undefined) {
        this.#error = undefined;
        this.#retryMs = RETRY_FIRST_MS;
      }
      health.succeeded(sessionId);
      if (op.kind === 'events' && op.events.length > 0) this.#o.onStored(op.events.at(-1)!.seq);
      this.#settle();
    }
    this.#running = false;
    this.#wakeIdle();
  }

  #fail(error: unknown): void {
    const first = this.#error === undefined;
    this.#error = error;
    this.#o.health.failed(this.#o.sessionId, error);
    // End the turns first, so a command that learns of the failure finds them ended.
    if (first) this.#o.onFailed(error);
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter.reject(storeUnavailable(error));
    this.#wakeIdle();
    if (this.#closed) return;
    this.#retryTimer = this.#o.timers.set(() => {
      this.#retryTimer = undefined;
      void this.#drain();
    }, this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }

  #settle(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.upTo <= this.#done) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  #wakeIdle(): void {
    if (this.#queue.length > 0 && this.#error === undefined) return;
    for (const wake of this.#idle.splice(0)) wake();
  }
}
