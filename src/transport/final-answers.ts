/** Server answers that end what they concern instead of being retried, keyed by error code (DESIGN §5). */
import { TetherError } from '../errors/index.js';

/**
 * What a final answer ends:
 * - `'session'`: the session is gone; every subscription and turn of it ends,
 *   whichever request found out (a stream, a command, a log read).
 * - `'stream'`: that one request is refused (a session's stream, or the one
 *   command that got it); the session's other uses and the connection carry on.
 * - `'client'`: the credentials are refused; a stream refused so ends every
 *   subscription and turn of the client (after one retry with a fresh token,
 *   when the token function returns a different one). A command refused so
 *   rejects that call only.
 * Nothing final is retried with the same credentials, so nothing loops.
 */
export type FinalScope = 'session' | 'stream' | 'client';

/** Error codes a server sends that retrying will not change, and what each one ends. */
export const FINAL_ANSWERS: Readonly<Record<string, FinalScope>> = {
  /** The session is unknown, expired or hidden: 404 on any route or stream, or a failed WebSocket reply. */
  session_not_found: 'session',
  /** An authenticated caller refused this action (403). */
  forbidden: 'stream',
  /** No valid credentials (401): a missing, expired or rejected token. */
  unauthorized: 'client',
};

/** What `error` ends when it is a final answer, else `undefined` (an ordinary, retryable failure). */
export function finalScope(error: unknown): FinalScope | undefined {
  return error instanceof TetherError && Object.hasOwn(FINAL_ANSWERS, error.code) ? FINAL_ANSWERS[error.code] : undefined;
}

/** Whether `code` is a final answer's code (a local `turn.error` carrying it is not retryable). */
export function isFinalCode(code: string): boolean {
  return Object.hasOwn(FINAL_ANSWERS, code);
}

/** The error code of a status whose reply named none (a proxy's 401 page): what the status means in the protocol. */
export function codeForStatus(status: number): string | undefined {
  return status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : undefined;
}
