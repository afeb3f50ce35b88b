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

/**
 * Whether `next` may follow `prev`:
 *
 * | from | to |
 * |---|---|
 * | `idle` | `connecting`, `closed` |
 * | `connecting`, `open`, `reconnecting` | `open`, `reconnecting`, `idle`, `closed` |
 * | `closed` | nothing |
 *
 * So `connecting` only follows `idle`, and `open → open` is a transport switch
 * (ladder upgrade).
 */
export function canTransition(prev: ClientStatus, next: ClientStatus): boolean {
  return prev === 'idle' ? next === 'connecting' || next === 'closed' : prev !== 'closed' && next !== 'connecting';
}

/** Whether two states say the same (no change to emit). */
export function sameState(a: ClientState, b: ClientState): boolean {
  return (
    a.status === b.status &&
    ('transport' in a ? a.transport : undefined) === ('transport' in b ? b.transport : undefined) &&
    ('attempt' in a ? a.attempt : undefined) === ('attempt' in b ? b.attempt : undefined)
  );
}
