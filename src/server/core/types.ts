import type { SessionEvent, TerminalEvent, TurnStatus } from '../../protocol/index.js';

export type { Logger } from '../../logging/logger.js';

/** What an agent yields: a piece of output text, or a structured item. */
export type AgentChunk = { type: 'delta'; text: string } | { type: 'item'; item: Record<string, unknown> };

/** What an agent is called with for one turn. */
export interface AgentInput {
  prompt: string;
  /** Aborted when the turn is canceled or the server shuts down; stop soon after. */
  signal: AbortSignal;
  sessionId: string;
  turnId: string;
  /** The prompting client's id, when it sent one. */
  clientId: string | undefined;
}

/**
 * The agent behind the server. Its iterable ending → `turn.completed` (output =
 * concatenated deltas); throwing → `turn.error` (`agent_error`); a cancel
 * aborts `signal` and ends the turn with `turn.canceled` at once.
 *
 * @example
 * const agent: Agent = async function* ({ prompt }) { yield { type: 'delta', text: `echo: ${prompt}` }; };
 */
export type Agent = (input: AgentInput) => AsyncIterable<AgentChunk> | Iterable<AgentChunk>;

/** A turn as persisted in a {@link SessionRecord}. */
export interface TurnRecord {
  id: string;
  status: TurnStatus;
  prompt: string;
  clientId?: string;
  createdAt: number;
  queuedSeq: number;
  idempotencyKey?: string;
  terminal?: TerminalEvent;
}

/** A session's persisted state (everything but its event log). */
export interface SessionRecord {
  version: 1;
  id: string;
  epoch: string;
  createdAt: number;
  metadata?: Record<string, unknown>;
  /** The log's last `seq` when this record was written. */
  seq: number;
  turns: TurnRecord[];
}

/** A session as loaded from a store: its record and the events the store still holds, in `seq` order. */
export interface StoredSession {
  record: SessionRecord;
  events: SessionEvent[];
}

/**
 * Persistence behind the server. The server keeps the live state in memory
 * and writes through to the store; it reads the store only at start-up.
 * Calls for one session are made in order; the store may batch them.
 *
 * @example
 * const server = createServer({ agent, store: fileStore({ dir: './sessions' }) });
 */
export interface SessionStore {
  /** Every stored session, read once when the server starts. */
  load(): Promise<StoredSession[]>;
  /** Replace the session's record (atomically, for a persistent store). */
  saveSession(record: SessionRecord): Promise<void>;
  /** Append events (contiguous `seq`s, in order) to the session's log. */
  appendEvents(sessionId: string, events: readonly SessionEvent[]): Promise<void>;
  /** Optional: the server no longer needs events with `seq < firstSeq`. */
  trimEvents?(sessionId: string, firstSeq: number): Promise<void>;
  /** Optional: flush pending writes; called by `server.close()`. */
  close?(): Promise<void>;
}
