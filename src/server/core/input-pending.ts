/** Which of a turn's input requests are pending, as readers of its log see them (`TurnInfo.pendingInputs`). */
import type { PendingInput } from '../../protocol/index.js';
import type { TurnState } from './turn-state.js';

/**
 * The requests of a turn still pending for readers of the log up to
 * `visible` (an answer or terminal not yet stored does not count yet), so
 * `GET turn` never runs ahead of the streams.
 */
export function pendingInputs(turn: TurnState, visible: number): PendingInput[] {
  if (turn.terminal && turn.terminal.seq <= visible) return [];
  const pending: PendingInput[] = [];
  for (const [requestId, entry] of turn.inputs) {
    if (entry.seq > visible || (entry.answered && entry.answered.seq <= visible)) continue;
    pending.push({ requestId, request: entry.request });
  }
  return pending;
}
