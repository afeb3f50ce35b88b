import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  API_PREFIX,
  CancelRequest,
  CreateSessionRequest,
  PromptRequest,
} from '../../protocol/index.js';
import { ServerError } from '../core/server-error.js';
import { readJsonBody } from './body.js';
import type { HostContext } from './context.js';
import { parseBody, parseCursor } from '../core/request-input.js';
import { clientIdOf, sendError, sendJson, sendJsonText } from './respond.js';
import { serveSse } from './sse.js';
import { requestUrl } from './request-url.js';

type Route =
  | { name: 'sessions' }
  | { name: 'session'; sessionId: string }
  | { name: 'turns'; sessionId: string }
  | { name: 'turn'; sessionId: string; turnId: string }
  | { name: 'cancel'; sessionId: string; turnId: string }
  | { name: 'events'; sessionId: string }
  | { name: 'poll'; sessionId: string }
  | { name: 'websocket' };

const ALLOWED: Record<Route['name'], string> = {
  sessions: 'POST',
  session: 'GET',
  turns: 'POST',
  turn: 'GET',
  cancel: 'POST',
  events: 'GET',
  poll: 'GET',
  websocket: 'GET',
};

/** Match a path against the protocol's routes. */
export function matchRoute(pathname: string): Route | undefined {
  if (!pathname.startsWith(`${API_PREFIX}/`)) return undefined;
  let parts: string[];
  try {
    parts = pathname.slice(API_PREFIX.length + 1).split('/').map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
  if (parts.some((part) => part.length === 0)) return undefined;
  const [a, sid, c, tid, e] = parts;
  if (parts.length === 1 && a === 'ws') return { name: 'websocket' };
  if (a !== 'sessions') return undefined;
  if (parts.length === 1) return { name: 'sessions' };
  if (sid === undefined) return undefined;
  if (parts.length === 2) return { name: 'session', sessionId: sid };
  if (parts.length === 3 && c === 'turns') return { name: 'turns', sessionId: sid };
  if (parts.length === 3 && c === 'events') return { name: 'events', sessionId: sid };
  if (parts.length === 3 && c === 'poll') return { name: 'poll', sessionId: sid };
  if (c !== 'turns' || tid === undefined) return undefined;
  if (parts.length === 4) return { name: 'turn', sessionId: sid, turnId: tid };
  if (parts.length === 5 && e === 'cancel') return { name: 'cancel', sessionId: sid, turnId: tid };
  return undefined;
}

/**
 * Serve one HTTP request. Every failure becomes a JSON error reply; nothing
 * here may reject into the void.
 */
export async function handleRequest(ctx: HostContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const cors = ctx.options.cors;
  try {
    const url = requestUrl(req.url);
    const method = req.method ?? 'GET';
    if (cors && method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, Idempotency-Key, X-Tether-Client, Last-Event-ID',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    const route = matchRoute(url.pathname);
    if (!route) throw new ServerError('not_found', `No route for ${url.pathname}`, 404);
    if (method !== ALLOWED[route.name]) {
      throw new ServerError('method_not_allowed', `${method} is not allowed on ${url.pathname}`, 405);
    }
    await dispatch(ctx, route, req, res, url);
  } catch (error) {
    if (error instanceof ServerError) {
      const extra = error.headers();
      // The body was not read to its end: do not reuse the connection.
      if (error.status === 413) extra.Connection = 'close';
      sendError(res, error, cors, extra);
    } else {
      ctx.options.logger.error?.({ err: error }, 'agent-tether: request failed');
      sendError(res, new ServerError('internal_error', 'The server failed to handle the request', 500), cors);
    }
  }
}

async function dispatch(ctx: HostContext, route: Route, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { core, options } = ctx;
  switch (route.name) {
    case 'sessions': {
      const body = parseBody(CreateSessionRequest, await readJsonBody(req, options.maxFrameBytes));
      const session = core.createSession(body.metadata === undefined ? {} : { metadata: body.metadata });
      sendJson(res, 201, { session }, {}, options.cors);
      return;
    }
    case 'session': {
      const snapshot = core.snapshot(route.sessionId);
      if (!snapshot) throw new ServerError('session_not_found', `Unknown session: ${route.sessionId}`, 404);
      sendJson(res, 200, snapshot, {}, options.cors);
      return;
    }
    case 'turns': {
      const body = parseBody(PromptRequest, (await readJsonBody(req, options.maxFrameBytes)) ?? {});
      const keyHeader = req.headers['idempotency-key'];
      const idempotencyKey = typeof keyHeader === 'string' ? keyHeader : undefined;
      if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 256)) {
        throw new ServerError('invalid_body', 'Idempotency-Key must be 1 to 256 characters', 400);
      }
      const clientId = clientIdOf(req, url, body.clientId);
      const result = core.prompt(route.sessionId, {
        prompt: body.prompt,
        ...(clientId === undefined ? {} : { clientId }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      });
      // Acknowledge only once the turn.queued event is in the store (a crash after a 201 keeps the turn).
      if (result.created) await core.durable(route.sessionId, result.turn.queuedSeq);
      sendJson(res, result.created ? 201 : 200, { turn: result.turn }, {}, options.cors);
      return;
    }
    case 'turn': {
      const turn = core.getTurn(route.sessionId, route.turnId);
      if (!turn) throw new ServerError('not_found', `Unknown turn: ${route.turnId}`, 404);
      sendJson(res, 200, { turn }, {}, options.cors);
      return;
    }
    case 'cancel': {
      const body = parseBody(CancelRequest, await readJsonBody(req, options.maxFrameBytes));
      const clientId = clientIdOf(req, url, body.clientId);
      const result = core.cancel(route.sessionId, route.turnId, {
        ...(clientId === undefined ? {} : { clientId }),
        ...(body.reason === undefined ? {} : { reason: body.reason }),
      });
      if (!result) throw new ServerError('not_found', `Unknown turn: ${route.turnId}`, 404);
      sendJson(res, 200, result, {}, options.cors);
      return;
    }
    case 'events':
      serveSse(ctx, req, res, route.sessionId, url);
      return;
    case 'poll': {
      const after = parseCursor('after', url.searchParams.get('after')) ?? 0;
      const waitMs = parseCursor('wait', url.searchParams.get('wait')) ?? 0;
      const epoch = url.searchParams.get('epoch') || undefined;
      const controller = new AbortController();
      res.on('close', () => controller.abort());
      const polled = core.pollEntries(route.sessionId, {
        after,
        waitMs,
        maxEvents: options.maxPollEvents,
        signal: controller.signal,
        ...(epoch === undefined ? {} : { epoch }),
      });
      const tracked = polled.then(
        () => undefined,
        () => undefined,
      );
      ctx.polls.add(tracked);
      try {
        const reply = await polled;
        // Events go out as the log stored them: no second JSON.stringify per event.
        const events = reply.entries.map((entry) => entry.json).join(',');
        const reset = reply.reset ? `,"reset":${JSON.stringify(reply.reset)}` : '';
        sendJsonText(res, 200, `{"epoch":${JSON.stringify(reply.epoch)},"events":[${events}]${reset},"next":${reply.next}}`, {}, options.cors);
      } finally {
        ctx.polls.delete(tracked);
      }
      return;
    }
    case 'websocket':
      throw new ServerError('upgrade_required', 'This route needs a WebSocket upgrade', 426);
  }
}

