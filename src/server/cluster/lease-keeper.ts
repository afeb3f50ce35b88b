/** LeaseKeeper: keeps a node's runner leases alive — renewals at a fixed rate, each lease given up locally before Redis could let it lapse, and how late renewals ran. */
import type { Clock } from '../../internal/clock.js';
import type { Logger } from '../../logging/logger.js';

/** How renewals went since the node started (what `RedisCluster#leaseStats()` reports). */
export interface LeaseStats {
  /** Renewal rounds that Redis answered. */
  renewals: number;
  /** Rounds that ran more than a third of the TTL after they were due (timer late, Redis slow). */
  late: number;
  /** The longest a lease depended on one renewal: from sending a round to the answer of the next (must stay under the TTL). */
  maxSpanMs: number;
  /** The latest a round's timer fired after it was due. */
  maxTimerLagMs: number;
  /** The slowest round trip of a round. */
  maxRoundTripMs: number;
  /** Leases given up because no renewal was confirmed in time (never the same lease as a double run). */
  expired: number;
  /** Leases Redis said another node holds now. */
  taken: number;
}

/** What the keeper needs from its cluster. */
export interface LeaseKeeperOptions {
  clock: Clock;
  logger: Logger;
  ttlMs: number;
  /** Renew these leases in one round trip; resolves with the 1-based indexes of those this node no longer holds. */
  renew(sessionIds: readonly string[]): Promise<number[]>;
  /** This node no longer holds the session's lease (or cannot be sure it does): stop running its turns. */
  lost(sessionId: string, why: 'expired' | 'taken'): void;
}

/**
 * The leases one node holds and until when each is surely valid.
 *
 * A lease is valid until `sentAt + ttl`, where `sentAt` is when the command
 * that took or renewed it was sent: Redis ran it at that moment or later, so
 * Redis's own expiry is never earlier. Renewals run every quarter of the TTL
 * at a fixed rate (not "a quarter after the last one answered"), so a slow
 * round trip does not push the next one back. When no renewal was confirmed by
 * a lease's deadline, the node gives it up itself (its turns stop) before
 * another node can adopt the session: a runner that lost its lease never runs
 * a turn beside the new runner, even when Redis or this process is too slow to
 * say so (the append fence keeps the log safe either way).
 */
export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  readonly #periodMs: number;
  /** Session id → time until which its lease is surely held. */
  readonly #validUntil = new Map<string, number>();
  #stats: LeaseStats = { renewals: 0, late: 0, maxSpanMs: 0, maxTimerLagMs: 0, maxRoundTripMs: 0, expired: 0, taken: 0 };
  #lastSentAt: number | undefined;
  #inFlight = false;
  #tick: unknown;
  #watchdog: { handle: unknown; at: number } | undefined;
  #stopped = false;

  constructor(options: LeaseKeeperOptions) {
    this.#o = options;
    this.#periodMs = Math.max(25, Math.floor(options.ttlMs / 4));
  }

  /** Start renewing (every quarter of the TTL). */
  start(): void {
    this.#schedule(this.#o.clock.now() + this.#periodMs);
  }

  /** This node took (or renewed) the session's lease with a command sent at `sentAt`. */
  held(sessionId: string, sentAt: number): void {
    if (this.#stopped) return;
    this.#validUntil.set(sessionId, Math.max(this.#validUntil.get(sessionId) ?? 0, sentAt + this.#o.ttlMs));
    this.#armWatchdog();
  }

  /** The lease is given up (released, lost): no more renewals for it. */
  dropped(sessionId: string): void {
    this.#validUntil.delete(sessionId);
  }

  /** Whether the session's lease is surely held now. */
  holds(sessionId: string): boolean {
    const until = this.#validUntil.get(sessionId);
    return until !== undefined && this.#o.clock.now() < until;
  }

  /** The sessions whose leases it keeps. */
  get sessions(): string[] {
    return [...this.#validUntil.keys()];
  }

  stats(): LeaseStats {
    return { ...this.#stats };
  }

  stop(): void {
    this.#stopped = true;
    this.#o.clock.clearTimeout(this.#tick);
    if (this.#watchdog) this.#o.clock.clearTimeout(this.#watchdog.handle);
    this.#watchdog = undefined;
    this.#validUntil.clear();
  }

  /* ---------------------------------------------------------------- */

  #schedule(dueAt: number): void {
    if (this.#stopped) return;
    this.#tick = this.#o.clock.setTimeout(() => void this.#round(dueAt), Math.max(0, dueAt - this.#o.clock.now()));
  }

  async #round(dueAt: number): Promise<void> {
    const clock = this.#o.clock;
    const firedAt = clock.now();
    this.#stats.maxTimerLagMs = Math.max(this.#stats.maxTimerLagMs, firedAt - dueAt);
    // Fixed rate: the next round is due a period after this one was due, however long this one takes.
    this.#schedule(Math.max(dueAt + this.#periodMs, firedAt + 1));
    // A round still waiting for Redis is not doubled: the next one goes once it answered or failed.
    if (this.#inFlight) return;
    const ids = this.sessions;
    if (ids.length === 0) {
      this.#lastSentAt = undefined;
      return;
    }
    this.#inFlight = true;
    const sentAt = clock.now();
    try {
      const lost = await this.#o.renew(ids);
      const now = clock.now();
      this.#record(firedAt - dueAt, sentAt, now);
      const gone = new Set(lost.map((index) => ids[index - 1]!));
      for (const id of ids) {
        if (gone.has(id)) this.#lose(id, 'taken');
        else if (this.#validUntil.has(id)) this.held(id, sentAt);
      }
    } catch (error) {
      // Redis unreachable or failing: the leases stay valid until their deadlines, and the watchdog gives them up then.
      this.#o.logger.warn?.({ err: error }, 'agent-tether: could not renew runner leases; retrying');
    } finally {
      this.#inFlight = false;
    }
    this.#expire();
  }

  #record(timerLagMs: number, sentAt: number, answeredAt: number): void {
    const s = this.#stats;
    const roundTripMs = answeredAt - sentAt;
    const spanMs = this.#lastSentAt === undefined ? roundTripMs : answeredAt - this.#lastSentAt;
    this.#lastSentAt = sentAt;
    s.renewals++;
    s.maxRoundTripMs = Math.max(s.maxRoundTripMs, roundTripMs);
    s.maxSpanMs = Math.max(s.maxSpanMs, spanMs);
    if (timerLagMs + roundTripMs > this.#o.ttlMs / 3) {
      s.late++;
      this.#o.logger.warn?.(
        { timerLagMs, roundTripMs, spanMs, leaseTtlMs: this.#o.ttlMs, leases: this.#validUntil.size },
        'agent-tether: runner lease renewal ran late (busy process or slow Redis); raise cluster.leaseTtlMs if this repeats',
      );
    }
  }

  #lose(sessionId: string, why: 'expired' | 'taken'): void {
    const until = this.#validUntil.get(sessionId);
    if (until === undefined) return;
    this.#validUntil.delete(sessionId);
    if (why === 'expired') {
      this.#o.logger.warn?.(
        { sessionId, overdueMs: this.#o.clock.now() - until, renewalPending: this.#inFlight, leaseTtlMs: this.#o.ttlMs, maxTimerLagMs: this.#stats.maxTimerLagMs },
        'agent-tether: no lease renewal confirmed within the TTL; giving the session up before another node takes it',
      );
    }
    this.#stats[why]++;
    this.#o.lost(sessionId, why);
  }

  /** Give up every lease whose deadline passed without a confirmed renewal. */
  #expire(): void {
    const now = this.#o.clock.now();
    for (const [id, until] of [...this.#validUntil]) if (now >= until) this.#lose(id, 'expired');
    this.#armWatchdog();
  }

  /** A timer at the earliest deadline, so a lease is given up on time even while its renewal hangs. */
  #armWatchdog(): void {
    if (this.#stopped) return;
    let earliest = Infinity;
    for (const until of this.#validUntil.values()) earliest = Math.min(earliest, until);
    if (this.#watchdog && this.#watchdog.at <= earliest) return;
    if (this.#watchdog) this.#o.clock.clearTimeout(this.#watchdog.handle);
    this.#watchdog = undefined;
    if (earliest === Infinity) return;
    const handle = this.#o.clock.setTimeout(
      () => {
        this.#watchdog = undefined;
        // The timers phase runs before I/O: let a renewal answer that already arrived be read first.
        setImmediate(() => this.#expire());
      },
      Math.max(0, earliest - this.#o.clock.now()),
    );
    this.#watchdog = { handle, at: earliest };
  }
}
