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

/** Defaults of the optional `LadderOptions` fields. */
export const LADDER_DEFAULTS = {
  failuresBeforeFallback: 2,
  upgradeAfterMs: 60_000,
} as const satisfies Required<Pick<LadderOptions, 'failuresBeforeFallback' | 'upgradeAfterMs'>>;

const NAMES: readonly string[] = ['websocket', 'sse', 'poll'];

/**
 * Picks the transport for each connection attempt: moves down when a transport
 * keeps failing to open, and says when to probe back up. Pure bookkeeping: it
 * opens nothing itself.
 *
 * Rules:
 * - Starts on the first rung. `failuresBeforeFallback` consecutive attempts
 *   on the current rung that never opened move it one rung down; an attempt
 *   that opened resets the count (centrifuge-js: move on only when an
 *   attempt never opened).
 * - At the bottom, `failuresBeforeFallback` more never-opened attempts wrap
 *   it to the top: when every rung fails (offline, server down) the client
 *   keeps cycling, so once the network is back it lands on the best
 *   transport that works instead of staying on long-poll. The manager's
 *   backoff keeps growing across the wrap.
 * - On a lower rung, `shouldProbeUpgrade()` turns true once per
 *   `upgradeAfterMs` spent there while the rung is healthy (its last attempt
 *   did not fail to open); the timer starts when the rung became current.
 *   The manager then tries the top transport alongside; if it opens, it
 *   calls `upgraded(top)`. A failed probe (`report(top, {opened:false})`)
 *   changes nothing on the current rung: the next probe comes one
 *   `upgradeAfterMs` later.
 * - `report()` for a rung other than the current one is a probe outcome:
 *   `opened:true` from a higher rung counts as `upgraded()`.
 *
 * @example
 * const ladder = new TransportLadder({ transports: ['websocket', 'sse', 'poll'], clock: systemClock });
 * const transport = createTransport(ladder.current, options, events);
 * // … when it closes:
 * ladder.report(transport.name, { opened: info.opened });
 */
export class TransportLadder {
  readonly #transports: readonly TransportName[];
  readonly #failuresBeforeFallback: number;
  readonly #upgradeAfterMs: number;
  readonly #clock: Clock;
  #rung = 0;
  #failures = 0;
  /** When the current (lower) rung became current, or the last probe was signalled. */
  #since: number;

  constructor({
    transports,
    failuresBeforeFallback = LADDER_DEFAULTS.failuresBeforeFallback,
    upgradeAfterMs = LADDER_DEFAULTS.upgradeAfterMs,
    clock,
  }: LadderOptions) {
    if (
      !Array.isArray(transports) ||
      transports.length === 0 ||
      new Set(transports).size !== transports.length ||
      transports.some((name) => !NAMES.includes(name))
    ) {
      throw new TypeError('transports: expected distinct "websocket" | "sse" | "poll"');
    }
    if (!Number.isInteger(failuresBeforeFallback) || failuresBeforeFallback < 1) {
      throw new TypeError('failuresBeforeFallback: expected an integer >= 1');
    }
    if (!(upgradeAfterMs >= 0) || !Number.isFinite(upgradeAfterMs)) {
      throw new TypeError('upgradeAfterMs: expected a finite number >= 0');
    }
    this.#transports = [...transports];
    this.#failuresBeforeFallback = failuresBeforeFallback;
    this.#upgradeAfterMs = upgradeAfterMs;
    this.#clock = clock;
    this.#since = clock.now();
  }

  /** The transport the next attempt should use. */
  get current(): TransportName {
    return this.#transports[this.#rung] as TransportName;
  }

  /** Report how an attempt with `name` ended: `opened` is whether it ever opened. */
  report(name: TransportName, outcome: { opened: boolean }): void {
    const index = this.#transports.indexOf(name);
    if (index === this.#rung) {
      if (outcome.opened) this.#failures = 0;
      else if (++this.#failures >= this.#failuresBeforeFallback) this.#moveTo((index + 1) % this.#transports.length);
    } else if (index >= 0 && index < this.#rung && outcome.opened) {
      this.#moveTo(index); // a probe of a higher rung opened: as `upgraded()`
    }
  }

  /** Whether the current rung is below the top and has been open long enough to try the top again. */
  shouldProbeUpgrade(): boolean {
    if (this.#rung === 0 || this.#failures > 0) return false;
    const now = this.#clock.now();
    if (now - this.#since < this.#upgradeAfterMs) return false;
    this.#since = now; // true once per period
    return true;
  }

  /** The top rung opened during a probe: make it current again. */
  upgraded(name: TransportName): void {
    const index = this.#transports.indexOf(name);
    if (index === -1) throw new TypeError(`upgraded: ${JSON.stringify(name)} not on the ladder`);
    if (index < this.#rung) this.#moveTo(index);
  }

  #moveTo(index: number): void {
    this.#rung = index;
    this.#failures = 0;
    this.#since = this.#clock.now();
  }
}
