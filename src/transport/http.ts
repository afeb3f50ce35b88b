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
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** An `HttpError` from a non-2xx response, using the protocol's JSON error body when there is one. */
export async function httpErrorFrom(response: Response, what: string, details?: Record<string, unknown>): Promise<HttpError> {
  let code: string | undefined;
  let message = `${what}: HTTP ${response.status}`;
  let bodyDetails: unknown;
  try {
    const body: unknown = await response.json();
    if (problem(errorBody, body) === undefined) {
      const { error } = body as ErrorBody;
      code = error.code;
      message = `${what}: ${error.message} (HTTP ${response.status})`;
      bodyDetails = error.details;
    }
  } catch {
    // Not JSON (a proxy's HTML page, an aborted body): the status says enough.
  }
  return new HttpError(response.status, message, {
    code,
    details: details === undefined ? bodyDetails : { ...details, ...(bodyDetails === undefined ? {} : { server: bodyDetails }) },
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
