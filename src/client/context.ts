import type { TetherError } from '../errors/index.js';
import type { Clock } from '../internal/clock.js';
import type { CommandFrame } from '../transport/transport.js';
import type { SessionSnapshot } from '../protocol/index.js';
import type { ConnectionManager } from './connection-manager.js';
import type { StoredCursor } from './cursor-store.js';
import type { HttpClient } from './http-client.js';
import type { ClientSettings } from './settings.js';
import type { TurnImpl } from './turn.js';

/** A command for the command tracker: the WebSocket frame (if it has one) and its HTTP equivalent. */
export interface CommandOptions<T> {
  /** The session the command is about: a final answer about it (`session_not_found`) ends its subscriptions and turns. */
  sessionId?: string | undefined;
  frame?: CommandFrame | undefined;
  /** The HTTP form; `resend` is true when it follows a WebSocket attempt that got no reply. */
  http: (signal: AbortSignal, resend: boolean) => Promise<T>;
  signal?: AbortSignal | undefined;
}

/** What sessions, turns and subscriptions share with their client. Internal. */
export interface ClientContext {
  readonly options: ClientSettings;
  readonly manager: ConnectionManager;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly closed: boolean;
  /** Live turn handles by `sessionId/turnId`: one handle per turn, so the same key gives the same `Turn`. */
  readonly turns: Map<string, TurnImpl>;
  /** Turn fallback settle delay after a cancel (F5). */
  readonly terminalGraceMs: number;
  /**
   * Send a tracked command (F9): over the open WebSocket when there
   * is one, else (or when the socket dies before the reply) over HTTP.
   */
  command<T>(name: string, options: CommandOptions<T>): Promise<T>;
  /** The session's current state (`GET` the session), as `session.snapshot()`. */
  snapshot(sessionId: string, signal?: AbortSignal): Promise<SessionSnapshot>;
  loadCursor(sessionId: string): Promise<StoredCursor | undefined>;
  /** Remember that the app received everything up to `seq` of `epoch` (written throttled). */
  saveCursor(sessionId: string, epoch: string, seq: number): void;
  /** A call about `sessionId` failed with `error`: when that is a final answer (`session_not_found`), the session's subscriptions and turns end with it. */
  noteFailure(sessionId: string, error: unknown): void;
  /** Report an error on `client.on('error')`. */
  reportError(error: TetherError): void;
}
