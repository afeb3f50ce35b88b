import type { TerminalEvent } from './events.js';

/**
 * Wire constants shared by the client and the reference server.
 * Every path, header and close code the protocol fixes lives here, so both
 * sides cannot drift apart. The full protocol is described in docs/protocol.md.
 */

/** Version prefix of every HTTP route. */
export const API_PREFIX = '/v1';

/** HTTP routes, relative to the server's base URL. */
export const routes = {
  sessions: () => `${API_PREFIX}/sessions`,
  session: (sessionId: string) => `${API_PREFIX}/sessions/${encodeURIComponent(sessionId)}`,
  turns: (sessionId: string) => `${API_PREFIX}/sessions/${encodeURIComponent(sessionId)}/turns`,
  turn: (sessionId: string, turnId: string) =>
    `${API_PREFIX}/sessions/${encodeURIComponent(sessionId)}/turns/${encodeURIComponent(turnId)}`,
  cancel: (sessionId: string, turnId: string) =>
    `${API_PREFIX}/sessions/${encodeURIComponent(sessionId)}/turns/${encodeURIComponent(turnId)}/cancel`,
  /** Answer one of the turn's input requests. */
  respond: (sessionId: string, turnId: string) =>
    `${API_PREFIX}/sessions/${encodeURIComponent(sessionId)}/turns/${encodeURIComponent(turnId)}/respond`,
  /** Server-Sent Events stream of a session's events. */
  events: (sessionId: string) => `${API_PREFIX}/sessions/${encodeURIComponent(sessionId)}/events`,
  /** Long-poll JSON endpoint of a session's events. */
  poll: (sessionId: string) => `${API_PREFIX}/sessions/${encodeURIComponent(sessionId)}/poll`,
  /** The one multiplexed WebSocket endpoint. */
  websocket: () => `${API_PREFIX}/ws`,
} as const;

/** HTTP header names the protocol uses. */
export const headers = {
  idempotencyKey: 'Idempotency-Key',
  clientId: 'X-Tether-Client',
  lastEventId: 'Last-Event-ID',
  retryAfter: 'Retry-After',
  /** `Authorization: Bearer <token>` on HTTP, SSE and long-poll requests. */
  authorization: 'Authorization',
} as const;

/**
 * WebSocket subprotocols. Browsers cannot set headers on a WebSocket, so a
 * client offers {@link wsProtocols.v1} and, when it has a token,
 * `agent-tether.bearer.<base64url(token)>`; the server reads the token from
 * the second and selects `agent-tether.v1`. (Not a query parameter: URLs land
 * in proxy logs.)
 */
export const wsProtocols = {
  /** The protocol version a server selects. */
  v1: 'agent-tether.v1',
  /** Prefix of the subprotocol that carries the bearer token, base64url-encoded (no padding). */
  bearerPrefix: 'agent-tether.bearer.',
} as const;

/** WebSocket close codes (RFC 6455 §7.4.1) and what they mean here. */
export const closeCodes = {
  /** The client or server closed on purpose; do not reconnect. */
  normal: 1000,
  /** The server is shutting down; reconnect with backoff. */
  goingAway: 1001,
  /** A frame was not valid JSON (or not UTF-8 text). */
  invalidData: 1007,
  /** A frame was valid JSON but not a valid frame for the protocol. */
  policyViolation: 1008,
  /** A frame exceeded the size limit. */
  tooBig: 1009,
  /** The server gave up on a connection that does not read its output, or a session's stream cannot go on there (the session moved, or its store is unreachable); reconnect and resume from the cursor. */
  tryAgainLater: 1013,
  /** The server failed unexpectedly. */
  internalError: 1011,
} as const;

/** Protocol limits both sides agree on. */
export const limits = {
  /** Largest HTTP body or WebSocket frame a server accepts from a client, in bytes. */
  maxFrameBytes: 1024 * 1024,
  /**
   * Largest frame or SSE event a client accepts from a server, in bytes. Larger
   * than `maxFrameBytes` because `turn.completed.output` repeats a whole turn's
   * text, which can be many megabytes; still bounded so a broken server cannot
   * exhaust the client's memory.
   */
  maxServerFrameBytes: 64 * 1024 * 1024,
  /** Largest number of events in one WebSocket batch (or SSE write). */
  maxBatchEvents: 1000,
  /**
   * Largest number of events in one long-poll reply. Larger than a stream
   * batch because every reply costs a round trip; also capped by
   * `maxPollBytes`.
   */
  maxPollEvents: 10_000,
  /** Event JSON bytes after which a long-poll reply is cut (a single event is never split). */
  maxPollBytes: 1024 * 1024,
  /** Longest long-poll wait the server honours, in milliseconds. */
  maxPollWaitMs: 30_000,
} as const;

/** Terminal event types: each turn ends with exactly one of these. */
export const TERMINAL_TYPES = ['turn.completed', 'turn.canceled', 'turn.error'] as const;

const TERMINALS: ReadonlySet<string> = new Set(TERMINAL_TYPES);

/** Whether an event ends its turn. */
export function isTerminal(event: { type: string }): event is TerminalEvent {
  return TERMINALS.has(event.type);
}
