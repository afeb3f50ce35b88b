import type { ResetInfo } from '../../protocol/index.js';
import type { LogEntry, SessionLog } from './session-log.js';

/** One step of a cursor: maybe a reset, then entries. Empty when caught up. */
export interface CursorBatch {
  reset?: ResetInfo;
  entries: LogEntry[];
  /** UTF-8 bytes of the entries' JSON, together. */
  bytes: number;
}

/**
 * A reader's position in one session log: the unit of backpressure (F6).
 * A subscription owns a cursor, not a queue; when its connection is slow it
 * simply stops taking, and later continues from the log where it left off.
 * If the log dropped the events it still needed, the next `take()` returns a
 * reset and continues from the oldest held event (never a silent gap).
 *
 * @example
 * const cursor = core.cursor(sessionId, { after: 0 });
 * for (;;) {
 *   const batch = cursor.take({ maxEvents: 100 });
 *   if (batch.reset) send(batch.reset);
 *   if (batch.entries.length > 0) send(batch.entries.map((e) => e.event));
 *   else if (cursor.ended) break; else await cursor.wait(signal);
 * }
 */
export class EventCursor {
  readonly log: SessionLog;
  #after: number;
  #epoch: string | undefined;

  constructor(log: SessionLog, after: number, epoch?: string) {
    this.log = log;
    this.#after = after;
    this.#epoch = epoch;
  }

  /** The `seq` of the last event taken (the value to resume from). */
  get after(): number {
    return this.#after;
  }

  /**
   * Whether the log is closed and every visible event was taken. Events it
   * assigned but never stored are not waited for: nothing will publish them
   * (the session left this node, or its store is unreachable), and the
   * reader resumes from its cursor wherever the session lives next.
   */
  get ended(): boolean {
    return this.log.closed && this.#after >= this.log.seq;
  }

  /** Whether events are waiting to be taken. */
  get pending(): boolean {
    return this.log.seq > this.#after;
  }

  /** Take the next batch and advance. */
  take(limits: { maxEvents: number; maxBytes?: number }): CursorBatch {
    const read = this.log.read(this.#after, this.#epoch, limits);
    this.#after = read.next;
    this.#epoch = this.log.epoch;
    return read.reset ? { reset: read.reset, entries: read.entries, bytes: read.bytes } : { entries: read.entries, bytes: read.bytes };
  }

  /** Resolves when there is something to take, the log closes, or `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    return this.log.waitFor(this.#after, signal);
  }
}
