/** A session in memory: its log, turns, queue and store writer, and how it reads as info. */
import type { SessionEvent, SessionInfo } from '../../protocol/index.js';
import type { SessionLog, NewEvent } from './session-log.js';
import type { SessionRecord } from './session-store.js';
import type { StoreWriter } from './store-writer.js';
import type { SessionAccess } from '../security/principal.js';
import { turnRecord, type TurnState } from './turn-state.js';

/** A loaded session. */
export interface SessionState {
  id: string;
  epoch: string;
  createdAt: number;
  metadata: Record<string, unknown> | undefined;
  /** The session's record as last handed to the store; a change saves a copy with the field changed (see {@link saveRecord}). */
  record: SessionRecord;
  /** Who may see it: the stored record's `owner` and `sharedWith`. */
  access: SessionAccess;
  log: SessionLog;
  writer: StoreWriter;
  turns: Map<string, TurnState>;
  queue: TurnState[];
  /** The turn that owns the agent slot: running, or canceled but its agent not yet stopped. */
  active: TurnState | undefined;
  graceTimer: unknown;
  idempotency: Map<string, TurnState>;
  /** Last time a command or reader used the session (idle eviction). */
  usedAt: number;
  /** A copy that follows the session's runner on another cluster node: it serves reads and never runs turns or writes. */
  replica?: boolean;
}

/** Append an event to the session's log and hand it to the store writer; readers see it once stored. */
export function appendEvent(session: SessionState, event: NewEvent, now: number): SessionEvent {
  const full = session.log.append(event, now);
  session.writer.events([full]);
  return full;
}

/** Hand the turn's current record to the store writer (after any event appended before this call). */
export function saveTurn(session: SessionState, turn: TurnState): void {
  session.writer.turn(turnRecord(turn));
}

/**
 * Replace the session's record and hand it to the store writer, in order with
 * the session's events and turn records; `session.writer.flush()` resolves
 * once it is stored.
 */
export function saveRecord(session: SessionState, record: SessionRecord): void {
  session.record = record;
  session.writer.record(record);
}

/** Who may see a session, as its record says (`owner`, `sharedWith`). */
export function accessOf(record: SessionRecord): SessionAccess {
  return {
    ...(record.owner === undefined ? {} : { owner: record.owner }),
    ...(record.sharedWith === undefined ? {} : { sharedWith: record.sharedWith }),
  };
}

/** Register a turn in its session (and its idempotency key). */
export function addTurn(session: SessionState, turn: TurnState): TurnState {
  session.turns.set(turn.id, turn);
  if (turn.idempotencyKey !== undefined) session.idempotency.set(turn.idempotencyKey, turn);
  return turn;
}

/** Whether the session has work in flight: a running or queued turn, or unwritten data. */
export function isBusy(session: SessionState): boolean {
  return session.active !== undefined || session.queue.length > 0 || !session.writer.idle;
}

/** The wire view of a session. */
export function sessionInfo(session: SessionState): SessionInfo {
  const info: SessionInfo = {
    id: session.id,
    epoch: session.log.epoch,
    seq: session.log.seq,
    firstSeq: session.log.firstSeq,
    createdAt: session.createdAt,
    activeTurnId: session.active && !session.active.terminal ? session.active.id : null,
    queuedTurnIds: session.queue.map((turn) => turn.id),
  };
  if (session.metadata !== undefined) info.metadata = session.metadata;
  return info;
}
