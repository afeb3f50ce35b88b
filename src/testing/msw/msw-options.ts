/** The options of `createMswHandlers`, their defaults, and their checks. */
import type { Agent, Authenticate, Authorize, Logger, SessionStore } from '../../server.js';
import type { Script } from '../scripted-agent.js';

/** Options of `createMswHandlers`. */
export interface MswHandlersOptions {
  /** Base URL the app's client is configured with, e.g. `http://tether.test`. Required. */
  baseUrl: string;
  /**
   * The agent's script. Mutually exclusive with `agent`.
   * @default echoScript
   */
  script?: Script;
  /** A complete agent instead of a script. */
  agent?: Agent;
  /**
   * Where sessions and events are kept; a prompt is acknowledged once its
   * `turn.queued` is written here, as on the reference server.
   * @default memoryStore()
   */
  store?: SessionStore;
  /**
   * SSE `: ping` period; `0` turns heartbeats off.
   * @default 15000
   */
  heartbeatMs?: number;
  /**
   * `retry:` sent at the start of each SSE stream.
   * @default 1000
   */
  sseRetryMs?: number;
  /**
   * Who is calling, as on `createServer`: a principal from each request, or
   * `null` for `401 unauthorized`. A WebSocket whose credentials are refused
   * is closed with 4401 before its `welcome` (msw cannot refuse the upgrade
   * itself, as the real server does with HTTP 401).
   * @default undefined (no authentication)
   */
  authenticate?: Authenticate;
  /** What a principal may do to which session, as on `createServer`. @default ownerOrShared */
  authorize?: Authorize;
  /**
   * Diagnostics sink of the core.
   * @default {} (silent)
   */
  logger?: Logger;
}

/** Defaults of {@link MswHandlersOptions}. */
export const MSW_HANDLERS_DEFAULTS = {
  heartbeatMs: 15_000,
  sseRetryMs: 1_000,
  logger: {},
} as const satisfies Required<Omit<MswHandlersOptions, 'baseUrl' | 'script' | 'agent' | 'store' | 'authenticate' | 'authorize'>>;

/** The options checked, with defaults: each bad field is a `TypeError` naming it. */
export function resolveMswOptions(options: MswHandlersOptions): { base: URL; heartbeatMs: number; sseRetryMs: number; logger: Logger } {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createMswHandlers: `options` must be an object with a `baseUrl`');
  }
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new TypeError(`createMswHandlers: \`baseUrl\` must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`createMswHandlers: \`baseUrl\` must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  if (options.script !== undefined && options.agent !== undefined) {
    throw new TypeError('createMswHandlers: pass either `script` or `agent`, not both');
  }
  const heartbeatMs = options.heartbeatMs ?? MSW_HANDLERS_DEFAULTS.heartbeatMs;
  if (!(Number.isFinite(heartbeatMs) && heartbeatMs >= 0)) {
    throw new TypeError('createMswHandlers: `heartbeatMs` must be a non-negative number');
  }
  const sseRetryMs = options.sseRetryMs ?? MSW_HANDLERS_DEFAULTS.sseRetryMs;
  if (!(Number.isInteger(sseRetryMs) && sseRetryMs >= 0)) {
    throw new TypeError('createMswHandlers: `sseRetryMs` must be a non-negative integer');
  }
  return { base, heartbeatMs, sseRetryMs, logger: options.logger ?? MSW_HANDLERS_DEFAULTS.logger };
}
