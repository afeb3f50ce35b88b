/** One subscription's pump: events from the log to a connection, under its write budget (F6). */
import type { CursorBatch, EventCursor } from '../core/event-cursor.js';
import type { WriteBudget } from './write-budget.js';
import type { FairShare } from './fair-share.js';

/** How one subscription moves events from the log to its connection. */
export interface PumpOptions {
  cursor: EventCursor;
  budget: WriteBudget;
  /** The server-wide bytes per turn of the event loop, shared with every other pump. */
  share: FairShare;
  /** Aborted when the subscription or its connection ends. */
  signal: AbortSignal;
  maxEvents: number;
  maxBytes: number;
  /** Write one batch (a reset and/or events) to the connection; must account its bytes in `budget`. */
  send(batch: CursorBatch): void;
}

/**
 * Stream a session's log to one connection with backpressure (F6): take from
 * the cursor only while the connection's buffer is under its high-water mark,
 * otherwise wait for drain and continue from the log. Nothing queues per
 * connection, so a stalled reader costs one bounded buffer and never slows the
 * others. Batches are taken only while the server's {@link FairShare} of
 * this turn of the event loop lasts, so a big fan-out is written in slices
 * with other requests served between them. Resolves when aborted, or when
 * the log is closed (shutdown) and every event was handed to the connection.
 */
export async function pump(options: PumpOptions): Promise<void> {
  const { cursor, budget, share, signal } = options;
  const limits = { maxEvents: options.maxEvents, maxBytes: options.maxBytes };
  while (!signal.aborted && !budget.closed) {
    if (budget.full) {
      await budget.drained(signal);
      continue;
    }
    if (share.exhausted) {
      await share.nextTurn();
      continue;
    }
    const batch = cursor.take(limits);
    if (batch.reset || batch.entries.length > 0) {
      options.send(batch);
      share.spend(batch.bytes);
      continue;
    }
    if (cursor.ended) return;
    await cursor.wait(signal);
  }
}
