/** Redaction: what a turn's error tells clients (a stable code, a safe message, an error id) and what only the server log gets. */
import type { TurnErrorInfo } from '../../protocol/index.js';
import type { Logger } from '../../logging/logger.js';
import { randomId } from '../../internal/random-id.js';
import { isSafeAgentError } from './safe-agent-error.js';

/** The message clients get for an agent error not marked safe. */
export const REDACTED_AGENT_MESSAGE = 'The agent failed; the server log has the details under this error id';

/**
 * The `turn.error` payload for what an agent threw: a {@link SafeAgentError}'s
 * code and message as they are, anything else `agent_error` with
 * {@link REDACTED_AGENT_MESSAGE}. Either way the error, its text and stack
 * are logged at `error` with an `errorId` that the event carries too, so an
 * operator can find what a user reports.
 */
export function redactAgentError(error: unknown, logger: Logger, where: { sessionId: string; turnId: string }): TurnErrorInfo {
  const errorId = randomId();
  logger.error?.({ err: error, errorId, ...where }, 'agent-tether: agent failed');
  if (isSafeAgentError(error)) return { code: error.code, message: error.message, retryable: error.retryable, errorId };
  return { code: 'agent_error', message: REDACTED_AGENT_MESSAGE, retryable: false, errorId };
}
