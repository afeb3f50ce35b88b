/** Writing a command's reply (or any JSON) to a Node response, with the request's CORS headers. */
import type { ServerResponse } from 'node:http';
import type { CommandReply } from '../commands/command.js';

/** Send a reply whose body is already JSON text; `cors`: the request's CORS headers (see `OriginPolicy.corsHeaders`). */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  json: string,
  extraHeaders: Record<string, string> = {},
  cors: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
    ...cors,
    ...extraHeaders,
  });
  res.end(json);
}

/** Send a {@link CommandReply}: its status, its JSON, and a failure's headers (`Retry-After`). */
export function sendReply(res: ServerResponse, reply: CommandReply, cors: Readonly<Record<string, string>>): void {
  const headers = reply.ok ? {} : { ...reply.headers };
  // The body was not read to its end: do not reuse the connection.
  if (reply.status === 413) headers.Connection = 'close';
  sendJsonText(res, reply.status, reply.json, headers, cors);
}
