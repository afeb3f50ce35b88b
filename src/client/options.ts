import { credentialsProvider, type HeadersOption, type TokenOption } from './credentials.js';
import IsomorphicWebSocket from 'isomorphic-ws';
import { limits } from '../protocol/constants.js';
import type { TransportName, WebSocketConstructor } from '../transport/transport.js';
import type { Logger } from '../logging/logger.js';
import type { CursorStore } from './cursor-store.js';
import { memoryCursorStore } from './cursor-store.js';
import { randomId } from '../internal/random-id.js';

export type { Logger };

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


/**
 * Options of `createClient`. Only `baseUrl` is required; `{ x: undefined }`
 * means "use the default" for every field.
 */
export interface ClientOptions {
  /** The server's http(s) base URL; the WebSocket URL is derived from it. */
  baseUrl: string | URL;
  /** This client's id, sent as `X-Tether-Client`; it shows up as `turn.queued.clientId` and `turn.canceled.canceledBy`. @default a random UUID v4 (crypto.randomUUID, or crypto.getRandomValues where a page has no randomUUID) */
  clientId?: string | undefined;
  /** The transport ladder, best first. @default ['websocket', 'sse', 'poll'] */
  transports?: readonly TransportName[] | undefined;
  /** Reconnect backoff; each field defaults separately. */
  reconnect?: ReconnectOptions | undefined;
  /** Extra request headers, or a function returning them; re-read on every connect and request (fresh tokens). */
  headers?: HeadersOption | undefined;
  /**
   * A bearer token, or a function (sync or async) returning one; called again
   * on every connect and request, so a refreshed token reaches the next one.
   * HTTP, SSE and long-poll send `Authorization: Bearer <token>`; the
   * WebSocket (where browsers cannot set headers) offers the subprotocols
   * `agent-tether.v1` and `agent-tether.bearer.<base64url(token)>`. A 401
   * ends in a typed `unauthorized`, a 403 in `forbidden`: never retried with
   * the same token.
   * @example createClient({ baseUrl, token: async () => (await auth.session()).accessToken })
   */
  token?: TokenOption | undefined;
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
  /**
   * Largest message accepted from the server, in bytes: a WebSocket frame, an
   * SSE event (or a line that never ends), a long-poll or command reply. Past
   * it the client fails with a typed `ProtocolError` (`frame_too_large`,
   * `reply_too_large`) instead of growing (F6); the client's memory for
   * messages stays within a small multiple of this.
   * @default 67_108_864 (64 MiB: `turn.completed.output` repeats a whole turn's text)
   */
  maxMessageBytes?: number | undefined;
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
  maxAttempts: Infinity,
} as const satisfies ResolvedReconnectOptions;

/** Defaults of every optional `createClient` option (those with a static value). */
export const CLIENT_DEFAULTS = {
  transports: ['websocket', 'sse', 'poll'],
  requestTimeoutMs: 30_000,
  bufferLimit: 1000,
  closeTimeoutMs: 2000,
  // Three missed server heartbeats (15 s each) before a connection counts as half-open.
  heartbeatTimeoutMs: 45_000,
  openTimeoutMs: 10_000,
  maxMessageBytes: limits.maxServerFrameBytes,
  reconnect: RECONNECT_DEFAULTS,
} as const satisfies Required<
  Pick<
    ClientOptions,
    'transports' | 'requestTimeoutMs' | 'bufferLimit' | 'closeTimeoutMs' | 'heartbeatTimeoutMs' | 'openTimeoutMs' | 'maxMessageBytes'
  > & {
    reconnect: ResolvedReconnectOptions;
  }
>;

/**
 * @deprecated Renamed `CLIENT_DEFAULTS` (the server and testing kit have their own defaults); this alias goes in the next minor version.
 */
export const DEFAULTS = CLIENT_DEFAULTS;

/** `ClientOptions` after validation and defaults. */
export interface ResolvedClientOptions {
  baseUrl: URL;
  clientId: string;
  transports: readonly TransportName[];
  reconnect: ResolvedReconnectOptions;
  /** `headers` plus the token's `Authorization`, read again each time. */
  getHeaders(): Promise<Record<string, string>>;
  /** A `token` option was given: the WebSocket carries it as a subprotocol. */
  bearer: boolean;
  fetch: typeof globalThis.fetch;
  WebSocket: WebSocketConstructor;
  cursorStore: CursorStore;
  requestTimeoutMs: number;
  bufferLimit: number;
  closeTimeoutMs: number;
  heartbeatTimeoutMs: number;
  openTimeoutMs: number;
  maxMessageBytes: number;
  logger: Logger;
}

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

/** The one TypeError of a bad option: which option, what it must be, and what it got. */
function fail(field: string, expected: string, value: unknown): never {
  let got: string;
  try {
    // JSON shows strings quoted and objects whole; numbers as themselves (JSON turns Infinity and NaN into null).
    got = typeof value === 'function' ? 'a function' : typeof value === 'number' ? String(value) : String(JSON.stringify(value) ?? value);
  } catch {
    got = typeof value; // circular objects, bigints
  }
  throw new TypeError(`createClient: \`${field}\` must be ${expected}, got ${got}`);
}

/** A numeric option's check: what it must be, and the test. */
type NumberRule = readonly [expected: string, ok: (value: number) => boolean];

const AT_LEAST_0: NumberRule = ['a finite number >= 0', (v) => Number.isFinite(v) && v >= 0];
const ABOVE_0: NumberRule = ['a finite number > 0', (v) => Number.isFinite(v) && v > 0];

/** Numeric options (top level and `reconnect.*`), checked by one loop. Absent (`undefined`) means the default; `null` is invalid. */
const RECONNECT_RULES: Record<Exclude<keyof ResolvedReconnectOptions, 'jitter'>, NumberRule> = {
  initialDelayMs: AT_LEAST_0,
  maxDelayMs: AT_LEAST_0,
  factor: ['a finite number >= 1', (v) => Number.isFinite(v) && v >= 1],
  maxAttempts: ['an integer >= 1 or Infinity', (v) => v === Infinity || (Number.isInteger(v) && v >= 1)],
};
const RULES: Record<'requestTimeoutMs' | 'bufferLimit' | 'closeTimeoutMs' | 'heartbeatTimeoutMs' | 'openTimeoutMs' | 'maxMessageBytes', NumberRule> = {
  requestTimeoutMs: ABOVE_0,
  bufferLimit: ABOVE_0,
  closeTimeoutMs: AT_LEAST_0,
  heartbeatTimeoutMs: ABOVE_0,
  openTimeoutMs: ABOVE_0,
  maxMessageBytes: ['an integer >= 1024', (v) => Number.isSafeInteger(v) && v >= 1024],
};

/** `defaults` with every number `from` gives in their place, each checked against its rule. */
function numbers<T extends object>(from: object, rules: Record<string, NumberRule>, defaults: T, prefix = ''): T {
  const out: Record<string, unknown> = { ...(defaults as object) };
  for (const key in rules) {
    const value = (from as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const [expected, ok] = rules[key]!;
    if (!ok(value as number)) fail(prefix + key, expected, value);
    out[key] = value;
  }
  return out as T;
}

/** Validate `options` and fill in defaults field by field (a `{x: undefined}` never wipes a default). */
export function resolveOptions(options: ClientOptions): ResolvedClientOptions {
  if (!isObject(options)) fail('options', 'an object', options);

  const url = options.baseUrl;
  let baseUrl: URL | undefined;
  try {
    if (typeof url === 'string' || url instanceof URL) baseUrl = new URL(url);
  } catch {
    // Not a URL: reported below.
  }
  if (baseUrl?.protocol !== 'http:' && baseUrl?.protocol !== 'https:') fail('baseUrl', 'an http(s) URL', url);
  // Routes are joined to the base path, so a base with a path prefix keeps it.
  if (!baseUrl.pathname.endsWith('/')) baseUrl.pathname += '/';

  const clientId = options.clientId ?? randomId();
  if (typeof clientId !== 'string' || clientId === '') fail('clientId', 'a non-empty string', clientId);

  const transports = options.transports ?? CLIENT_DEFAULTS.transports;
  if (
    !Array.isArray(transports) ||
    transports.length === 0 ||
    transports.some((name) => !CLIENT_DEFAULTS.transports.includes(name)) ||
    new Set(transports).size !== transports.length
  ) {
    fail('transports', "a non-empty list of distinct 'websocket', 'sse', 'poll'", transports);
  }

  const r = options.reconnect ?? {};
  if (!isObject(r)) fail('reconnect', 'an object', r);
  const reconnect = numbers(r, RECONNECT_RULES, { ...RECONNECT_DEFAULTS, jitter: r.jitter ?? RECONNECT_DEFAULTS.jitter } as ResolvedReconnectOptions, 'reconnect.');
  if (reconnect.jitter !== 'full' && reconnect.jitter !== 'none') fail('reconnect.jitter', "'full' or 'none'", r.jitter);
  if (reconnect.maxDelayMs < reconnect.initialDelayMs) {
    fail('reconnect.maxDelayMs', `>= reconnect.initialDelayMs (${reconnect.initialDelayMs})`, reconnect.maxDelayMs);
  }

  const headers = options.headers;
  if (headers !== undefined && typeof headers !== 'function' && !isObject(headers)) fail('headers', 'an object or a function', headers);

  const token = options.token;
  if (token !== undefined && typeof token !== 'function' && (typeof token !== 'string' || token === '')) {
    fail('token', 'a non-empty string or a function', token);
  }

  // Read the global lazily (and call it unbound: browsers throw "Illegal
  // invocation" for `obj.fetch()`), so an interceptor installed later still applies.
  const fetch: typeof globalThis.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  if (typeof fetch !== 'function') fail('fetch', 'a function', fetch);

  // isomorphic-ws is the browser's own WebSocket in browsers and `ws` in Node.
  // In Node we prefer `ws` over the global (undici) WebSocket on purpose: it
  // sends the `headers` option on the upgrade (auth), has a send callback (F9:
  // a send is confirmed, never check-then-send) and `terminate()` for half-open
  // sockets. The global is only the fallback if isomorphic-ws is unavailable.
  const WebSocket =
    options.WebSocket ??
    ((IsomorphicWebSocket as unknown as WebSocketConstructor | undefined) ??
      (globalThis.WebSocket as WebSocketConstructor | undefined));
  if (typeof WebSocket !== 'function') fail('WebSocket', 'a constructor', WebSocket);

  const cursorStore = options.cursorStore ?? memoryCursorStore();
  if (typeof cursorStore?.get !== 'function' || typeof cursorStore.set !== 'function') {
    fail('cursorStore', 'an object with get() and set()', cursorStore);
  }

  const logger = options.logger ?? {};
  if (!isObject(logger)) fail('logger', 'an object', logger);

  return {
    ...numbers(options, RULES, CLIENT_DEFAULTS),
    baseUrl,
    clientId,
    transports: [...transports],
    reconnect,
    getHeaders: credentialsProvider(headers, token),
    bearer: token !== undefined,
    fetch,
    WebSocket,
    cursorStore,
    logger,
  };
}
