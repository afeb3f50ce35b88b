/** The protocol's HTTP routes: a path and method → the route, or the 404/405 every host answers. */
import { API_PREFIX } from '../../protocol/index.js';
import { ServerError } from '../core/server-error.js';

/** A matched route of the protocol. */
export type Route =
  | { name: 'sessions' }
  | { name: 'session'; sessionId: string }
  | { name: 'turns'; sessionId: string }
  | { name: 'turn'; sessionId: string; turnId: string }
  | { name: 'cancel'; sessionId: string; turnId: string }
  | { name: 'respond'; sessionId: string; turnId: string }
  | { name: 'events'; sessionId: string }
  | { name: 'poll'; sessionId: string }
  | { name: 'websocket' }
  | { name: 'health' };

const ALLOWED: Record<Route['name'], string> = {
  sessions: 'POST',
  session: 'GET',
  turns: 'POST',
  turn: 'GET',
  cancel: 'POST',
  respond: 'POST',
  events: 'GET',
  poll: 'GET',
  websocket: 'GET',
  health: 'GET',
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
  if (parts.length === 1 && a === 'health') return { name: 'health' };
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
  if (parts.length === 5 && e === 'respond') return { name: 'respond', sessionId: sid, turnId: tid };
  return undefined;
}

/**
 * The route for `method` on `pathname`.
 *
 * @throws {ServerError} `not_found` (404) for no route, `method_not_allowed` (405) for a wrong method
 */
export function routeFor(method: string, pathname: string): Route {
  const route = matchRoute(pathname);
  if (!route) throw new ServerError('not_found', `No route for ${pathname}`, 404);
  if (method !== ALLOWED[route.name]) throw new ServerError('method_not_allowed', `${method} is not allowed on ${pathname}`, 405);
  return route;
}
