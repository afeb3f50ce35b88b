import type { TransportName } from '../transport/transport.js';

/** What the client's connection is doing. */
export type ClientStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * The client's connection state, a tagged union on `status`.
 * - `idle`: nothing to stream (no subscription, no live turn), so no connection.
 * - `connecting`: the first attempt after idle is under way on `transport`.
 * - `open`: `transport` carries events.
 * - `reconnecting`: `attempt` consecutive attempts failed; waiting (backoff) or trying `transport`.
 * - `closed`: `close()` was called. Final.
 */
export type ClientState =
  | { status: 'idle' }
  | { status: 'connecting'; transport: TransportName; attempt?: undefined }
  | { status: 'open'; transport: TransportName; attempt?: undefined }
  | { status: 'reconnecting'; transport: TransportName; attempt: number }
  | { status: 'closed' };

/** Which status may follow which. `open → open` is a transport switch (ladder upgrade). */
const TRANSITIONS: Readonly<Record<ClientStatus, readonly ClientStatus[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['open', 'reconnecting', 'idle', 'closed'],
  open: ['open', 'reconnecting', 'idle', 'closed'],
  reconnecting: ['reconnecting', 'open', 'idle', 'closed'],
  closed: [],
};

/** Whether `next` may follow `prev`. */
export function canTransition(prev: ClientStatus, next: ClientStatus): boolean {
  return TRANSITIONS[prev].includes(next);
}
