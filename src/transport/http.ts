import { HttpError, ProtocolError } from '../errors/index.js';
import { errorBody, problem } from '../protocol/checks.js';
import { headers as protocolHeaders } from '../protocol/constants.js';
import type { ErrorBody } from '../protocol/index.js';
import { codeForStatus } from './final-answers.js';

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

/** Largest error body read from a non-2xx reply: enough for the protocol's JSON error, never a hostile server's gigabytes. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * A response body as text, read in chunks and refused past `maxBytes` (a
 * declared `content-length` over it is refused before reading): a hostile or
 * broken server gets a `ProtocolError` (`reply_too_large`), never the
 * client's memory (F6). Network failures while reading reject as they are.
 */
export async function readText(response: Response, maxBytes: number, what: string): Promise<string> {
  const tooLarge = () => new ProtocolError(`${what} is over ${maxBytes} bytes`, { code: 'reply_too_large' });
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    cancelBody(response);
    throw tooLarge();
  }
  const body = response.body;
  if (!body) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join('');
}

/** Drops a body we will not read (frees the connection even when `fetch` ignores the abort). */
export function cancelBody(response: Response): void {
  response.body?.cancel().catch(() => {});
}

/**
 * An `HttpError` from a non-2xx response, using the protocol's JSON error
 * body when there is one (read up to `MAX_ERROR_BODY_BYTES`). With
 * `details`, the body's details go under `details.server`.
 */
export async function httpErrorFrom(response: Response, what: string, details?: Record<string, unknown>): Promise<HttpError> {
  const { status } = response;
  let body: unknown;
  try {
    body = JSON.parse(await readText(response, MAX_ERROR_BODY_BYTES, 'error body'));
  } catch {
    // Not JSON (a proxy's HTML page, an aborted body), or too large: the status says enough.
    cancelBody(response);
  }
  const error = problem(errorBody, body) === undefined ? (body as ErrorBody).error : undefined;
  return new HttpError(status, `${what}: ${error ? `${error.message} (HTTP ${status})` : `HTTP ${status}`}`, {
    // A proxy's bare 401/403 still means what the protocol's would.
    code: error?.code ?? codeForStatus(status),
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
