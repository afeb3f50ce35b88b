/** The server's options, their defaults (`SERVER_DEFAULTS`), and their checks. */
import { limits } from '../protocol/index.js';
import { systemClock, type Clock } from '../internal/clock.js';
import { consoleLogger } from '../logging/logger.js';
import type { Agent, InputPolicy, Logger, SessionStore } from './core/types.js';
import { isSessionStore } from './core/session-store.js';
import { memoryStore } from './stores/memory-store.js';

/** What `createServer()` takes. Only `agent` is required; every other field defaults on its own. */
export interface ServerOptions {
  /** The agent that runs each turn. */
  agent: Agent;
  /** Where sessions and events are kept. @default memoryStore() (a new one per server) */
  store?: SessionStore;
  /** Heartbeat period: SSE `: ping` comments and WebSocket pings. @default 15000 */
  heartbeatMs?: number;
  /** Events held per session for resuming; a cursor older than that gets a reset. @default 10000 */
  maxEventsPerSession?: number;
  /** Per-connection outgoing buffer limit; above it the server waits for drain and later continues from the log (F6). @default 262144 */
  highWaterBytes?: number;
  /** Time source for heartbeats, timeouts and event times. @default systemClock */
  clock?: Clock;
  /** Diagnostics sink. @default only `error` is printed, to `console.error` */
  logger?: Logger;
  /** After a cancel, how long the next queued turn waits for the canceled agent to stop. @default 2000 */
  cancelGraceMs?: number;
  /** Upper bound of `close()` (flushing tails, close handshakes). @default 5000 */
  shutdownTimeoutMs?: number;
  /** Reconnect delay suggested to SSE clients (`retry:`). @default 1000 */
  sseRetryMs?: number;
  /** Largest accepted HTTP body or WebSocket frame. @default limits.maxFrameBytes (1 MiB) */
  maxFrameBytes?: number;
  /** Largest number of events in one WebSocket batch or SSE write. @default limits.maxBatchEvents (1000) */
  maxBatchEvents?: number;
  /** Largest number of events in one long-poll reply (also cut at `limits.maxPollBytes`). @default limits.maxPollEvents (10 000) */
  maxPollEvents?: number;
  /** Turns listed in `GET /v1/sessions/:sid`. @default 50 */
  maxSnapshotTurns?: number;
  /** A session with no turn in flight and no waiting reader leaves memory after this long; it comes back from the store on use. @default 600000 (10 min) */
  sessionIdleMs?: number;
  /** How long a prompt's `Idempotency-Key` finds its turn. @default 86400000 (24 h) */
  idempotencyTtlMs?: number;
  /** Answer CORS preflights and add `Access-Control-Allow-Origin: *` (browser clients). @default true */
  cors?: boolean;
  /**
   * Answers agents' input requests on the server, without a client (e.g.
   * auto-approve read-only commands); returning `undefined` leaves a request
   * to the clients. @default undefined (only clients answer)
   */
  inputPolicy?: InputPolicy | undefined;
}

/** `ServerOptions` after defaults. */
export type ResolvedServerOptions = Required<Omit<ServerOptions, 'inputPolicy'>> & { inputPolicy: InputPolicy | undefined };

const defaultLogger: Logger = consoleLogger('error');

/**
 * Defaults of every optional {@link ServerOptions} field but `store` (a fresh `memoryStore()` per server).
 *
 * @example
 * createServer({ agent, heartbeatMs: SERVER_DEFAULTS.heartbeatMs * 2 });
 */
export const SERVER_DEFAULTS = {
  heartbeatMs: 15_000,
  maxEventsPerSession: 10_000,
  highWaterBytes: 256 * 1024,
  clock: systemClock,
  logger: defaultLogger,
  cancelGraceMs: 2_000,
  shutdownTimeoutMs: 5_000,
  sseRetryMs: 1_000,
  maxFrameBytes: limits.maxFrameBytes,
  maxBatchEvents: limits.maxBatchEvents,
  maxPollEvents: limits.maxPollEvents,
  maxSnapshotTurns: 50,
  sessionIdleMs: 600_000,
  idempotencyTtlMs: 86_400_000,
  cors: true,
} as const satisfies Required<Omit<ServerOptions, 'agent' | 'store' | 'inputPolicy'>>;

/**
 * @deprecated Renamed {@link SERVER_DEFAULTS} (the client has its own defaults); this alias
 * goes in the next minor version.
 */
export const DEFAULTS = SERVER_DEFAULTS;

/** Merge options field by field (`{x: undefined}` keeps the default) and validate them. */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (!options || typeof options !== 'object') throw new TypeError('createServer: options must be an object with an `agent`');
  if (typeof options.agent !== 'function') {
    throw new TypeError('createServer: `agent` must be a function returning an AsyncIterable of chunks');
  }
  const pick = <K extends keyof typeof SERVER_DEFAULTS>(key: K): (typeof SERVER_DEFAULTS)[K] | NonNullable<ServerOptions[K]> =>
    (options[key] ?? SERVER_DEFAULTS[key]) as (typeof SERVER_DEFAULTS)[K] | NonNullable<ServerOptions[K]>;
  const resolved: ResolvedServerOptions = {
    agent: options.agent,
    store: options.store ?? memoryStore(),
    heartbeatMs: positiveInt('heartbeatMs', pick('heartbeatMs')),
    maxEventsPerSession: positiveInt('maxEventsPerSession', pick('maxEventsPerSession')),
    highWaterBytes: positiveInt('highWaterBytes', pick('highWaterBytes')),
    clock: pick('clock'),
    logger: pick('logger'),
    cancelGraceMs: nonNegativeInt('cancelGraceMs', pick('cancelGraceMs')),
    shutdownTimeoutMs: nonNegativeInt('shutdownTimeoutMs', pick('shutdownTimeoutMs')),
    sseRetryMs: nonNegativeInt('sseRetryMs', pick('sseRetryMs')),
    maxFrameBytes: positiveInt('maxFrameBytes', pick('maxFrameBytes')),
    maxBatchEvents: positiveInt('maxBatchEvents', pick('maxBatchEvents')),
    maxPollEvents: positiveInt('maxPollEvents', pick('maxPollEvents')),
    maxSnapshotTurns: positiveInt('maxSnapshotTurns', pick('maxSnapshotTurns')),
    sessionIdleMs: positiveInt('sessionIdleMs', pick('sessionIdleMs')),
    idempotencyTtlMs: positiveInt('idempotencyTtlMs', pick('idempotencyTtlMs')),
    cors: pick('cors'),
    inputPolicy: options.inputPolicy,
  };
  const store = resolved.store;
  if (!isSessionStore(store)) {
    throw new TypeError(
      'createServer: `store` must implement SessionStore (saveSession, loadSession, appendEvents, saveTurn, unfinishedTurns, deleteSession, stats)',
    );
  }
  const clock = resolved.clock;
  if (typeof clock !== 'object' || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new TypeError('createServer: `clock` must have now(), setTimeout() and clearTimeout()');
  }
  if (typeof resolved.logger !== 'object' || resolved.logger === null) throw new TypeError('createServer: `logger` must be an object');
  if (typeof resolved.cors !== 'boolean') throw new TypeError('createServer: `cors` must be a boolean');
  if (resolved.inputPolicy !== undefined && typeof resolved.inputPolicy !== 'function') {
    throw new TypeError(`createServer: \`inputPolicy\` must be a function, got ${typeof resolved.inputPolicy}`);
  }
  return resolved;
}

function positiveInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`createServer: \`${name}\` must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegativeInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`createServer: \`${name}\` must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}
