/** The WebSocket upgrade: checked before the socket opens, refused with the protocol's JSON error like any HTTP reply. */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocketServer } from 'ws';
import type { CommandReply } from '../commands/command.js';
import { matchRoute } from '../commands/routes.js';
import { ServerError } from '../core/server-error.js';
import type { HostContext } from './context.js';
import { requestUrl } from './request-url.js';
import { clientKey } from '../limits/client-key.js';
import { serveWebSocket } from './websocket.js';

/**
 * Accept an upgrade on `/v1/ws` into the WebSocket host, or refuse it before
 * it opens: another path is `404 not_found`, a closing server `503
 * shutting_down` with `Retry-After`. (Authentication of the upgrade belongs
 * here too: a refusal must come before the socket opens.)
 */
export function handleUpgrade(ctx: HostContext, wss: WebSocketServer, req: IncomingMessage, socket: Socket, head: Buffer): void {
  socket.on('error', () => {});
  const path = requestUrl(req.url).pathname;
  try {
    if (matchRoute(path)?.name !== 'websocket') throw new ServerError('not_found', `No WebSocket at ${path}`, 404);
    if (ctx.isClosing()) throw new ServerError('shutting_down', 'The server is shutting down', 503);
    // One of the client's connections until the socket closes, whatever becomes of the handshake (429 when over).
    socket.once('close', ctx.limits.openConnection(clientKey(req)));
  } catch (error) {
    const reply = ctx.dispatcher.fail(error);
    // A refused upgrade is a request like any other: one line, as handleRequest writes.
    ctx.options.logger.info?.({ method: req.method ?? 'GET', path, status: reply.status, ms: 0 }, 'agent-tether: request');
    return refuseUpgrade(socket, reply);
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (ctx.isClosing()) {
      ws.close(1001, 'server shutting down');
      return;
    }
    serveWebSocket(ctx, ws, req);
  });
}

/** Answers the upgrade request with `reply` (an error) over the raw socket, then closes it. */
function refuseUpgrade(socket: Socket, reply: CommandReply): void {
  const headers = reply.ok ? {} : reply.headers;
  const lines = [
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(reply.json)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${reply.json}`);
}
