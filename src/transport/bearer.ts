/** Bearer credentials on the wire: the `Authorization` header, and the WebSocket subprotocols that carry it where headers cannot go. */

import { wsProtocols } from '../protocol/constants.js';

/** The `Authorization` header among `headers`, whatever its case. */
export function authorizationOf(headers: Record<string, string>): string | undefined {
  for (const name in headers) if (name.toLowerCase() === 'authorization') return headers[name];
  return undefined;
}

/** The bearer token of the `Authorization` among `headers`, or `undefined` (no header, another scheme). */
export function bearerToken(headers: Record<string, string>): string | undefined {
  return /^Bearer +(\S.*)$/i.exec(authorizationOf(headers)?.trim() ?? '')?.[1];
}

/** base64url (RFC 4648 §5, no padding) of the UTF-8 bytes of `text`: the characters a subprotocol may hold. */
export function base64url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The subprotocols a WebSocket offers for `token`: the protocol's own first,
 * then the token. A query parameter is not used: it lands in proxy logs.
 *
 * @example
 * new WebSocket(url, bearerSubprotocols('s3cret')); // ['agent-tether.v1', 'agent-tether.bearer.czNjcmV0']
 */
export function bearerSubprotocols(token: string): string[] {
  return [wsProtocols.v1, wsProtocols.bearerPrefix + base64url(token)];
}
