/** The agent's contract with the server: what it is called with and what it yields. */
import type { InputAnswer, InputRequest, InputSource, TerminalEvent, TurnStatus } from '../../protocol/index.js';

export type { Logger } from '../../logging/logger.js';

/** What an agent yields: a piece of output text, or a structured item. */
export type AgentChunk = { type: 'delta'; text: string } | { type: 'item'; item: Record<string, unknown> };

/**
 * What the agent keeps per session, persisted with the session record in
 * every store (`SessionRecord.agentState`): a JSON object, replaced whole.
 *
 * @example
 * const { threadId } = input.state.get();
 * if (!threadId) await input.state.set({ ...input.state.get(), threadId: await startThread() });
 */
export interface AgentState {
  /** A copy of the stored object; `{}` until the first `set()`. */
  get(): Record<string, unknown>;
  /**
   * Replace the stored object. Resolves once the store has it (it survives a
   * restart); rejects with a `ServerError` `store_unavailable` when the store
   * cannot take it, and with a `TypeError` for a value that is not a JSON
   * object (or over 1 MiB as JSON).
   */
  set(value: Record<string, unknown>): Promise<void>;
}

/** An earlier turn of the session, as the agent sees it in {@link AgentInput.history}. */
export interface PastTurn {
  turnId: string;
  prompt: string;
  /** `completed`, `canceled` or `error`. */
  status: Exclude<TurnStatus, 'queued' | 'running'>;
  /** The turn's text (`turn.completed.output`); `undefined` for a turn that did not complete. */
  output: string | undefined;
  terminal: TerminalEvent;
}

/** How an input request was settled, as `input.requestInput()` resolves. */
export type InputResolution =
  | { status: 'answered'; answer: InputAnswer; answeredBy: string; source: InputSource }
  /** The turn ended (canceled, failed, server shutdown) before anyone answered. */
  | { status: 'unanswered'; reason: 'turn_ended' };

/** What an agent is called with for one turn. */
export interface AgentInput {
  prompt: string;
  /** Aborted when the turn is canceled or the server shuts down; stop soon after. */
  signal: AbortSignal;
  sessionId: string;
  turnId: string;
  /** The prompting client's id, when it sent one. */
  clientId: string | undefined;
  /** The session's persisted agent state (see {@link AgentState}). */
  state: AgentState;
  /**
   * The session's earlier turns that ended, oldest first (from their turn
   * records, so it survives restarts and trimmed logs): the conversation so far.
   */
  history: readonly PastTurn[];
  /**
   * Ask the session's clients (and the server's `inputPolicy`) something and
   * wait for the answer. Every client sees a `turn.input_requested` event;
   * the first answer wins and is recorded as `turn.input_answered`. Resolves
   * once the answer is stored, or `{status:'unanswered'}` when the turn ends
   * first (a cancel resolves it at once). Never rejects for a valid request;
   * throws a `TypeError` for an invalid one.
   *
   * @example
   * const r = await input.requestInput({ kind: 'approval', prompt: 'Run `rm -rf build`?',
   *   options: [{ id: 'approve', label: 'Approve' }, { id: 'deny', label: 'Deny' }] });
   * if (r.status === 'answered' && r.answer.option === 'approve') await run();
   */
  requestInput(request: InputRequest): Promise<InputResolution>;
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

/** What the server's {@link InputPolicy} is asked about. */
export interface InputPolicyContext {
  sessionId: string;
  turnId: string;
  requestId: string;
  request: InputRequest;
  /** The session's agent state (a copy). */
  agentState: Record<string, unknown>;
}

/**
 * Answers input requests on the server, without a client: return an answer
 * (recorded with `answeredBy: 'policy'`), or `undefined` to leave the request
 * to the clients. A policy that throws or returns an invalid answer is logged
 * and the request stays with the clients.
 *
 * @example
 * const inputPolicy: InputPolicy = ({ request }) =>
 *   request.kind === 'approval' && /^(ls|cat|git status)\b/.test(String(request.details?.command)) ? { option: 'approve' } : undefined;
 */
export type InputPolicy = (context: InputPolicyContext) => InputAnswer | undefined | Promise<InputAnswer | undefined>;

// The store contract's types, re-exported for code that imported them from here.
export type * from './session-store.js';
