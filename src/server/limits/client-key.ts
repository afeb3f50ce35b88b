/** Whose quota a request spends: the key every limit counts under. */
import type { Caller } from '../security/principal.js';

/**
 * The limit key of a caller: its principal's id when authenticated, else its
 * IP (`caller.ip`, which honours `trustProxy`; else the socket's peer). A
 * principal keeps its quota across addresses; without authentication every
 * client behind one address shares it.
 *
 * @example
 * limits.openConnection(limitKey(command.caller, req.socket.remoteAddress));
 */
export function limitKey(caller: Caller | undefined, remoteAddress?: string): string {
  if (caller?.principal) return `principal:${caller.principal.id}`;
  return `ip:${caller?.ip ?? remoteAddress ?? 'unknown'}`;
}
