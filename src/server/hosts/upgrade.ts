/** The WebSocket upgrade: checked before the socket opens, refused with the protocol's JSON error like any HTTP reply. */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocketServer } from 'ws';
import type { CommandReply } from '../commands/command.js';
import { matchRoute } from '../commands/routes.js';
import { ServerError } from '../core/server-error.js';
import type { HostContext } from './context.js';
import { requestUrl } from './request-url.js';
import { limitKey } from '../limits/client-key.js';
import { serveWebSocket } from './websocket.js';
import { flatHeaders } from './request-headers.js';
import type { Caller } from '../security/principal.js';

/**
 * Accept an upgrade on `/v1/ws` into the WebSocket host, or refuse it with an
 * HTTP answer before it opens: a page of a not allowed origin is `403
 * origin_not_allowed`, missing credentials `401 unauthorized` (the token
 * comes from the `agent-tether.bearer.<base64url>` subprotocol or
 * `Authorization`), another path `404 not_found`, a closing server `503
 * shutting_down` with `Retry-After`. Every command of the socket then runs
 * as the principal the upgrade authenticated.
 */
export async function handleUpgrade(ctx: HostContext, wss: WebSocketServer, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  socket.on('error', () => {});
  const path = requestUrl(req.url).pathname;
  const started = ctx.options.clock.now();
  let caller: Caller;
  try {
    // A browser sends Origin on every WebSocket and no CORS protects it: this is the check.
    ctx.origins.check(req.headers.origin, req.headers.host);
    caller = await ctx.dispatcher.authenticate({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: flatHeaders(req.headers),
      remoteAddress: req.socket.remoteAddress,
    });
    if (matchRoute(path)?.name !== 'websocket') throw new ServerError('not_found', `No WebSocket at ${path}`, 404);
    if (ctx.isClosing()) throw new ServerError('shutting_down', 'The server is shutting down', 503);
    // One of the client's connections until the socket closes, whatever becomes of the handshake (429 when over).
    socket.once('close', ctx.limits.openConnection(limitKey(caller, req.socket.remoteAddress)));
  } catch (error) {
    const reply = ctx.dispatcher.fail(error);
    // A refused upgrade is a request like any other: one line, as handleRequest writes.
    ctx.options.logger.info?.({ method: req.method ?? 'GET', path, status: reply.status, ms: ctx.options.clock.now() - started }, 'agent-tether: request');
    return refuseUpgrade(socket, reply);
  }
  // The socket may have gone while authenticate ran.
  if (socket.destroyed) return;
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (ctx.isClosing()) {
      ws.close(1001, 'server shutting down');
      return;
    }
    serveWebSocket(ctx, ws, req, caller);
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
