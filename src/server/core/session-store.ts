/** The store contract: what the core persists, and what every store (memory, file, Redis) must guarantee. */
import type { SessionEvent, TerminalEvent, TurnStatus } from '../../protocol/index.js';

/**
 * A session's persisted identity. It holds no turns and no outputs: turns are
 * {@link TurnRecord}s of their own and events live in the log, so saving one
 * never rewrites the other (per-turn cost independent of session length).
 */
export interface SessionRecord {
  version: 2;
  id: string;
  /** Changes when the session's history is lost; resuming readers then get `session.reset`. */
  epoch: string;
  createdAt: number;
  metadata?: Record<string, unknown>;
  /**
   * What the agent keeps for this session (`input.state.set()`), e.g. the id
   * of an upstream thread. A JSON object, replaced whole on every save.
   */
  agentState?: Record<string, unknown>;
  /** The principal that created the session, when the server authenticates. */
  owner?: string;
  /** Other principals that may use the session (see the default `authorize`). */
  sharedWith?: string[];
}

/** One turn as persisted, saved on its own (queued, then once more with its terminal). */
export interface TurnRecord {
  id: string;
  status: TurnStatus;
  prompt: string;
  clientId?: string;
  createdAt: number;
  queuedSeq: number;
  idempotencyKey?: string;
  /** Set once the turn ended: answers `session.turn(id)` after its events were trimmed (F5 fallback). */
  terminal?: TerminalEvent;
}

/** A session as a store hands it back. */
export interface StoredSession {
  record: SessionRecord;
  /** Every turn record of the session, any order. */
  turns: TurnRecord[];
  /** The retained tail of the log: contiguous `seq`s, ending at the last stored event, at most `maxEvents`. */
  events: SessionEvent[];
  /**
   * What the store found damaged and skipped (a corrupt line in the middle of
   * the log, an unreadable turn record). The core logs each loudly; the
   * events before the damage are not served, so resuming readers get a reset.
   */
  problems?: string[];
}

/** Where a session of {@link SessionStore.unfinishedTurns} stands. */
export interface UnfinishedTurn {
  sessionId: string;
  turnId: string;
}

/** What a store holds, for `server.stats()` and `GET /v1/health`. */
export interface StoreStats {
  /** Sessions stored (not expired). */
  sessions: number;
  /** Bytes the store holds for them (event logs and records), as far as it can tell cheaply. */
  bytes: number;
}

/** Options of one append: the retention the store enforces as part of the same call. */
export interface AppendOptions {
  /** Keep at most this many of the newest events (plus the slack the store documents). */
  maxEvents: number;
}

/**
 * Persistence behind the server (docs/server.md, "Store contract").
 *
 * - **Durability**: a call resolves only once what it wrote survives a crash of
 *   this process (fsync'd for files; acknowledged by the server for a network
 *   store). A rejected call may or may not have been applied; the core retries
 *   the same write, so writes must be idempotent by `seq` / turn id.
 * - **Ordering**: the core never has two calls in flight for one session and
 *   makes them in order; a store must still accept calls for different
 *   sessions concurrently.
 * - **Atomicity**: a record (session or turn) is replaced whole (F10): a reader
 *   sees the old or the new one, never a torn one. An append is contiguous and
 *   a crash may cut only its tail, which the next load drops.
 * - **Retention**: after every append the store holds at most
 *   `maxEvents` + one batch (plus a documented slack) of the newest events; a
 *   store never grows with history ever written.
 * - **No single owner**: nothing is cached in a way that another process
 *   writing the same store would make wrong, except what the core loaded
 *   explicitly with `loadSession`.
 * - **Expiry**: a store may expire sessions untouched for its TTL; an expired
 *   session loads as `undefined` everywhere.
 *
 * @example
 * const server = createServer({ agent, store: fileStore({ dir: './sessions' }) });
 */
export interface SessionStore {
  /** Check the store can be used (e.g. the directory exists and is writable); throw an error saying exactly what is wrong. */
  open?(): Promise<void>;
  /** Create or replace a session's record. */
  saveSession(record: SessionRecord): Promise<void>;
  /** A session's record, turns and retained events; `undefined` when unknown or expired. */
  loadSession(sessionId: string, options: AppendOptions): Promise<StoredSession | undefined>;
  /** Append events (contiguous `seq`s, in order) and enforce retention. */
  appendEvents(sessionId: string, events: readonly SessionEvent[], options: AppendOptions): Promise<void>;
  /** Create or replace one turn's record; other turns are not touched. */
  saveTurn(sessionId: string, turn: TurnRecord): Promise<void>;
  /** Turns saved without a terminal (a previous process left them queued or running): what start-up recovers. */
  unfinishedTurns(): Promise<UnfinishedTurn[]>;
  /** Forget a session (expired); unknown ids are fine. */
  deleteSession(sessionId: string): Promise<void>;
  /** What the store holds. */
  stats(): Promise<StoreStats>;
  /** Flush pending work; called by `server.close()`. */
  close?(): Promise<void>;
}

/** Whether a value implements {@link SessionStore} (for option checks). */
export function isSessionStore(value: unknown): value is SessionStore {
  if (typeof value !== 'object' || value === null) return false;
  const methods = ['saveSession', 'loadSession', 'appendEvents', 'saveTurn', 'unfinishedTurns', 'deleteSession', 'stats'];
  return methods.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
}
