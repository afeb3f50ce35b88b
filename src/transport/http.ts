import { HttpError } from '../errors/index.js';
import { errorBody, problem } from '../protocol/checks.js';
import { headers as protocolHeaders } from '../protocol/constants.js';
import type { ErrorBody } from '../protocol/index.js';

/**
 * The URL of `path` under `baseUrl`. A path prefix on `baseUrl`
 * (`https://host/agents/`) is kept, and so are its query parameters: that is
 * the one way to carry credentials on a browser WebSocket handshake, which
 * cannot have headers.
 */
export function endpoint(
  baseUrl: URL,
  path: string,
  query: Record<string, string | number | undefined>,
): URL {
  const url = new URL(baseUrl.href);
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  url.hash = '';
  for (const key in query) {
    const value = query[key];
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  return url;
}

/** `Retry-After` (delta-seconds or an HTTP date) in ms from `now`, or `undefined`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  const trimmed = value?.trim() ?? '';
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed); // NaN for '' (no header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * An `HttpError` from a non-2xx response, using the protocol's JSON error
 * body when there is one. With `details`, the body's details go under
 * `details.server`.
 */
export async function httpErrorFrom(response: Response, what: string, details?: Record<string, unknown>): Promise<HttpError> {
  const { status } = response;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's HTML page, an aborted body): the status says enough.
  }
  const error = problem(errorBody, body) === undefined ? (body as ErrorBody).error : undefined;
  return new HttpError(status, `${what}: ${error ? `${error.message} (HTTP ${status})` : `HTTP ${status}`}`, {
    code: error?.code,
    details: details ? { ...details, ...(error?.details !== undefined && { server: error.details }) } : error?.details,
  });
}

/** Headers every HTTP event request carries. */
export function requestHeaders(
  base: Record<string, string>,
  clientId: string,
  accept: string,
): Record<string, string> {
  return { ...base, Accept: accept, [protocolHeaders.clientId]: clientId };
}
