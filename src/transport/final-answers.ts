/** Server answers that end what they concern instead of being retried, keyed by error code (DESIGN §5). */
import { TetherError } from '../errors/index.js';

/**
 * What a final answer ends: `'session'` ends that session's subscriptions and
 * turns with the error; the connection and every other session carry on.
 * (`unauthorized` / `forbidden` will join this table with their scope.)
 */
export type FinalScope = 'session';

/** Error codes a server sends that retrying will not change, and what each one ends. */
export const FINAL_ANSWERS: Readonly<Record<string, FinalScope>> = {
  /** The session is unknown, expired or hidden: 404 on any route or stream, or a failed WebSocket reply. */
  session_not_found: 'session',
};

/** What `error` ends when it is a final answer, else `undefined` (an ordinary, retryable failure). */
export function finalScope(error: unknown): FinalScope | undefined {
  return error instanceof TetherError && Object.hasOwn(FINAL_ANSWERS, error.code) ? FINAL_ANSWERS[error.code] : undefined;
}

/** Whether `code` is a final answer's code (a local `turn.error` carrying it is not retryable). */
export function isFinalCode(code: string): boolean {
  return Object.hasOwn(FINAL_ANSWERS, code);
}
