/** The agent's contract with the server: what it is called with and what it yields. */
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
 * concatenated deltas); throwing → `turn.error` (`agent_error`, its text only in the
 * server log unless it is a `SafeAgentError`); a cancel
 * aborts `signal` and ends the turn with `turn.canceled` at once.
 *
 * @example
 * const agent: Agent = async function* ({ prompt }) { yield { type: 'delta', text: `echo: ${prompt}` }; };
 */
export type Agent = (input: AgentInput) => AsyncIterable<AgentChunk> | Iterable<AgentChunk>;

// The store contract's types, re-exported for code that imported them from here.
export type * from './session-store.js';
