import IsomorphicWebSocket from 'isomorphic-ws';
import type { TransportName, WebSocketConstructor } from '../transport/transport.js';
import type { CursorStore } from './cursor-store.js';
import { memoryCursorStore } from './cursor-store.js';

/**
 * How reconnect delays grow. Each field defaults on its own: passing
 * `{ maxDelayMs: 5000 }` keeps every other default.
 *
 * The delay before attempt `n` (1-based) is
 * `random() * min(maxDelayMs, initialDelayMs * factor ** (n - 1))` with `'full'`
 * jitter ("full jitter", AWS Architecture Blog), or the capped value itself with `'none'`.
 */
export interface ReconnectOptions {
  /** Cap of the first delay. @default 500 */
  initialDelayMs?: number | undefined;
  /** Largest delay. @default 30_000 */
  maxDelayMs?: number | undefined;
  /** Growth per failed attempt. @default 2 */
  factor?: number | undefined;
  /** `'full'`: uniform in [0, cap); `'none'`: exactly the cap (deterministic). @default 'full' */
  jitter?: 'full' | 'none' | undefined;
  /** Failed attempts in a row before giving up (subscriptions end with `ConnectionError`). @default Infinity */
  maxAttempts?: number | undefined;
}

/** Where log lines go. Every method is optional; the default logger is silent. */
export interface Logger {
  debug?(message: string, ...args: unknown[]): void;
  info?(message: string, ...args: unknown[]): void;
  warn?(message: string, ...args: unknown[]): void;
  error?(message: string, ...args: unknown[]): void;
}

/**
 * Options of `createClient`. Only `baseUrl` is required; `{ x: undefined }`
 * means "use the default" for every field.
 */
export interface ClientOptions {
  /** The server's http(s) base URL; the WebSocket URL is derived from it. */
  baseUrl: string | URL;
  /** This client's id, sent as `X-Tether-Client`; it shows up as `turn.queued.clientId` and `turn.canceled.canceledBy`. @default crypto.randomUUID() */
  clientId?: string | undefined;
  /** The transport ladder, best first. @default ['websocket', 'sse', 'poll'] */
  transports?: readonly TransportName[] | undefined;
  /** Reconnect backoff; each field defaults separately. */
  reconnect?: ReconnectOptions | undefined;
  /** Extra request headers, or a function returning them; re-read on every connect and request (fresh tokens). */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>) | undefined;
  /** The `fetch` to use. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch | undefined;
  /** The WebSocket constructor. @default isomorphic-ws (`ws` in Node: upgrade headers, send callbacks; the native one in browsers) */
  WebSocket?: WebSocketConstructor | undefined;
  /** Persists per-session cursors so a restarted app resumes where it stopped. @default memoryCursorStore() */
  cursorStore?: CursorStore | undefined;
  /** Deadline of one command call (including its retries), in ms. @default 30_000 */
  requestTimeoutMs?: number | undefined;
  /** Events buffered per unread subscription/turn before consecutive deltas are coalesced (F6). @default 1000 */
  bufferLimit?: number | undefined;
  /** Longest wait in `close()` for queued commands to finish before they are rejected (F7). @default 2000 */
  closeTimeoutMs?: number | undefined;
  /**
   * No bytes at all for this long means the connection is half-open: drop it and
   * reconnect. Keep it above the server's heartbeat (15 s on the reference server).
   * @default 45_000
   */
  heartbeatTimeoutMs?: number | undefined;
  /**
   * Deadline for a connection attempt to open; an attempt that never opens
   * counts towards moving down the transport ladder (F8). @default 10_000
   */
  openTimeoutMs?: number | undefined;
  /** Where to log. @default silent */
  logger?: Logger | undefined;
}

/** The reconnect options after defaults. */
export type ResolvedReconnectOptions = Required<{ [K in keyof ReconnectOptions]-?: Exclude<ReconnectOptions[K], undefined> }>;

/** The defaults of every reconnect option. */
export const RECONNECT_DEFAULTS = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 'full',
  maxAttempts: Number.POSITIVE_INFINITY,
} as const satisfies ResolvedReconnectOptions;

/** Defaults of every optional `createClient` option (those with a static value). */
export const DEFAULTS = {
  transports: ['websocket', 'sse', 'poll'],
  requestTimeoutMs: 30_000,
  bufferLimit: 1000,
  closeTimeoutMs: 2000,
  // Three missed server heartbeats (15 s each) before a connection counts as half-open.
  heartbeatTimeoutMs: 45_000,
  openTimeoutMs: 10_000,
  reconnect: RECONNECT_DEFAULTS,
} as const satisfies Required<
  Pick<
    ClientOptions,
    'transports' | 'requestTimeoutMs' | 'bufferLimit' | 'closeTimeoutMs' | 'heartbeatTimeoutMs' | 'openTimeoutMs'
  > & {
    reconnect: ResolvedReconnectOptions;
  }
>;

/** `ClientOptions` after validation and defaults. */
export interface ResolvedClientOptions {
  baseUrl: URL;
  clientId: string;
  transports: readonly TransportName[];
  reconnect: ResolvedReconnectOptions;
  getHeaders(): Promise<Record<string, string>>;
  fetch: typeof globalThis.fetch;
  WebSocket: WebSocketConstructor;
  cursorStore: CursorStore;
  requestTimeoutMs: number;
  bufferLimit: number;
  closeTimeoutMs: number;
  heartbeatTimeoutMs: number;
  openTimeoutMs: number;
  logger: Logger;
}

const TRANSPORT_NAMES: ReadonlySet<string> = new Set(['websocket', 'sse', 'poll']);

function fail(field: string, expected: string, value: unknown): never {
  throw new TypeError(`createClient: \`${field}\` must be ${expected}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  try {
    return String(JSON.stringify(value) ?? value);
  } catch {
    return typeof value;
  }
}

function positive(field: string, value: unknown, fallback: number, { allowZero = false, allowInfinity = false } = {}): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (allowZero ? value >= 0 : value > 0) &&
    (allowInfinity || Number.isFinite(value));
  if (!ok) fail(field, `a ${allowZero ? 'non-negative' : 'positive'}${allowInfinity ? '' : ' finite'} number`, value);
  return value;
}

/** Validate `options` and fill in defaults field by field (a `{x: undefined}` never wipes a default). */
export function resolveOptions(options: ClientOptions): ResolvedClientOptions {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options);

  let baseUrl: URL;
  try {
    if (typeof options.baseUrl !== 'string' && !(options.baseUrl instanceof URL)) throw new Error('not a string');
    baseUrl = new URL(String(options.baseUrl));
  } catch {
    fail('baseUrl', 'an absolute http(s) URL', options.baseUrl);
  }
  if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') fail('baseUrl', 'an http(s) URL', options.baseUrl);
  // Routes are joined to the base path, so a base with a path prefix keeps it.
  if (!baseUrl.pathname.endsWith('/')) baseUrl.pathname += '/';

  const clientId = options.clientId ?? globalThis.crypto.randomUUID();
  if (typeof clientId !== 'string' || clientId.length === 0) fail('clientId', 'a non-empty string', clientId);

  const transports = options.transports ?? DEFAULTS.transports;
  if (
    !Array.isArray(transports) ||
    transports.length === 0 ||
    transports.some((name) => !TRANSPORT_NAMES.has(name)) ||
    new Set(transports).size !== transports.length
  ) {
    fail('transports', "a non-empty list of distinct 'websocket' | 'sse' | 'poll'", transports);
  }

  const r = options.reconnect ?? {};
  if (typeof r !== 'object' || r === null) fail('reconnect', 'an object', r);
  const d = RECONNECT_DEFAULTS;
  const reconnect: ResolvedReconnectOptions = {
    initialDelayMs: positive('reconnect.initialDelayMs', r.initialDelayMs, d.initialDelayMs, { allowZero: true }),
    maxDelayMs: positive('reconnect.maxDelayMs', r.maxDelayMs, d.maxDelayMs, { allowZero: true }),
    factor: positive('reconnect.factor', r.factor, d.factor),
    jitter: r.jitter ?? d.jitter,
    maxAttempts: positive('reconnect.maxAttempts', r.maxAttempts, d.maxAttempts, { allowInfinity: true }),
  };
  if (reconnect.factor < 1) fail('reconnect.factor', 'a number >= 1', reconnect.factor);
  if (reconnect.jitter !== 'full' && reconnect.jitter !== 'none') fail('reconnect.jitter', "'full' or 'none'", r.jitter);
  if (reconnect.maxAttempts !== Infinity && !Number.isInteger(reconnect.maxAttempts)) {
    fail('reconnect.maxAttempts', 'a positive integer or Infinity', reconnect.maxAttempts);
  }
  if (reconnect.maxDelayMs < reconnect.initialDelayMs) {
    fail('reconnect.maxDelayMs', `>= reconnect.initialDelayMs (${reconnect.initialDelayMs})`, reconnect.maxDelayMs);
  }

  const headers = options.headers;
  if (headers !== undefined && typeof headers !== 'function' && (typeof headers !== 'object' || headers === null)) {
    fail('headers', 'an object or a function returning one', headers);
  }
  const getHeaders = async (): Promise<Record<string, string>> => {
    const value = typeof headers === 'function' ? await headers() : headers;
    return { ...value };
  };

  // Read the global lazily (and call it unbound: browsers throw "Illegal
  // invocation" for `obj.fetch()`), so an interceptor installed later still applies.
  const fetchFn: typeof globalThis.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  if (typeof fetchFn !== 'function') fail('fetch', 'a fetch function', fetchFn);

  // isomorphic-ws is the browser's own WebSocket in browsers and `ws` in Node.
  // In Node we prefer `ws` over the global (undici) WebSocket on purpose: it
  // sends the `headers` option on the upgrade (auth), has a send callback (F9:
  // a send is confirmed, never check-then-send) and `terminate()` for half-open
  // sockets. The global is only the fallback if isomorphic-ws is unavailable.
  const WebSocketCtor =
    options.WebSocket ??
    ((IsomorphicWebSocket as unknown as WebSocketConstructor | undefined) ??
      (globalThis.WebSocket as WebSocketConstructor | undefined));
  if (typeof WebSocketCtor !== 'function') fail('WebSocket', 'a WebSocket constructor', WebSocketCtor);

  const cursorStore = options.cursorStore ?? memoryCursorStore();
  if (typeof cursorStore?.get !== 'function' || typeof cursorStore.set !== 'function') {
    fail('cursorStore', 'an object with get(key) and set(key, cursor)', cursorStore);
  }

  const logger = options.logger ?? {};
  if (typeof logger !== 'object' || logger === null) fail('logger', 'an object', logger);

  return {
    baseUrl,
    clientId,
    transports: [...transports],
    reconnect,
    getHeaders,
    fetch: fetchFn,
    WebSocket: WebSocketCtor,
    cursorStore,
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, DEFAULTS.requestTimeoutMs),
    bufferLimit: positive('bufferLimit', options.bufferLimit, DEFAULTS.bufferLimit),
    closeTimeoutMs: positive('closeTimeoutMs', options.closeTimeoutMs, DEFAULTS.closeTimeoutMs, { allowZero: true }),
    heartbeatTimeoutMs: positive('heartbeatTimeoutMs', options.heartbeatTimeoutMs, DEFAULTS.heartbeatTimeoutMs),
    openTimeoutMs: positive('openTimeoutMs', options.openTimeoutMs, DEFAULTS.openTimeoutMs),
    logger,
  };
}
