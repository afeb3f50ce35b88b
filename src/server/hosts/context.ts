/** What the hosts share: the dispatcher, the long-lived connections they track, and a repeating timer. */
import type { Clock } from '../../internal/clock.js';
import type { Dispatcher } from '../commands/dispatcher.js';
import type { RequestLimits } from '../limits/request-limits.js';
import type { ResolvedServerOptions } from '../options.js';
import type { WriteBudget } from './write-budget.js';
import type { FairShare } from './fair-share.js';
import type { OriginPolicy } from '../security/origins.js';

/** A long-lived connection the host tracks (for shutdown and stats). */
export interface Connection {
  readonly id: number;
  readonly kind: 'websocket' | 'sse';
  readonly clientId: string | undefined;
  readonly budget: WriteBudget;
  subscriptionCount(): number;
  /** Flush what is due, then close gracefully; give up at `deadline` (clock time). */
  shutdown(deadline: number): Promise<void>;
}

/** What the HTTP and WebSocket handlers share. */
export interface HostContext {
  /** Runs every command (HTTP and WebSocket alike): the hosts never call the core themselves. */
  readonly dispatcher: Dispatcher;
  readonly options: ResolvedServerOptions;
  /** Which pages may call (CORS) and open a WebSocket (`Origin`). */
  readonly origins: OriginPolicy;
  readonly connections: Set<Connection>;
  /** Pending long-polls, answered before the server closes. */
  readonly polls: Set<Promise<unknown>>;
  isClosing(): boolean;
  nextConnectionId(): number;
  /** Bytes per batch: small enough to keep a connection's buffer near its high-water mark. */
  readonly batchBytes: number;
  /** The bytes every pump together may write in one turn of the event loop. */
  readonly share: FairShare;
  /** Per-client rate and connection limits (429 + `Retry-After`). */
  readonly limits: RequestLimits;
}

/** A repeating timer on an injectable clock; `stop()` clears it for good. */
export function every(clock: Clock, ms: number, fn: () => void): { stop(): void } {
  let handle: unknown;
  let stopped = false;
  const schedule = () => {
    handle = clock.setTimeout(() => {
      if (stopped) return;
      fn();
      if (!stopped) schedule();
    }, ms);
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clock.clearTimeout(handle);
    },
  };
}
