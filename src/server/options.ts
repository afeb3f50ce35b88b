/** The server's options, their defaults (`SERVER_DEFAULTS`), and their checks. */
import { limits } from '../protocol/index.js';
import { systemClock, type Clock } from '../internal/clock.js';
import { consoleLogger } from '../logging/logger.js';
import type { Agent, InputPolicy, Logger, SessionStore } from './core/types.js';
import { isSessionStore } from './core/session-store.js';
import { memoryStore } from './stores/memory-store.js';
import type { Authenticate, Authorize } from './security/principal.js';
import type { AllowedOrigins } from './security/origins.js';

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
  /**
   * Unflushed output bytes past which a connection is closed (WebSocket 1013, SSE and HTTP
   * sockets destroyed) instead of buffered. Counts every byte written: events, command
   * replies, pongs. Must be at least `highWaterBytes`.
   * @default 8388608 (8 MiB)
   */
  maxBufferedBytes?: number;
  /** Deepest nesting of arrays/objects accepted in a JSON body or WebSocket frame (deeper: 400 `invalid_json`, WebSocket 1008). @default 64 */
  maxJsonDepth?: number;
  /** Time a client has to send a request's headers (also cuts a connection that sends nothing). @default 10000 */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request, headers and body. @default 30000 */
  requestTimeoutMs?: number;
  /** An HTTP socket with no traffic either way for this long is closed (not SSE or WebSocket, which have heartbeats). Must exceed the longest long-poll wait (30 s). @default 60000 */
  idleSocketTimeoutMs?: number;
  /** How long an idle keep-alive HTTP connection waits for its next request. @default 5000 */
  keepAliveTimeoutMs?: number;
  /** Sessions one client (principal, else IP) may create per minute; over it: 429 + `Retry-After`. @default 60 */
  sessionsPerMinute?: number;
  /** Prompts one client may send per minute, over all sessions; over it: 429 + `Retry-After`. @default 120 */
  promptsPerMinute?: number;
  /** WebSockets, SSE streams and long-polls one client may hold open at once; over it: 429 + `Retry-After`. Raise it for trusted fan-out (benchmarks, a backend with many subscriptions) — better, authenticate such callers. @default 128 */
  maxConnectionsPerClient?: number;
  /** Turns waiting in one session's queue; a prompt over it: 429 + `Retry-After`. @default 100 */
  maxQueuedTurns?: number;
  /** A session's `metadata` as JSON, at most this many bytes (kept for the session's life); over it: 413 `payload_too_large`. @default 16384 */
  maxMetadataBytes?: number;
  /** In a snapshot (`GET /v1/sessions/:sid`), a turn's prompt and output are cut to this many characters (`truncated: true`); `GET` the turn for all of it. @default 4096 */
  maxSnapshotTextChars?: number;
  /** Identical warn/error log lines (same level and message) written per `repeatedLogWindowMs`; the rest are counted and summed up in one line. @default 10 */
  maxRepeatedLogLines?: number;
  /** The window of `maxRepeatedLogLines`. @default 10000 */
  repeatedLogWindowMs?: number;
  /** Answer CORS preflights and add `Access-Control-Allow-Origin` for allowed origins (browser clients). @default true */
  cors?: boolean;
  /**
   * Answers agents' input requests on the server, without a client (e.g.
   * auto-approve read-only commands); returning `undefined` leaves a request
   * to the clients. @default undefined (only clients answer)
   */
  inputPolicy?: InputPolicy | undefined;
  /**
   * Who is calling: a principal from each request (HTTP, SSE, long-poll and
   * the WebSocket upgrade), or `null` for `401 unauthorized`. Without it
   * everyone may do everything, and the server says so when it starts.
   * @default undefined (no authentication)
   */
  authenticate?: Authenticate;
  /**
   * What a principal may do to which session (used once `authenticate` is set).
   * @default ownerOrShared — the sessions it created and those shared with it
   */
  authorize?: Authorize;
  /**
   * Pages that may call the server (CORS) and open its WebSocket (`Origin`).
   * @default '*' without `authenticate`; only the server's own origin with it
   */
  allowedOrigins?: AllowedOrigins;
  /** Take the client's address from `X-Forwarded-For` (set it only behind a proxy that writes it). @default false */
  trustProxy?: boolean;
  /** Address `listen()` binds to when not given one. @default '127.0.0.1' (loopback only) */
  host?: string;
}

/** `ServerOptions` after defaults. */
export type ResolvedServerOptions = Required<Omit<ServerOptions, OptionalHooks>> & Pick<ServerOptions, OptionalHooks>;

// Options whose absence means something (no authentication, the default policy).
type OptionalHooks = 'authenticate' | 'authorize' | 'allowedOrigins' | 'inputPolicy';

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
  maxBufferedBytes: 8 * 1024 * 1024,
  maxJsonDepth: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleSocketTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  sessionsPerMinute: 60,
  promptsPerMinute: 120,
  maxConnectionsPerClient: 128,
  maxQueuedTurns: 100,
  maxMetadataBytes: 16 * 1024,
  maxSnapshotTextChars: 4096,
  maxRepeatedLogLines: 10,
  repeatedLogWindowMs: 10_000,
  trustProxy: false,
  host: '127.0.0.1',
} as const satisfies Required<Omit<ServerOptions, 'agent' | 'store' | OptionalHooks>>;

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
    maxBufferedBytes: positiveInt('maxBufferedBytes', pick('maxBufferedBytes')),
    maxJsonDepth: positiveInt('maxJsonDepth', pick('maxJsonDepth')),
    headersTimeoutMs: positiveInt('headersTimeoutMs', pick('headersTimeoutMs')),
    requestTimeoutMs: positiveInt('requestTimeoutMs', pick('requestTimeoutMs')),
    idleSocketTimeoutMs: positiveInt('idleSocketTimeoutMs', pick('idleSocketTimeoutMs')),
    keepAliveTimeoutMs: positiveInt('keepAliveTimeoutMs', pick('keepAliveTimeoutMs')),
    sessionsPerMinute: positiveInt('sessionsPerMinute', pick('sessionsPerMinute')),
    promptsPerMinute: positiveInt('promptsPerMinute', pick('promptsPerMinute')),
    maxConnectionsPerClient: positiveInt('maxConnectionsPerClient', pick('maxConnectionsPerClient')),
    maxQueuedTurns: positiveInt('maxQueuedTurns', pick('maxQueuedTurns')),
    maxMetadataBytes: positiveInt('maxMetadataBytes', pick('maxMetadataBytes')),
    maxSnapshotTextChars: positiveInt('maxSnapshotTextChars', pick('maxSnapshotTextChars')),
    maxRepeatedLogLines: positiveInt('maxRepeatedLogLines', pick('maxRepeatedLogLines')),
    repeatedLogWindowMs: positiveInt('repeatedLogWindowMs', pick('repeatedLogWindowMs')),
    trustProxy: pick('trustProxy'),
    host: pick('host'),
    ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }),
    ...(options.authorize === undefined ? {} : { authorize: options.authorize }),
    ...(options.allowedOrigins === undefined ? {} : { allowedOrigins: options.allowedOrigins }),
    ...(options.inputPolicy === undefined ? {} : { inputPolicy: options.inputPolicy }),
  };
  if (resolved.maxBufferedBytes < resolved.highWaterBytes) {
    throw new TypeError(`createServer: \`maxBufferedBytes\` must be at least \`highWaterBytes\` (${resolved.highWaterBytes}), got ${resolved.maxBufferedBytes}`);
  }
  if (resolved.requestTimeoutMs < resolved.headersTimeoutMs) {
    throw new TypeError(`createServer: \`requestTimeoutMs\` must be at least \`headersTimeoutMs\` (${resolved.headersTimeoutMs}), got ${resolved.requestTimeoutMs}`);
  }
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
  if (typeof resolved.trustProxy !== 'boolean') throw new TypeError('createServer: `trustProxy` must be a boolean');
  if (typeof resolved.host !== 'string' || resolved.host === '') throw new TypeError('createServer: `host` must be a non-empty string');
  for (const hook of ['authenticate', 'authorize'] as const) {
    if (resolved[hook] !== undefined && typeof resolved[hook] !== 'function') throw new TypeError(`createServer: \`${hook}\` must be a function`);
  }
  const origins = resolved.allowedOrigins;
  if (origins !== undefined && origins !== '*' && typeof origins !== 'function' && !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))) {
    throw new TypeError("createServer: `allowedOrigins` must be '*', an array of origins or a function");
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
