/** Replica: a session followed from its runner on another cluster node — its log and turn states kept in step with the events that node stored. */
import { isTerminal } from '../../protocol/index.js';
import type { SessionEvent } from '../../protocol/index.js';
import { replay } from './recovery.js';
import type { SessionState } from './session-state.js';

/** Mark a freshly restored session as a replica: its unfinished turns are running or queued elsewhere, as the log says. */
export function asReplica(session: SessionState): SessionState {
  session.replica = true;
  for (const turn of [...session.turns.values()].sort((a, b) => a.queuedSeq - b.queuedSeq)) {
    if (turn.terminal) continue;
    if (turn.status === 'running') session.active = turn;
    else session.queue.push(turn);
  }
  return session;
}

/**
 * Apply events another node stored, in `seq` order: append them to the log
 * (visible at once: they are stored) and move turns between queued, running
 * and ended, so snapshots and turn reads here answer like the runner would.
 * Returns false when an event does not follow the log (the caller reloads).
 */
export function applyRemote(session: SessionState, events: readonly SessionEvent[]): boolean {
  for (const event of events) {
    if (event.seq <= session.log.assignedSeq) continue;
    if (!session.log.ingest(event)) return false;
    replay(session, event);
    const turn = typeof event.turnId === 'string' ? session.turns.get(event.turnId) : undefined;
    if (!turn) continue;
    const queued = session.queue.indexOf(turn);
    if (event.type === 'turn.queued' && queued < 0 && !turn.terminal) session.queue.push(turn);
    if (event.type === 'turn.started' || isTerminal(event)) {
      if (queued >= 0) session.queue.splice(queued, 1);
      if (event.type === 'turn.started' && !turn.terminal) session.active = turn;
      if (isTerminal(event) && session.active === turn) session.active = undefined;
    }
  }
  return true;
}
