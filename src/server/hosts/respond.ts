import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorBody } from '../../protocol/index.js';
import { ServerError } from '../core/server-error.js';

/** Headers added to every reply when CORS is on. */
export const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Retry-After',
} as const;

/** Send a JSON reply. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
  cors = true,
): void {
  sendJsonText(res, status, JSON.stringify(body), extraHeaders, cors);
}

/** Send a reply whose body is already JSON text. */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  json: string,
  extraHeaders: Record<string, string> = {},
  cors = true,
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
    ...(cors ? CORS_HEADERS : {}),
    ...extraHeaders,
  });
  res.end(json);
}

/** Send `{error:{code,message,status}}`. */
export function sendError(res: ServerResponse, error: ServerError, cors = true, extraHeaders: Record<string, string> = {}): void {
  const body: ErrorBody = { error: error.toInfo() };
  sendJson(res, error.status, body, extraHeaders, cors);
}

/** The caller's id: body `clientId`, else the `X-Tether-Client` header, else the `clientId` query parameter. */
export function clientIdOf(req: IncomingMessage, url: URL, bodyClientId?: string): string | undefined {
  if (bodyClientId !== undefined) return bodyClientId;
  const header = req.headers['x-tether-client'];
  if (typeof header === 'string' && header.length > 0) return header;
  return url.searchParams.get('clientId') ?? undefined;
}

/** Parse a cursor number (`after`, `Last-Event-ID`): a non-negative safe integer. */
