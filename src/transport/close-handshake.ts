/** The WebSocket close: code ↔ error mapping, and the graceful flush-then-close handshake (F7). */
import { ConnectionError, HttpError, ProtocolError, type TetherError } from '../errors/index.js';
import type { Clock } from '../internal/clock.js';
import { closeCodes } from '../protocol/constants.js';

/** WebSocket `readyState` values (WHATWG). */
export const READY_STATE = { connecting: 0, open: 1, closing: 2, closed: 3 } as const;

/** How often the close looks at `bufferedAmount` while flushing. */
const FLUSH_POLL_MS = 10;

/** Close code of a WebSocket refused for its credentials after opening (401 in the 4000 range). */
const UNAUTHORIZED_CLOSE = 4401;

/** The error a server's close code means for the attempt. */
export function errorFromClose(code: number, reason: string): TetherError {
  const message = `The WebSocket closed (code ${code}${reason ? `: ${reason}` : ''})`;
  if (code === closeCodes.invalidData || code === closeCodes.policyViolation || code === closeCodes.tooBig) {
    return new ProtocolError(`The server rejected a frame: ${message}`, { code: 'rejected_frame' });
  }
  // 4401: a host that cannot refuse the upgrade itself (msw) refuses the credentials so, before `welcome`.
  if (code === UNAUTHORIZED_CLOSE) return new HttpError(401, `The server refused the credentials: ${message}`, { code: 'unauthorized' });
  return new ConnectionError(message, { code: code === closeCodes.goingAway ? 'server_going_away' : 'connection_closed' });
}

/** The close code we send when our side ends the attempt because of `error`. */
export function closeCodeFor(error: TetherError | undefined): number {
  if (!(error instanceof ProtocolError)) return closeCodes.normal;
  if (error.code === 'frame_too_large') return closeCodes.tooBig;
  if (error.code === 'invalid_json') return closeCodes.invalidData;
  return closeCodes.policyViolation;
}

/** Close with `code`, falling back to a bare close where a browser refuses the code (only 1000 and 3000–4999 are allowed from a client). */
export function closeWith(socket: WebSocket, code: number): void {
  try {
    socket.close(code);
  } catch {
    try {
      socket.close();
    } catch {
      // Already closing.
    }
  }
}

/**
 * F7: flush what is buffered (bounded), close with 1000, wait for the close
 * handshake (bounded); past the deadline `terminate` (Node `ws`) drops the
 * TCP socket. Resolves once the socket is closed or given up on.
 */
export function closeGracefully(socket: WebSocket, clock: Clock, timeoutMs: number, terminate?: () => void): Promise<void> {
  if (socket.readyState === READY_STATE.closed) return Promise.resolve();
  const deadline = clock.now() + timeoutMs;
  return new Promise<void>((resolve) => {
    let timer: unknown;
    const finish = (): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      socket.onclose = null;
      resolve();
    };
    const force = (): void => {
      timer = undefined;
      terminate?.();
      finish();
    };
    socket.onclose = finish;
    const sendClose = (): void => {
      timer = undefined;
      try {
        socket.close(closeCodes.normal);
      } catch {
        // Already closing: the close event still comes.
      }
      if (socket.readyState === READY_STATE.closed) return finish();
      timer = clock.setTimeout(force, Math.max(0, deadline - clock.now()));
    };
    const flush = (): void => {
      timer = undefined;
      const left = deadline - clock.now();
      if (socket.readyState !== READY_STATE.connecting && socket.bufferedAmount > 0 && left > 0) {
        timer = clock.setTimeout(flush, Math.min(FLUSH_POLL_MS, left));
        return;
      }
      sendClose();
    };
    if (socket.readyState === READY_STATE.connecting || socket.readyState === READY_STATE.closing) sendClose();
    else flush();
  });
}
