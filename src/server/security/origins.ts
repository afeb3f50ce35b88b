/** Allowed origins: which web pages may call the server (CORS) and open its WebSocket (checked against `Origin`). */
import { ServerError } from '../core/server-error.js';

/**
 * Which browser origins may use the server: `'*'` any, a list of origins
 * (`'https://app.example.com'`, exact match), or a function. A request
 * without `Origin` (not from a page, or a same-origin GET) and a page of the
 * server's own origin are always allowed: the check guards a user's browser
 * against other sites, not against clients that can forge any header.
 */
export type AllowedOrigins = '*' | readonly string[] | ((origin: string) => boolean);

const PREFLIGHT = {
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, Idempotency-Key, X-Tether-Client, Last-Event-ID',
  'Access-Control-Max-Age': '600',
} as const;

/**
 * The server's origin policy, one per server. Default: `'*'` without
 * `authenticate` (a loopback development server, as before), and only the
 * server's own origin once `authenticate` is set — a server that trusts a
 * cookie must not be reachable from any page.
 *
 * @example
 * const origins = new OriginPolicy(['https://app.example.com'], true);
 * origins.allows('https://evil.example', 'api.example.com'); // false
 */
export class OriginPolicy {
  readonly #allowed: AllowedOrigins;
  readonly #cors: boolean;

  constructor(allowed: AllowedOrigins | undefined, authenticated: boolean, cors = true) {
    this.#allowed = allowed ?? (authenticated ? [] : '*');
    this.#cors = cors;
  }

  /** Whether a request with this `Origin` (and `Host`) may be served. */
  allows(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    const allowed = this.#allowed;
    if (allowed === '*') return true;
    if (host !== undefined && sameOrigin(origin, host)) return true;
    if (typeof allowed === 'function') return allowed(origin) === true;
    return allowed.includes(origin);
  }

  /**
   * Throws `403 origin_not_allowed` for a page of another, not allowed origin:
   * before any other work, on every request and on the WebSocket upgrade.
   */
  check(origin: string | undefined, host: string | undefined): void {
    if (!this.allows(origin, host)) throw new ServerError('origin_not_allowed', 'Requests from this origin are not allowed', 403);
  }

  /** CORS headers for a reply to a request with this `Origin` (none when CORS is off or the origin is not allowed). */
  corsHeaders(origin: string | undefined, host: string | undefined): Record<string, string> {
    if (!this.#cors) return {};
    if (this.#allowed === '*') return { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Retry-After' };
    if (origin === undefined || !this.allows(origin, host)) return { Vary: 'Origin' };
    return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': 'Retry-After', Vary: 'Origin' };
  }

  /** Headers of a preflight answer (`OPTIONS`), or `undefined` when the origin is not allowed. */
  preflightHeaders(origin: string | undefined, host: string | undefined): Record<string, string> | undefined {
    if (!this.#cors || !this.allows(origin, host)) return undefined;
    return { ...this.corsHeaders(origin, host), ...PREFLIGHT };
  }
}

function sameOrigin(origin: string, host: string): boolean {
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
