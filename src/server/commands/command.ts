/** The protocol's commands as plain values: what every host (HTTP, WebSocket, msw) decodes a request into. */
import type { ErrorInfo, InputAnswer } from '../../protocol/index.js';
import type { EventCursor } from '../core/event-cursor.js';
import type { Caller } from '../security/principal.js';

/**
 * One command of the protocol, decoded from an HTTP route, a WebSocket frame
 * or an msw request. `clientId` is the caller's own label for its
 * connection; when the server authenticates, the principal in `caller`
 * is who prompted or canceled, whatever the label says. Every command that concerns a session names it in `sessionId`.
 */
export type Command = (
  | { type: 'createSession'; metadata?: Record<string, unknown>; sharedWith?: string[] }
  | { type: 'getSession'; sessionId: string }
  | { type: 'prompt'; sessionId: string; prompt: string; clientId?: string; idempotencyKey?: string }
  | { type: 'getTurn'; sessionId: string; turnId: string }
  | { type: 'cancel'; sessionId: string; turnId: string; clientId?: string; reason?: string }
  /** Answer one of the turn's input requests (authorization action `respond`). */
  | { type: 'respond'; sessionId: string; turnId: string; requestId: string; answer: InputAnswer; clientId?: string }
  /** Open a cursor into the session's log (WebSocket subscribe, SSE); the reply carries it. */
  | { type: 'subscribe'; sessionId: string; after: number; epoch?: string }
  /** One long-poll round; `signal` ends the wait early (the request went away). */
  | { type: 'poll'; sessionId: string; after: number; waitMs: number; epoch?: string; signal?: AbortSignal }
  /** Sessions and storage (`GET /v1/health`). */
  | { type: 'health' }
) & {
  /** Who sent it (the authenticated principal, the address); checked by the dispatcher before the command runs. */
  caller?: Caller;
};

/** The name of a {@link Command}. */
export type CommandType = Command['type'];

/**
 * What a command answers. `json` is the reply body as JSON text — the HTTP
 * body, or the `result` (success) of a WebSocket `reply` frame; `status` is the
 * HTTP status. A failure carries the protocol's `error` (a WebSocket `reply`
 * with `ok:false`) and the headers that go with it (`Retry-After`).
 */
export type CommandReply =
  | { ok: true; status: number; json: string; cursor?: EventCursor }
  | { ok: false; status: number; json: string; error: ErrorInfo; headers: Record<string, string> };
