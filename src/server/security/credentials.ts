/** Credentials on the wire: the bearer token of an HTTP request or of a WebSocket upgrade's subprotocols. */
import { wsProtocols } from '../../protocol/index.js';

/** The token of `Authorization: Bearer <token>`, `undefined` when absent or another scheme. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return match?.[1];
}

/**
 * The token a WebSocket client offered as `agent-tether.bearer.<base64url>`
 * in `Sec-WebSocket-Protocol`, `undefined` when none (or not valid base64url).
 */
export function subprotocolToken(secWebSocketProtocol: string | undefined): string | undefined {
  if (secWebSocketProtocol === undefined) return undefined;
  for (const offered of secWebSocketProtocol.split(',')) {
    const name = offered.trim();
    if (!name.startsWith(wsProtocols.bearerPrefix)) continue;
    const encoded = name.slice(wsProtocols.bearerPrefix.length);
    if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
    return decodeBase64Url(encoded);
  }
  return undefined;
}

/**
 * The subprotocol the server selects from those offered: `agent-tether.v1`
 * when offered; never the bearer one, so the token is not echoed back.
 * `false` selects none (a client that offered no subprotocol).
 */
export function selectSubprotocol(offered: ReadonlySet<string>): string | false {
  return offered.has(wsProtocols.v1) ? wsProtocols.v1 : false;
}

// atob, not Buffer: the msw handlers run this in browsers too.
function decodeBase64Url(encoded: string): string | undefined {
  const base64 = encoded.replace(/-/g, '+').replace(/_/g, '/');
  try {
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
  } catch {
    return undefined;
  }
}
