/** An HTTP request (Node's or a fetch `Request` in msw) decoded into a {@link Command}, run, and answered. */
import { CancelRequest, CreateSessionRequest, PromptRequest, RespondRequest } from '../../protocol/index.js';
import type { EventCursor } from '../core/event-cursor.js';
import { parseBody, parseCursor } from '../core/request-input.js';
import { ServerError } from '../core/server-error.js';
import type { Command, CommandReply } from './command.js';
import type { Dispatcher } from './dispatcher.js';
import { routeFor, type Route } from './routes.js';
import type { Caller } from '../security/principal.js';

/** What decoding needs from a request, whichever host received it. */
export interface HttpCommandRequest {
  readonly url: URL;
  /** A header's value (name in lower case), `undefined` when absent. */
  header(name: string): string | undefined;
  /** Every header by lower-case name: what `authenticate` sees. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The socket's peer address, when the host has one. */
  readonly remoteAddress?: string | undefined;
  /** The body as JSON, `undefined` when empty; throws the host's 400/413/415 `ServerError`. */
  json(): Promise<unknown>;
  /** Aborted when the request goes away (ends a long-poll's wait). */
  readonly signal?: AbortSignal;
}

/**
 * The caller's label: the `X-Tether-Client` header, else body `clientId`,
 * else the `clientId` query parameter. The header wins so that a proxy that
 * sets it cannot be overridden from the body or the URL; with
 * authentication the principal wins over all three (see the dispatcher).
 */
export function clientIdOf(request: HttpCommandRequest, bodyClientId?: string): string | undefined {
  const header = request.header('x-tether-client');
  if (header !== undefined && header.length > 0) return header;
  if (bodyClientId !== undefined) return bodyClientId;
  return request.url.searchParams.get('clientId') ?? undefined;
}

/** The SSE stream's starting point: `Last-Event-ID` wins over `?after=`. */
export function subscribeCommand(sessionId: string, request: HttpCommandRequest): Extract<Command, { type: 'subscribe' }> {
  const after =
    parseCursor('Last-Event-ID', request.header('last-event-id')?.trim()) ?? parseCursor('after', request.url.searchParams.get('after')) ?? 0;
  const epoch = request.url.searchParams.get('epoch') || undefined;
  return epoch === undefined ? { type: 'subscribe', sessionId, after } : { type: 'subscribe', sessionId, after, epoch };
}

/**
 * The command of a request on a command route (everything but `events` and
 * `websocket`, which are streams).
 *
 * @throws {ServerError} 400 for a body or query the protocol does not accept
 */
export async function decodeHttpCommand(route: Exclude<Route, { name: 'events' | 'websocket' }>, request: HttpCommandRequest): Promise<Command> {
  switch (route.name) {
    case 'sessions': {
      const body = parseBody(CreateSessionRequest, await request.json());
      return {
        type: 'createSession',
        ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
        ...(body.sharedWith === undefined ? {} : { sharedWith: body.sharedWith }),
      };
    }
    case 'session':
      return { type: 'getSession', sessionId: route.sessionId };
    case 'health':
      return { type: 'health' };
    case 'turns': {
      const body = parseBody(PromptRequest, await request.json());
      const idempotencyKey = request.header('idempotency-key');
      if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 256)) {
        throw new ServerError('invalid_body', 'Idempotency-Key must be 1 to 256 characters', 400);
      }
      const clientId = clientIdOf(request, body.clientId);
      return {
        type: 'prompt',
        sessionId: route.sessionId,
        prompt: body.prompt,
        ...(clientId === undefined ? {} : { clientId }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      };
    }
    case 'turn':
      return { type: 'getTurn', sessionId: route.sessionId, turnId: route.turnId };
    case 'cancel': {
      const body = parseBody(CancelRequest, await request.json());
      const clientId = clientIdOf(request, body.clientId);
      return {
        type: 'cancel',
        sessionId: route.sessionId,
        turnId: route.turnId,
        ...(clientId === undefined ? {} : { clientId }),
        ...(body.reason === undefined ? {} : { reason: body.reason }),
      };
    }
    case 'respond': {
      const body = parseBody(RespondRequest, await request.json());
      const clientId = clientIdOf(request, body.clientId);
      return {
        type: 'respond',
        sessionId: route.sessionId,
        turnId: route.turnId,
        requestId: body.requestId,
        answer: body.answer,
        ...(clientId === undefined ? {} : { clientId }),
      };
    }
    case 'poll': {
      const query = request.url.searchParams;
      const after = parseCursor('after', query.get('after')) ?? 0;
      const waitMs = parseCursor('wait', query.get('wait')) ?? 0;
      const epoch = query.get('epoch') || undefined;
      return {
        type: 'poll',
        sessionId: route.sessionId,
        after,
        waitMs,
        ...(epoch === undefined ? {} : { epoch }),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      };
    }
  }
}

/** What an HTTP host adds around a command: msw injects faults, the Node host tracks long-polls. */
export interface HttpCommandHooks {
  /** Called before a command (not an event stream) is decoded; may throw an injected failure. */
  beforeCommand?(): void;
  /** Runs a decoded command. @default dispatcher.run */
  run?(command: Command): Promise<CommandReply>;
}

/**
 * One HTTP request from route to reply, the same on every HTTP host: a
 * command's reply, or — for the events route — the cursor the SSE stream
 * starts from. Never rejects.
 */
export async function serveHttpCommand(
  dispatcher: Dispatcher,
  method: string,
  pathname: string,
  request: HttpCommandRequest,
  hooks: HttpCommandHooks = {},
): Promise<{ reply: CommandReply } | { stream: EventCursor; caller: Caller }> {
  try {
    // Before any other work, on every route (the body is not even read without credentials).
    const caller = await dispatcher.authenticate({
      method,
      url: request.url.pathname + request.url.search,
      headers: request.headers,
      remoteAddress: request.remoteAddress,
    });
    const route = routeFor(method, pathname);
    if (route.name === 'websocket') throw new ServerError('upgrade_required', 'This route needs a WebSocket upgrade', 426);
    if (route.name === 'events') {
      const reply = await dispatcher.run({ ...subscribeCommand(route.sessionId, request), caller });
      return reply.ok && reply.cursor ? { stream: reply.cursor, caller } : { reply };
    }
    hooks.beforeCommand?.();
    const command: Command = { ...(await decodeHttpCommand(route, request)), caller };
    return { reply: await (hooks.run ? hooks.run(command) : dispatcher.run(command)) };
  } catch (error) {
    return { reply: dispatcher.fail(error) };
  }
}
