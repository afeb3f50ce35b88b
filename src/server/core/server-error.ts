import { headers, type ErrorInfo } from '../../protocol/index.js';

/**
 * A request the server refuses, with the protocol's error `code` and the
 * HTTP `status` it maps to. Hosts turn it into `{error:{code,message,status}}`
 * (HTTP) or a failed WebSocket `reply`.
 *
 * @example
 * throw new ServerError('not_found', 'Unknown session', 404);
 */
export class ServerError extends Error {
  override name = 'ServerError';
  readonly code: string;
  readonly status: number;
  readonly details: unknown;

  constructor(code: string, message: string, status: number, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.details = options.details;
  }

  /** HTTP headers that go with this error: a retry hint while the server shuts down or its store is failing. */
  headers(): Record<string, string> {
    if (this.code === 'shutting_down') return { [headers.retryAfter]: '1' };
    // Store writes are retried with backoff up to 5 s; a client retrying sooner would mostly fail again.
    if (this.code === 'store_unavailable') return { [headers.retryAfter]: '2' };
    if (this.code === 'unauthorized') return { 'WWW-Authenticate': 'Bearer' };
    return {};
  }

  /** The wire shape of this error. */
  toInfo(): ErrorInfo {
    return this.details === undefined
      ? { code: this.code, message: this.message, status: this.status }
      : { code: this.code, message: this.message, status: this.status, details: this.details };
  }
}

/** The one answer for an unknown, expired or hidden session: the same text whichever it is (no existence oracle). */
export function sessionNotFound(sessionId: string): ServerError {
  return new ServerError('session_not_found', `Unknown session: ${sessionId}`, 404);
}
