/** Recovery: a stored session back in memory — turns replayed from the log tail, lost history detected, damage reported. */
import { isTerminal } from '../../protocol/index.js';
import type { SessionEvent } from '../../protocol/index.js';
import type { Logger } from '../../logging/logger.js';
import { SessionLog } from './session-log.js';
import type { SessionRecord, StoredSession } from './session-store.js';
import { replayInput } from './input-requests.js';
import { accessOf, addTurn, type SessionState } from './session-state.js';
import type { StoreWriter } from './store-writer.js';
import { statusOf, turnFromRecord, type TurnState } from './turn-state.js';

/** A restored session, and what the caller must do about it. */
export interface Restored {
  session: SessionState;
  /** Turns a previous process left queued or running, oldest first: end them as `interrupted`. */
  unfinished: TurnState[];
  /** The record changed (new epoch): save it. */
  record: SessionRecord | undefined;
}

/**
 * Rebuild a session from what the store returned. The log continues at the
 * highest `seq` anything stored knows of; when turn records know of events
 * the log no longer has (history lost), the session gets a new epoch, so
 * resuming readers get `session.reset` (`epoch_changed`). Damage the store
 * reported is logged as an error; the events before it are not served, so
 * resuming readers get `history_gone` — never a silent gap, and the epoch
 * stays (what is served is still this history).
 */
export function restoreSession(
  stored: StoredSession,
  options: {
    maxEvents: number;
    logger: Logger;
    now: number;
    newId: () => string;
    writer: (sessionId: string, log: SessionLog) => StoreWriter;
    /**
     * The log of the replica this node held of the session (it just took the
     * session over): continued in place when it is a prefix of what the store
     * holds, so the streams reading it go on without a break.
     */
    continueLog?: SessionLog | undefined;
  },
): Restored {
  const { record, turns: turnRecords, events } = stored;
  for (const problem of stored.problems ?? []) {
    options.logger.error?.({ sessionId: record.id, problem }, 'agent-tether: stored session is damaged; serving what is intact');
  }
  const lastEventSeq = events.at(-1)?.seq ?? 0;
  let knownSeq = lastEventSeq;
  for (const turn of turnRecords) knownSeq = Math.max(knownSeq, turn.queuedSeq, turn.terminal?.seq ?? 0);
  const lost = knownSeq > lastEventSeq || record.epoch === '';
  const epoch = lost ? options.newId() : record.epoch;
  const log =
    (lost ? undefined : continued(options.continueLog, epoch, knownSeq, events)) ??
    new SessionLog({ sessionId: record.id, epoch, maxEvents: options.maxEvents, seq: knownSeq, events: lost ? [] : events });
  // A replica log that could not be continued ends its streams (their clients resume from their cursor).
  if (options.continueLog && options.continueLog !== log) options.continueLog.close();
  const session: SessionState = {
    id: record.id,
    epoch,
    createdAt: record.createdAt,
    metadata: record.metadata,
    record: lost ? { ...record, version: 2, epoch } : record,
    access: accessOf(record),
    log,
    writer: options.writer(record.id, log),
    turns: new Map(),
    queue: [],
    active: undefined,
    graceTimer: undefined,
    idempotency: new Map(),
    usedAt: options.now,
  };
  for (const turnRecord of [...turnRecords].sort((a, b) => a.queuedSeq - b.queuedSeq)) {
    addTurn(session, turnFromRecord(record.id, turnRecord));
  }
  // The log may be newer than the turn records (a crash between the two writes).
  for (const event of events) replay(session, event);
  const unfinished = [...session.turns.values()].filter((turn) => !turn.terminal).sort((a, b) => a.queuedSeq - b.queuedSeq);
  return { session, unfinished, record: lost ? session.record : undefined };
}

/**
 * `previous` brought up to the stored events, when it can be: same epoch,
 * nothing unpublished, and the stored events follow its end contiguously up
 * to `knownSeq`. Otherwise `undefined` (the caller builds a fresh log).
 */
function continued(previous: SessionLog | undefined, epoch: string, knownSeq: number, events: readonly SessionEvent[]): SessionLog | undefined {
  if (!previous || previous.closed || previous.epoch !== epoch || previous.seq !== previous.assignedSeq || previous.seq > knownSeq) return undefined;
  for (const event of events) {
    if (event.seq <= previous.seq) continue;
    if (!previous.ingest(event)) return undefined;
  }
  return previous.seq === knownSeq ? previous : undefined;
}

/** Apply one stored event to the session's turns (what a log tail says that the turn records may not yet). */
export function replay(session: SessionState, event: SessionEvent): void {
  if (typeof event.turnId !== 'string') return;
  let turn = session.turns.get(event.turnId);
  if (!turn && event.type === 'turn.queued') {
    const queued = event as Extract<SessionEvent, { type: 'turn.queued' }>;
    turn = addTurn(
      session,
      turnFromRecord(session.id, {
        id: event.turnId,
        status: 'queued',
        prompt: queued.prompt,
        ...(queued.clientId === undefined ? {} : { clientId: queued.clientId }),
        createdAt: event.time,
        queuedSeq: event.seq,
      }),
    );
  }
  if (!turn || turn.terminal) return;
  replayInput(turn, event);
  if (event.type === 'turn.started') {
    turn.status = 'running';
    turn.startedSeq = event.seq;
  }
  if (isTerminal(event)) {
    turn.terminal = event;
    turn.status = statusOf(event);
  }
}
