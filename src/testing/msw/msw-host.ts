/** What the msw HTTP handlers and WebSocket handler share: one dispatcher, the faults, the open streams. */
import type { Dispatcher } from '../../server/commands/dispatcher.js';
import type { MswFaultState } from './faults.js';

/** The in-memory server behind the msw handlers. */
export interface MswHost {
  /** The same command table as the reference server's hosts. */
  readonly dispatcher: Dispatcher;
  /** Resolves once the core has loaded its store. */
  readonly started: Promise<void>;
  readonly faults: MswFaultState;
  /** Every open event stream and WebSocket; aborted by `close()`. */
  readonly streams: Set<AbortController>;
  /** SSE `: ping` period (`0`: off) and WebSocket `welcome.heartbeatMs`. */
  readonly heartbeatMs: number;
  readonly sseRetryMs: number;
  /** The base URL's origin and path, without a trailing slash: routes are matched below it. */
  readonly base: string;
}

/** A reply as a fetch `Response`. */
export function jsonResponse(status: number, json: string, headers: Record<string, string> = {}): Response {
  return new Response(json, { status, headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers } });
}
