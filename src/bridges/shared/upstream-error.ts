/** upstreamError: how a bridge ends a turn that failed upstream — a stable code and a message safe for every client. */
import { isSafeAgentError, SafeAgentError } from '../../server.js';

/**
 * The codes a bridge ends a turn with (`turn.error.error.code`):
 * - `upstream_failed`: the upstream ran the turn and it failed (e.g. the model answered an error);
 * - `upstream_interrupted`: the upstream stopped the turn without a cancel from agent-tether;
 * - `upstream_unavailable`: the upstream could not be reached (again) in time (retryable);
 * - `upstream_retry_timeout`: the upstream kept retrying the model past the bridge's bound (retryable);
 * - `upstream_rejected`: the upstream never took the prompt (retryable).
 */
export type UpstreamErrorCode = 'upstream_failed' | 'upstream_interrupted' | 'upstream_unavailable' | 'upstream_retry_timeout' | 'upstream_rejected';

const RETRYABLE: ReadonlySet<UpstreamErrorCode> = new Set(['upstream_unavailable', 'upstream_retry_timeout', 'upstream_rejected']);

/**
 * A {@link SafeAgentError}: clients see `message` (the bridge's own words) and
 * `code`; the upstream's text (`detail`, which may hold paths, keys or prompts)
 * goes only to the server log, as the error's cause, under the error id.
 */
export function upstreamError(code: UpstreamErrorCode, message: string, detail?: unknown): SafeAgentError {
  const cause = typeof detail === 'string' ? new Error(detail) : detail;
  return new SafeAgentError(message, { code, retryable: RETRYABLE.has(code), ...(cause === undefined ? {} : { cause }) });
}

/** Anything a bridge's turn threw, as a safe upstream error (`upstream_unavailable` unless it already is one). */
export function asUpstreamError(upstream: string, error: unknown): SafeAgentError {
  return isSafeAgentError(error) ? error : upstreamError('upstream_unavailable', `${upstream} could not be reached`, error);
}
