/** The agent's per-session state: a JSON object kept in the session record and saved through the session's store writer. */
import { limits } from '../../protocol/index.js';
import { describeValue } from '../../internal/describe-value.js';
import { utf8Length } from './session-log.js';
import { saveRecord, type SessionState } from './session-state.js';
import type { AgentState } from './types.js';

/**
 * `input.state` of a session's turns. `set()` saves the record (in order with
 * the session's events and turn records) and resolves once the store has it
 * ("resolved = durable"), so a thread id an agent stored survives a restart.
 */
export function agentState(session: SessionState): AgentState {
  return {
    get: () => readAgentState(session),
    async set(value) {
      const json = agentStateJson(value);
      saveRecord(session, { ...session.record, agentState: JSON.parse(json) as Record<string, unknown> });
      await session.writer.flush();
    },
  };
}

/** A copy of the session's agent state (`{}` when never set). */
export function readAgentState(session: SessionState): Record<string, unknown> {
  const state = session.record.agentState;
  return state === undefined ? {} : (JSON.parse(JSON.stringify(state)) as Record<string, unknown>);
}

function agentStateJson(value: unknown): string {
  const expected = 'input.state.set: expected a JSON object';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`${expected}, got ${describeValue(value)}`);
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${expected}: ${error instanceof Error ? error.message : String(error)}`);
  }
  // Every store writes the record whole on each save: keep it to what a frame may carry.
  if (utf8Length(json) > limits.maxFrameBytes) throw new TypeError(`input.state.set: the state is over ${limits.maxFrameBytes} bytes as JSON`);
  return json;
}
