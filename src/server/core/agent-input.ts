/** What one turn's agent is called with: prompt and signal, the session's agent state and history, and a way to ask clients. */
import type { Logger } from '../../logging/logger.js';
import { InputAnswer } from '../../protocol/index.js';
import { agentState, readAgentState } from './agent-state.js';
import { answerInput, askInput, deliverAnswer } from './input-requests.js';
import type { SessionState } from './session-state.js';
import type { TurnState } from './turn-state.js';
import type { AgentInput, InputPolicy, PastTurn } from './types.js';

/** What {@link agentInput} needs from the core. */
export interface AgentInputDeps {
  now(): number;
  newId(): string;
  logger: Logger;
  /** Answers requests without a client; `undefined` leaves every request to the clients. */
  inputPolicy: InputPolicy | undefined;
}

/** The {@link AgentInput} of `turn`, whose agent runs with `signal`. */
export function agentInput(session: SessionState, turn: TurnState, signal: AbortSignal, deps: AgentInputDeps): AgentInput {
  return {
    prompt: turn.prompt,
    signal,
    sessionId: session.id,
    turnId: turn.id,
    clientId: turn.clientId,
    state: agentState(session),
    history: historyBefore(session, turn),
    requestInput(request) {
      const { requestId, resolution } = askInput(session, turn, request, deps.now(), deps.newId);
      if (requestId !== undefined && deps.inputPolicy) void applyPolicy(session, turn, requestId, deps);
      return resolution;
    },
  };
}

/** The session's turns queued before `turn` that have ended, oldest first. */
export function historyBefore(session: SessionState, turn: TurnState): PastTurn[] {
  const past: PastTurn[] = [];
  for (const other of session.turns.values()) {
    const terminal = other.terminal;
    if (other === turn || !terminal || other.queuedSeq > turn.queuedSeq) continue;
    past.push({
      turnId: other.id,
      prompt: other.prompt,
      status: terminal.type === 'turn.completed' ? 'completed' : terminal.type === 'turn.canceled' ? 'canceled' : 'error',
      output: terminal.type === 'turn.completed' ? terminal.output : undefined,
      terminal,
    });
  }
  return past.sort((a, b) => turnOrder(session, a.turnId) - turnOrder(session, b.turnId));
}

function turnOrder(session: SessionState, turnId: string): number {
  return session.turns.get(turnId)!.queuedSeq;
}

/**
 * Ask the server's policy; an answer it gives wins like a client's (it is
 * recorded with `answeredBy: 'policy'`) unless a client answered first. A
 * failing policy is logged and leaves the request to the clients.
 */
async function applyPolicy(session: SessionState, turn: TurnState, requestId: string, deps: AgentInputDeps): Promise<void> {
  const entry = turn.inputs.get(requestId)!;
  let accepted = false;
  try {
    const answer = await deps.inputPolicy!({ sessionId: session.id, turnId: turn.id, requestId, request: entry.request, agentState: readAgentState(session) });
    if (answer === undefined) return;
    if (!InputAnswer.safeParse(answer).success) throw new TypeError('inputPolicy returned an answer without `option`, `text` or `data`');
    accepted = answerInput(session, turn, requestId, answer, 'policy', 'policy', deps.now())?.accepted === true;
  } catch (error) {
    deps.logger.warn?.({ err: error, sessionId: session.id, turnId: turn.id, requestId }, 'agent-tether: inputPolicy failed; the request stays with the clients');
    return;
  }
  if (!accepted) return;
  // A store failure ends the turn, which settles the request: nothing to do here then.
  await session.writer.flush().then(
    () => deliverAnswer(turn, requestId),
    () => {},
  );
}
