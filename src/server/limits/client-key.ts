/** Whose quota a request spends: the key every limit counts under. */
import type { IncomingMessage } from 'node:http';

/**
 * The limit key of a request: its peer IP (`ip:` + address). The socket's
 * address, never `X-Forwarded-For`, which any client can write.
 *
 * @example
 * limits.openConnection(clientKey(req));
 */
export function clientKey(req: IncomingMessage): string {
  return `ip:${req.socket.remoteAddress ?? 'unknown'}`;
}
