/** SessionRegistry: the sessions in memory — loaded lazily from the store on first use, evicted when idle. */
import type { Clock } from '../../internal/clock.js';
import type { Logger } from '../../logging/logger.js';
import type { SessionStore, StoredSession } from './session-store.js';
import { isBusy, type SessionState } from './session-state.js';
import { storeUnavailable } from './store-writer.js';
import type { TimerSet } from './timer-set.js';

/** What a {@link SessionRegistry} needs from the core. */
export interface SessionRegistryOptions {
  store: SessionStore;
  timers: TimerSet;
  logger: Logger;
  maxEvents: number;
  /** A session with no turn in flight, no writes pending and no waiting reader leaves memory after this long. */
  idleMs: number;
  /** Turn a stored session into a live one (ends what a previous process left unfinished). */
  restore(stored: StoredSession): SessionState;
  /** A session left memory (evicted or removed). */
  dropped?(session: SessionState): void;
}

/** Numbers about the sessions in memory (for tests, benchmarks and health). */
export interface SessionStats {
  sessions: number;
  events: number;
  bytes: number;
  runningTurns: number;
  queuedTurns: number;
}

/**
 * Holds the loaded sessions. A session not in memory is loaded from the
 * store on first use (concurrent uses share one load), so a server with
 * 100 000 stored sessions starts as fast as one with none, and memory holds
 * only what is in use. This is the one place that knows a session may live
 * elsewhere — a shared store (Redis) plugs in below it without the turn
 * runner or the hosts noticing.
 */
export class SessionRegistry {
  #o: SessionRegistryOptions;
  #loaded = new Map<string, SessionState>();
  #loading = new Map<string, Promise<SessionState | undefined>>();
  #sweepTimer: unknown;

  constructor(options: SessionRegistryOptions) {
    this.#o = options;
  }

  /** Sessions in memory. */
  get size(): number {
    return this.#loaded.size;
  }

  /** The loaded sessions. */
  values(): IterableIterator<SessionState> {
    return this.#loaded.values();
  }

  /** Numbers about the sessions in memory. */
  stats(): SessionStats {
    let events = 0;
    let bytes = 0;
    let runningTurns = 0;
    let queuedTurns = 0;
    for (const session of this.#loaded.values()) {
      events += session.log.size;
      bytes += session.log.bytes;
      queuedTurns += session.queue.length;
      if (session.active && !session.active.terminal) runningTurns++;
    }
    return { sessions: this.#loaded.size, events, bytes, runningTurns, queuedTurns };
  }

  /** The session if it is in memory (no load). */
  peek(sessionId: string): SessionState | undefined {
    return this.#loaded.get(sessionId);
  }

  /** Add a session just created. */
  add(session: SessionState): void {
    this.#loaded.set(session.id, session);
    this.#armSweep();
  }

  /**
   * The session, loaded from the store when not in memory; `undefined` when
   * unknown or expired.
   *
   * @throws {ServerError} `store_unavailable` (503) when the store cannot be read
   */
  async get(sessionId: string): Promise<SessionState | undefined> {
    const loaded = this.#loaded.get(sessionId);
    if (loaded) {
      loaded.usedAt = this.#o.timers.clock.now();
      return loaded;
    }
    let loading = this.#loading.get(sessionId);
    if (!loading) {
      loading = this.#load(sessionId).finally(() => this.#loading.delete(sessionId));
      this.#loading.set(sessionId, loading);
    }
    return loading;
  }

  async #load(sessionId: string): Promise<SessionState | undefined> {
    let stored: StoredSession | undefined;
    try {
      stored = await this.#o.store.loadSession(sessionId, { maxEvents: this.#o.maxEvents });
    } catch (error) {
      this.#o.logger.error?.({ err: error, sessionId }, 'agent-tether: the store failed to load a session');
      throw storeUnavailable(error);
    }
    if (!stored) return undefined;
    const session = this.#o.restore(stored);
    this.add(session);
    return session;
  }

  /** Drop idle sessions from memory; they come back from the store on their next use. */
  evictIdle(): number {
    const now = this.#o.timers.clock.now();
    let evicted = 0;
    for (const session of this.#loaded.values()) {
      if (now - session.usedAt < this.#o.idleMs || isBusy(session) || session.log.waiting > 0) continue;
      this.#loaded.delete(session.id);
      // A stream that holds a cursor but is not waiting (stalled on a slow socket) ends and reconnects to the reloaded session.
      session.log.close();
      session.writer.close();
      this.#o.dropped?.(session);
      evicted++;
    }
    return evicted;
  }

  /**
   * Take a session out of memory without closing its log (its readers keep
   * their cursors): for a replica whose log the runner's session continues.
   */
  detach(sessionId: string): SessionState | undefined {
    const session = this.#loaded.get(sessionId);
    if (!session) return undefined;
    this.#loaded.delete(sessionId);
    session.writer.close();
    this.#o.dropped?.(session);
    return session;
  }

  /** Forget a session (expired or deleted). */
  remove(sessionId: string): void {
    const session = this.#loaded.get(sessionId);
    if (!session) return;
    this.#loaded.delete(sessionId);
    session.log.close();
    session.writer.close();
    this.#o.dropped?.(session);
  }

  /** Stop the eviction timer (shutdown). */
  close(): void {
    this.#o.timers.cancel(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  #armSweep(): void {
    if (this.#sweepTimer !== undefined || !Number.isFinite(this.#o.idleMs)) return;
    // Sweep at a fraction of the idle time, so a session leaves memory at most ~1.25 × idleMs after its last use.
    this.#sweepTimer = this.#o.timers.set(
      () => {
        this.#sweepTimer = undefined;
        this.evictIdle();
        if (this.#loaded.size > 0) this.#armSweep();
      },
      Math.max(10, Math.ceil(this.#o.idleMs / 4)),
    );
  }
}
