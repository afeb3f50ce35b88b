import type { TetherError } from '../errors/index.js';
import type { Clock } from '../internal/clock.js';
import type { CancelFrame, PromptFrame, ResetInfo, SessionEvent } from '../protocol/index.js';

/** The three ways events can reach the client, best first. */
export type TransportName = 'websocket' | 'sse' | 'poll';

/** Where a session's stream should (re)start: after `after`, in history `epoch`. */
export interface Cursor {
  after: number;
  epoch?: string | undefined;
}

/** A constructor compatible with the WHATWG `WebSocket` (browsers, Node ≥ 22, isomorphic-ws). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

/** Everything a transport needs, resolved by the client before each attempt. */
export interface TransportOptions {
  /** The server's http(s) base URL; the WebSocket URL is derived from it. */
  baseUrl: URL;
  clientId: string;
  /** Re-read on every connect (fresh auth tokens). */
  getHeaders(): Promise<Record<string, string>>;
  /** The client has a `token`: the WebSocket offers its bearer subprotocols (see bearer.ts). */
  bearer?: boolean | undefined;
  fetch: typeof globalThis.fetch;
  WebSocket: WebSocketConstructor;
  clock: Clock;
  /** No bytes at all for this long means the connection is half-open: close it with an error. */
  heartbeatTimeoutMs: number;
  /** Deadline for the attempt to open. */
  openTimeoutMs: number;
  /** Long-poll: how long the server may hold a request open. */
  pollWaitMs: number;
  /** Largest frame or SSE event accepted from the server. @default limits.maxServerFrameBytes */
  maxMessageBytes?: number | undefined;
}

/**
 * Callbacks a transport reports through. Every callback of a closed or
 * superseded attempt is ignored by the caller (stale-callback guard, F4), and a
 * transport never throws from inside a socket callback: it reports instead.
 */
export interface TransportEvents {
  /** The attempt proved it can carry traffic (WebSocket: welcome frame; SSE/poll: first 2xx stream reply). */
  open(): void;
  /** Schema-validated events of one session, in the order the server sent them. */
  events(sessionId: string, events: SessionEvent[]): void;
  /** The server could not resume `info.sessionId` from the cursor asked for. */
  reset(info: ResetInfo): void;
  /**
   * The server gave a final answer about one session (`session_not_found`,
   * see `FINAL_ANSWERS`): that session's stream has stopped, the attempt and
   * every other session's stream carry on.
   */
  sessionEnded(sessionId: string, error: TetherError): void;
  /**
   * Called exactly once per attempt when it ends for any reason other than our
   * own `close()`: network failure, server close, heartbeat deadline, protocol error.
   */
  closed(info: TransportCloseInfo): void;
}

export interface TransportCloseInfo {
  /** Whether `open()` was ever called on this attempt (the ladder moves down only on attempts that never opened). */
  opened: boolean;
  /** What went wrong (a `ProtocolError` for bad frames: the client reports it on `client.on('error')`). */
  error?: TetherError | undefined;
  /** The server asked for this delay explicitly (`Retry-After` on a 429/503 reply), in ms. */
  retryAfterMs?: number | undefined;
  /** The SSE stream's last `retry:` field, in ms: a reconnection-time hint, not an ask (see docs/client.md). */
  retryHintMs?: number | undefined;
  /** A WebSocket close code, when there was one. */
  code?: number | undefined;
}

/** A command the WebSocket transport can carry (everything else goes over HTTP). */
export type CommandFrame = Omit<PromptFrame, 'id'> | Omit<CancelFrame, 'id'>;

/**
 * One connection attempt. Created by the ladder, owned by the client's
 * connection manager, discarded after it closes (never reused).
 */
export interface Transport {
  readonly name: TransportName;
  /** Start or restart a session's stream from `cursor`. May be called before `open()`. */
  subscribe(sessionId: string, cursor: Cursor): void;
  unsubscribe(sessionId: string): void;
  /**
   * Send a command and resolve with the reply's `result`. Only the WebSocket
   * transport has this. Rejects with `ConnectionError` when the socket ends
   * before the reply (the caller may resend: commands carry idempotency keys),
   * or with `HttpError` carrying the reply's error code and status.
   * Uses the socket's send callback; never check-then-send (F9).
   */
  command?(frame: CommandFrame, signal?: AbortSignal): Promise<unknown>;
  /**
   * Graceful close (F7): flush what is queued (bounded by `timeoutMs`), send
   * close code 1000, abort fetches, clear every timer. Does not call `closed()`.
   */
  close(timeoutMs?: number): Promise<void>;
}

export type CreateTransport = (options: TransportOptions, events: TransportEvents) => Transport;
