/** SafeAgentError: what an agent throws when its error's text may be shown to every client of the session. */

const SAFE = Symbol.for('agent-tether.safe-agent-error');

/** Options of {@link SafeAgentError}. */
export interface SafeAgentErrorOptions {
  /** A stable code for clients to branch on (`[a-z][a-z0-9_]*`, up to 64 characters). @default 'agent_error' */
  code?: string;
  /** Whether prompting again may succeed. @default false */
  retryable?: boolean;
  /** The underlying error; it goes to the server log only. */
  cause?: unknown;
}

/**
 * An agent error whose `message` (and `code`) clients may see. Anything else
 * an agent throws reaches clients as `agent_error` with a generic message;
 * its text and stack go to the server log only, under an `errorId` both
 * sides see — an exception's text often holds what must not leave the
 * server (`DB password=hunter2 failed`).
 *
 * @example
 * throw new SafeAgentError('The model is overloaded; try again shortly', { code: 'model_overloaded', retryable: true, cause: error });
 */
export class SafeAgentError extends Error {
  override name = 'SafeAgentError';
  readonly code: string;
  readonly retryable: boolean;
  readonly [SAFE] = true;

  constructor(message: string, options: SafeAgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const code = options.code ?? 'agent_error';
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(code)) throw new TypeError(`SafeAgentError: \`code\` must match [a-z][a-z0-9_]{0,63}, got ${JSON.stringify(code)}`);
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Whether `error` is a {@link SafeAgentError}, also one from another copy of this package (ESM and CJS side by side). */
export function isSafeAgentError(error: unknown): error is SafeAgentError {
  return typeof error === 'object' && error !== null && (error as { [SAFE]?: unknown })[SAFE] === true;
}
