/** Moving a session's events from a cursor to an in-memory stream (SSE or WebSocket), with the slow and drop faults. */
import { systemClock, sleep } from '../../internal/clock.js';
import { limits, type ResetInfo, type SessionEvent } from '../../protocol/index.js';
import type { EventCursor } from '../../server.js';
import type { MswFaultState } from './faults.js';

/** How a stream ended: the log closed, the drop fault fired, or the reader went away. */
export type StreamOutcome = 'ended' | 'dropped' | 'aborted';

/**
 * Feeds a session's events from `cursor` to `deliver` until `signal` aborts,
 * the log ends, or `budget` (the drop fault) runs out.
 */
export async function streamEvents(
  cursor: EventCursor,
  faults: MswFaultState,
  signal: AbortSignal,
  budget: { left: number } | null,
  deliver: { reset(reset: ResetInfo): void; events(events: SessionEvent[]): void },
): Promise<StreamOutcome> {
  while (!signal.aborted) {
    if (budget !== null && budget.left <= 0) return 'dropped';
    // One event at a time while a fault counts or slows them.
    const batch = cursor.take({ maxEvents: faults.slowMs > 0 || budget !== null ? 1 : limits.maxBatchEvents });
    if (batch.reset) deliver.reset(batch.reset);
    if (batch.entries.length > 0) {
      if (faults.slowMs > 0) await sleep(systemClock, faults.slowMs, signal);
      if (signal.aborted) break;
      deliver.events(batch.entries.map((entry) => entry.event));
      if (budget !== null) budget.left -= batch.entries.length;
      continue;
    }
    if (cursor.ended) return 'ended';
    await cursor.wait(signal);
  }
  return 'aborted';
}
