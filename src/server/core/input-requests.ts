/** A turn's input requests: asked by its agent, answered once (the first answer wins), settled when the turn ends. */
import { InputAnswer, InputRequest, type InputSource, type RespondReply } from '../../protocol/index.js';
import { describeValue } from '../../internal/describe-value.js';
import { ServerError } from './server-error.js';
import { appendEvent, type SessionState } from './session-state.js';
import type { TurnState } from './turn-state.js';
import type { InputResolution } from './types.js';

/** One input request of a turn, as the core tracks it. */
export interface InputEntry {
  request: InputRequest;
  /** The winning answer, once there is one (it is in the log from then on). */
  answered: { answer: InputAnswer; answeredBy: string; source: InputSource } | undefined;
  /** Hands the waiting agent its resolution; `undefined` once settled, and for requests replayed from a stored log. */
  settle: ((resolution: InputResolution) => void) | undefined;
}

/**
 * Ask the turn's clients: append `turn.input_requested` and return the
 * request's id and the promise the agent waits on. A turn that already ended
 * resolves `unanswered` at once and appends nothing (F4: nothing after a terminal).
 *
 * @throws {TypeError} for a request that is not an {@link InputRequest}
 */
export function askInput(
  session: SessionState,
  turn: TurnState,
  request: unknown,
  now: number,
  newId: () => string,
): { requestId: string | undefined; resolution: Promise<InputResolution> } {
  const parsed = InputRequest.safeParse(request);
  if (!parsed.success) {
    throw new TypeError(
      `requestInput: expected { kind: string, prompt: string, options?: { id, label }[], details?: object }, got ${describeValue(request).slice(0, 200)}`,
    );
  }
  if (turn.terminal) return { requestId: undefined, resolution: Promise.resolve(TURN_ENDED) };
  const requestId = newId();
  const resolution = new Promise<InputResolution>((resolve) => {
    turn.inputs.set(requestId, { request: parsed.data, answered: undefined, settle: resolve });
  });
  appendEvent(session, { type: 'turn.input_requested', turnId: turn.id, requestId, request: parsed.data }, now);
  return { requestId, resolution };
}

/**
 * Record an answer: the first one for a pending request wins and is appended
 * as `turn.input_answered`; the agent gets it from {@link deliverAnswer} once
 * it is stored. A repeat of the winning answer by the same named caller is
 * accepted again (a resend after a lost reply, F9). `undefined`: unknown request.
 *
 * @throws {ServerError} `invalid_answer` (400) for an answer the request does not accept
 */
export function answerInput(
  session: SessionState,
  turn: TurnState,
  requestId: string,
  answer: InputAnswer,
  answeredBy: string | undefined,
  source: InputSource,
  now: number,
): RespondReply | undefined {
  const entry = turn.inputs.get(requestId);
  if (!entry) return undefined;
  if (entry.answered) {
    const repeat = answeredBy !== undefined && entry.answered.answeredBy === answeredBy && sameJson(entry.answered.answer, answer);
    return repeat ? { accepted: true } : { accepted: false, reason: 'already_answered' };
  }
  if (turn.terminal) return { accepted: false, reason: 'turn_ended' };
  const parsed = InputAnswer.safeParse(answer);
  if (!parsed.success) throw new ServerError('invalid_answer', 'An answer needs `option`, `text` or `data`', 400, { details: parsed.error.issues });
  const options = entry.request.options;
  if (options && options.length > 0 && parsed.data.option !== undefined && !options.some((option) => option.id === parsed.data.option)) {
    throw new ServerError('invalid_answer', `\`option\` must be one of: ${options.map((option) => option.id).join(', ')}`, 400);
  }
  const by = answeredBy ?? 'anonymous';
  entry.answered = { answer: parsed.data, answeredBy: by, source };
  appendEvent(session, { type: 'turn.input_answered', turnId: turn.id, requestId, answer: parsed.data, answeredBy: by, source }, now);
  return { accepted: true };
}

/** Hand the recorded answer to the waiting agent (call once it is stored). */
export function deliverAnswer(turn: TurnState, requestId: string): void {
  const entry = turn.inputs.get(requestId);
  if (!entry?.answered || !entry.settle || turn.terminal) return;
  const settle = entry.settle;
  entry.settle = undefined;
  settle({ status: 'answered', ...entry.answered });
}

/** The turn ended: every request still waiting resolves `unanswered` (a cancel settles them at once). */
export function endInputs(turn: TurnState): void {
  for (const entry of turn.inputs.values()) {
    const settle = entry.settle;
    if (!settle) continue;
    entry.settle = undefined;
    settle(TURN_ENDED);
  }
}

/** Rebuild a restored turn's requests from its stored events, so late answers get the right reason. */
export function replayInput(turn: TurnState, event: { type: string } & Record<string, unknown>): void {
  if (event.type === 'turn.input_requested') {
    turn.inputs.set(event.requestId as string, { request: event.request as InputRequest, answered: undefined, settle: undefined });
  } else if (event.type === 'turn.input_answered') {
    const entry = turn.inputs.get(event.requestId as string);
    if (entry && !entry.answered) {
      entry.answered = { answer: event.answer as InputAnswer, answeredBy: event.answeredBy as string, source: event.source as InputSource };
    }
  }
}

const TURN_ENDED: InputResolution = { status: 'unanswered', reason: 'turn_ended' };

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
