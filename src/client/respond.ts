/** Answering a turn's input requests from the client, and the requests of a turn still waiting for an answer. */
import { HttpError } from '../errors/index.js';
import { replyChecks } from '../protocol/checks.js';
import { routes } from '../protocol/constants.js';
import type { InputAnswer, RespondReply, SessionEvent, TurnInputRequestedEvent } from '../protocol/index.js';
import type { ClientContext } from './context.js';

/**
 * What `turn.respond()` resolves with. `already_answered`: another answer
 * (another client's, or the server's policy) won first; `turn_ended`: the turn
 * ended before anyone answered; `not_found`: the server knows no such request
 * of this turn (404).
 */
export type RespondResult = { accepted: true } | { accepted: false; reason: 'already_answered' | 'turn_ended' | 'not_found' };

/** Options of `turn.respond()`. */
export interface RespondOptions {
  /** Aborting rejects the call with `signal.reason` (an answer already sent may still win). */
  signal?: AbortSignal | undefined;
}

/**
 * Send an answer (over the WebSocket when open, else HTTP; resent after a
 * lost reply, which the server accepts again from the same client, F9).
 *
 * @throws {TypeError} for a `requestId` or `answer` of the wrong shape
 */
export async function respond(
  ctx: ClientContext,
  target: { sessionId: string; turnId: string },
  requestId: string,
  answer: InputAnswer,
  options: RespondOptions = {},
): Promise<RespondResult> {
  if (typeof requestId !== 'string' || requestId === '') throw new TypeError('respond: `requestId` must be a non-empty string');
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer) || (answer.option === undefined && answer.text === undefined && answer.data === undefined)) {
    throw new TypeError('respond: `answer` must be an object with `option`, `text` or `data`');
  }
  const { sessionId, turnId } = target;
  try {
    return await ctx.command<RespondReply>('respond', {
      frame: { type: 'respond', sessionId, turnId, requestId, answer },
      http: (signal) =>
        ctx.http.request('POST', routes.respond(sessionId, turnId), {
          body: { requestId, answer, clientId: ctx.options.clientId },
          signal,
          check: replyChecks.respond,
        }),
      signal: options.signal,
    });
  } catch (error) {
    // An unknown turn or request is an answer, not a failure; a gone session (`session_not_found`) is final and rethrown.
    if (error instanceof HttpError && error.status === 404 && error.code === 'not_found') return { accepted: false, reason: 'not_found' };
    throw error;
  }
}

/** A turn's input requests that have no answer yet, in the order they were asked. */
export class PendingInputs {
  readonly #pending = new Map<string, TurnInputRequestedEvent>();

  /** The requests waiting for an answer. */
  list(): TurnInputRequestedEvent[] {
    return [...this.#pending.values()];
  }

  /** Follow one of the turn's events. */
  onEvent(event: SessionEvent): void {
    if (event.type === 'turn.input_requested') {
      const requested = event as TurnInputRequestedEvent;
      this.#pending.set(requested.requestId, requested);
    } else if (event.type === 'turn.input_answered') {
      this.#pending.delete((event as { requestId: string }).requestId);
    }
  }

  /** The turn ended: its terminal settles every request. */
  clear(): void {
    this.#pending.clear();
  }
}
