/** The one mapping from anything a command throws to the protocol's error reply. */
import type { Logger } from '../../logging/logger.js';
import { ServerError } from '../core/server-error.js';
import type { CommandReply } from './command.js';

/**
 * `error` as a failed {@link CommandReply}: a `ServerError` by its own
 * `status`, `toInfo()` and `headers()`; anything else is a bug or a broken
 * dependency, so it is logged (with the error) and answered `500
 * internal_error` without its text, which may hold what clients must not see.
 */
export function errorReply(error: unknown, logger: Logger, what = 'request'): Extract<CommandReply, { ok: false }> {
  let serverError: ServerError;
  if (error instanceof ServerError) serverError = error;
  else {
    logger.error?.({ err: error }, `agent-tether: ${what} failed`);
    serverError = new ServerError('internal_error', `The server failed to handle the ${what}`, 500);
  }
  const info = serverError.toInfo();
  return { ok: false, status: serverError.status, json: JSON.stringify({ error: info }), error: info, headers: serverError.headers() };
}
