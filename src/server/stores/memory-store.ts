/** memoryStore: the store contract kept in this process, with retention and expiry. */
import type { SessionEvent } from '../../protocol/index.js';
import { systemClock, type Clock } from '../../internal/clock.js';
import type {
  AppendOptions,
  SessionRecord,
  SessionStore,
  StoreStats,
  StoredSession,
  TurnRecord,
  UnfinishedTurn,
} from '../core/session-store.js';

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** A session untouched (no write, no load) this long is deleted. `Infinity` keeps sessions forever. @default 86400000 (24 h) */
  sessionTtlMs?: number;
  /** Time source for expiry. @default systemClock */
  clock?: Clock;
}

/** A {@link SessionStore} that keeps everything in the instance. */
export interface MemoryStore extends SessionStore {
  /** Sessions held (for tests). */
  readonly size: number;
}

/** Defaults of {@link MemoryStoreOptions}. */
export const MEMORY_STORE_DEFAULTS = {
  sessionTtlMs: 24 * 60 * 60 * 1000,
  clock: systemClock,
} as const satisfies Required<MemoryStoreOptions>;

interface Entry {
  /** JSON, so later mutations by the caller cannot leak in. */
  record: string;
  turns: Map<string, string>;
  unfinished: Set<string>;
  events: string[];
  /** Index in `events` of the oldest held event (dropping from the front is amortized). */
  head: number;
  bytes: number;
  touchedAt: number;
}

// Sweep expired sessions at most this often, on the back of a write.
const SWEEP_EVERY_MS = 60_000;

/**
 * Keeps session records, turn records and event logs in memory, in this
 * instance, with the same retention and expiry rules as a persistent store.
 * Passing the same instance to a new server simulates a restart that keeps
 * history (same epochs, `seq` continues); a fresh instance is a restart that
 * lost it.
 *
 * @example
 * const store = memoryStore();
 * const a = createServer({ agent, store });
 * await a.close();
 * const b = createServer({ agent, store }); // sees a's sessions and events
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const ttlMs = options.sessionTtlMs ?? MEMORY_STORE_DEFAULTS.sessionTtlMs;
  const clock = options.clock ?? MEMORY_STORE_DEFAULTS.clock;
  if (typeof ttlMs !== 'number' || !(ttlMs > 0)) {
    throw new TypeError(`memoryStore: \`sessionTtlMs\` must be a positive number or Infinity, got ${String(ttlMs)}`);
  }
  const sessions = new Map<string, Entry>();
  let sweptAt = clock.now();

  const expired = (entry: Entry) => clock.now() - entry.touchedAt > ttlMs;
  const live = (id: string): Entry | undefined => {
    const entry = sessions.get(id);
    if (entry && expired(entry)) {
      sessions.delete(id);
      return undefined;
    }
    if (entry) entry.touchedAt = clock.now();
    return entry;
  };
  const sweep = () => {
    if (ttlMs === Number.POSITIVE_INFINITY || clock.now() - sweptAt < SWEEP_EVERY_MS) return;
    sweptAt = clock.now();
    for (const [id, entry] of sessions) if (expired(entry)) sessions.delete(id);
  };
  const require = (id: string): Entry => {
    const entry = live(id);
    if (!entry) throw new Error(`memoryStore: unknown session ${id}`);
    return entry;
  };

  return {
    get size() {
      return sessions.size;
    },
    async saveSession(record: SessionRecord): Promise<void> {
      sweep();
      const entry = live(record.id);
      const json = JSON.stringify(record);
      if (entry) entry.record = json;
      else {
        sessions.set(record.id, {
          record: json,
          turns: new Map(),
          unfinished: new Set(),
          events: [],
          head: 0,
          bytes: 0,
          touchedAt: clock.now(),
        });
      }
    },
    async loadSession(sessionId: string, { maxEvents }: AppendOptions): Promise<StoredSession | undefined> {
      const entry = live(sessionId);
      if (!entry) return undefined;
      const from = Math.max(entry.head, entry.events.length - maxEvents);
      return {
        record: JSON.parse(entry.record) as SessionRecord,
        turns: [...entry.turns.values()].map((json) => JSON.parse(json) as TurnRecord),
        events: entry.events.slice(from).map((json) => JSON.parse(json) as SessionEvent),
      };
    },
    async appendEvents(sessionId: string, events: readonly SessionEvent[], { maxEvents }: AppendOptions): Promise<void> {
      sweep();
      const entry = require(sessionId);
      const last = entry.events.length > entry.head ? (JSON.parse(entry.events.at(-1)!) as SessionEvent).seq : 0;
      for (const event of events) {
        // Idempotent by seq: a retried append after an unknown outcome adds nothing twice.
        if (event.seq <= last) continue;
        const json = JSON.stringify(event);
        entry.events.push(json);
        entry.bytes += json.length;
      }
      const excess = entry.events.length - entry.head - maxEvents;
      if (excess > 0) {
        for (let i = entry.head; i < entry.head + excess; i++) entry.bytes -= entry.events[i]!.length;
        entry.head += excess;
        // Compact in bulk (a quarter of the retention at a time) so a full log neither copies itself on every append nor holds twice the retention.
        if (entry.head >= Math.max(64, maxEvents >> 2)) {
          entry.events = entry.events.slice(entry.head);
          entry.head = 0;
        }
      }
    },
    async saveTurn(sessionId: string, turn: TurnRecord): Promise<void> {
      const entry = require(sessionId);
      entry.turns.set(turn.id, JSON.stringify(turn));
      if (turn.terminal) entry.unfinished.delete(turn.id);
      else entry.unfinished.add(turn.id);
    },
    async unfinishedTurns(): Promise<UnfinishedTurn[]> {
      const out: UnfinishedTurn[] = [];
      for (const [sessionId, entry] of sessions) {
        if (expired(entry)) continue;
        for (const turnId of entry.unfinished) out.push({ sessionId, turnId });
      }
      return out;
    },
    async deleteSession(sessionId: string): Promise<void> {
      sessions.delete(sessionId);
    },
    async stats(): Promise<StoreStats> {
      let bytes = 0;
      let count = 0;
      for (const entry of sessions.values()) {
        if (expired(entry)) continue;
        count++;
        bytes += entry.bytes + entry.record.length;
        for (const turn of entry.turns.values()) bytes += turn.length;
      }
      return { sessions: count, bytes };
    },
  };
}
