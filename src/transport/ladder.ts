import type { Clock } from '../internal/clock.js';
import type { TransportName } from './transport.js';

/** Options of the transport ladder (WebSocket → SSE → long-poll, F8). */
export interface LadderOptions {
  /** Transports in order of preference. */
  transports: readonly TransportName[];
  /** Consecutive attempts that never opened before moving one rung down. @default 2 */
  failuresBeforeFallback?: number;
  /** Time on a lower rung, after it opened, before the manager should probe the top transport again. @default 60_000 */
  upgradeAfterMs?: number;
  clock: Clock;
}

/**
 * Picks the transport for each connection attempt: moves down when a transport
 * keeps failing to open, and says when to probe back up. Pure bookkeeping: it
 * opens nothing itself.
 *
 * INTERFACE FIXED BY THE LEAD; implementation owned by the transport layer.
 */
export class TransportLadder {
  constructor(_options: LadderOptions) {
    throw new Error('not implemented yet');
  }
  /** The transport the next attempt should use. */
  get current(): TransportName {
    throw new Error('not implemented yet');
  }
  /** Report how an attempt with `name` ended: `opened` is whether it ever opened. */
  report(_name: TransportName, _outcome: { opened: boolean }): void {
    throw new Error('not implemented yet');
  }
  /** Whether the current rung is below the top and has been open long enough to try the top again. */
  shouldProbeUpgrade(): boolean {
    throw new Error('not implemented yet');
  }
  /** The top rung opened during a probe: make it current again. */
  upgraded(_name: TransportName): void {
    throw new Error('not implemented yet');
  }
}
