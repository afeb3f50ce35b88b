/** createCore: a TetherCore with the server's defaults, for hosts other than the Node server. */
import type { Clock } from '../../internal/clock.js';
import { resolveServerOptions } from '../options.js';
import { TetherCore } from './tether-core.js';
import type { Agent, InputPolicy, Logger, SessionStore } from './types.js';

/** Options of {@link createCore}: the socket-free subset of `ServerOptions`, same defaults. */
export interface CreateCoreOptions {
  agent: Agent;
  /** @default memoryStore() */
  store?: SessionStore;
  /** @default systemClock */
  clock?: Clock;
  /** @default only `error`, to console.error */
  logger?: Logger;
  /** @default 10000 */
  maxEventsPerSession?: number;
  /** @default 2000 */
  cancelGraceMs?: number;
  /** @default 50 */
  maxSnapshotTurns?: number;
  /** @default 600000 */
  sessionIdleMs?: number;
  /** @default 86400000 */
  idempotencyTtlMs?: number;
  /** @default undefined (only clients answer input requests) */
  inputPolicy?: InputPolicy | undefined;
}

/**
 * A {@link TetherCore} with the server's defaults, for hosts other than the
 * Node server (e.g. msw handlers in `agent-tether/testing`). Call
 * `await core.start()` before use and `await core.shutdown()` at the end.
 *
 * @example
 * const core = createCore({ agent: demoAgent({ delayMs: 0 }) });
 * await core.start();
 * const { id } = await core.createSession();
 * const { turn } = await core.prompt(id, { prompt: 'hi', clientId: 'me' });
 * const reply = await core.poll(id, { after: 0, waitMs: 1000 });
 */
export function createCore(options: CreateCoreOptions): TetherCore {
  const resolved = resolveServerOptions({ ...options, agent: options.agent });
  return new TetherCore({
    agent: resolved.agent,
    store: resolved.store,
    clock: resolved.clock,
    logger: resolved.logger,
    maxEventsPerSession: resolved.maxEventsPerSession,
    cancelGraceMs: resolved.cancelGraceMs,
    maxSnapshotTurns: resolved.maxSnapshotTurns,
    sessionIdleMs: resolved.sessionIdleMs,
    idempotencyTtlMs: resolved.idempotencyTtlMs,
    inputPolicy: resolved.inputPolicy,
  });
}
