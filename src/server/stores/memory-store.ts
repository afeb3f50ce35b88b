import type { SessionEvent } from '../../protocol/index.js';
import type { SessionRecord, SessionStore, StoredSession } from '../core/types.js';

/** A {@link SessionStore} that keeps everything in the instance. */
export interface MemoryStore extends SessionStore {
  /** Sessions held (for tests). */
  readonly size: number;
}

/**
 * Keeps session records and event logs in memory, in this instance. Passing
 * the same instance to a new server simulates a restart that keeps history
 * (same epochs, `seq` continues); a fresh instance is a restart that lost it.
 *
 * @example
 * const store = memoryStore();
 * const a = createServer({ agent, store });
 * await a.close();
 * const b = createServer({ agent, store }); // sees a's sessions and events
 */
export function memoryStore(): MemoryStore {
  const records = new Map<string, string>();
  const logs = new Map<string, SessionEvent[]>();
  return {
    get size() {
      return records.size;
    },
    async load(): Promise<StoredSession[]> {
      return [...records.entries()].map(([id, json]) => ({
        record: JSON.parse(json) as SessionRecord,
        events: [...(logs.get(id) ?? [])],
      }));
    },
    async saveSession(record: SessionRecord): Promise<void> {
      // Stored as JSON so later mutations by the caller cannot leak in.
      records.set(record.id, JSON.stringify(record));
    },
    async appendEvents(sessionId: string, events: readonly SessionEvent[]): Promise<void> {
      let log = logs.get(sessionId);
      if (!log) logs.set(sessionId, (log = []));
      for (const event of events) log.push(event);
    },
    async trimEvents(sessionId: string, firstSeq: number): Promise<void> {
      const log = logs.get(sessionId);
      const oldest = log?.[0]?.seq;
      if (!log || oldest === undefined) return;
      const drop = firstSeq - oldest;
      // Trim in bulk so a full log does not copy itself on every append.
      if (drop > 0 && drop * 2 >= log.length) logs.set(sessionId, log.slice(drop));
    },
  };
}
