import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/internal/clock.js';
import { LeaseKeeper, type LeaseKeeperOptions } from '../../src/server/cluster/lease-keeper.js';
import { manualClock as sharedManualClock } from '../support/manual-clock.js';

/** The shared manual clock, advanced one due time at a time so the keeper's promise callbacks and setImmediate run in between. */
function manualClock(): Clock & { advance(ms: number): Promise<void> } {
  const base = sharedManualClock();
  const pending = new Map<unknown, number>();
  return {
    now: () => base.now(),
    setTimeout(fn, ms) {
      const handle: unknown = base.setTimeout(() => {
        pending.delete(handle);
        fn();
      }, ms);
      pending.set(handle, base.now() + ms);
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle);
      base.clearTimeout(handle);
    },
    async advance(ms) {
      const end = base.now() + ms;
      await settle();
      for (;;) {
        const next = Math.min(Infinity, ...pending.values());
        if (next > end) break;
        base.advance(Math.max(0, next - base.now()));
        await settle();
      }
      base.advance(end - base.now());
      await settle();
    },
  };
}

/** Let promise callbacks and the keeper's setImmediate run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Harness {
  keeper: LeaseKeeper;
  clock: ReturnType<typeof manualClock>;
  /** Each renewal round: when it was sent, which leases, and how to answer it. */
  rounds: Array<{ at: number; ids: readonly string[]; answer(lost?: number[]): void; fail(error: Error): void }>;
  lost: Array<{ sessionId: string; why: string; at: number }>;
  warnings: Array<{ fields: Record<string, unknown>; message: string }>;
}

function harness(ttlMs = 1000, autoAnswer?: { afterMs: number }): Harness {
  const clock = manualClock();
  const h = { clock, rounds: [], lost: [], warnings: [] } as unknown as Harness;
  const options: LeaseKeeperOptions = {
    clock,
    ttlMs,
    logger: { warn: (fields: Record<string, unknown>, message: string) => h.warnings.push({ fields, message }) } as LeaseKeeperOptions['logger'],
    renew: (ids) =>
      new Promise((resolve, reject) => {
        const round = { at: clock.now(), ids, answer: (lost: number[] = []) => resolve(lost), fail: reject };
        h.rounds.push(round);
        if (autoAnswer) clock.setTimeout(() => round.answer(), autoAnswer.afterMs);
      }),
    lost: (sessionId, why) => h.lost.push({ sessionId, why, at: clock.now() }),
  };
  h.keeper = new LeaseKeeper(options);
  h.keeper.start();
  return h;
}

describe('LeaseKeeper', () => {
  it('renews every quarter of the TTL at a fixed rate: a slow round trip does not push the next round back', async () => {
    const h = harness(1000, { afterMs: 100 });
    h.keeper.held('s1', 0);
    await h.clock.advance(1000);
    expect(h.rounds.map((r) => r.at)).toEqual([250, 500, 750, 1000]);
    expect(h.rounds.every((r) => r.ids.join() === 's1')).toBe(true);
    expect(h.lost).toEqual([]);
    expect(h.keeper.holds('s1')).toBe(true);
    expect(h.keeper.stats()).toMatchObject({ renewals: 3, late: 0, maxRoundTripMs: 100, expired: 0, taken: 0 });
    h.keeper.stop();
  });

  it('gives a lease up at its deadline when no renewal is confirmed (Redis hangs), before Redis could let it lapse, and warns', async () => {
    const h = harness(1000);
    h.keeper.held('s1', 0);
    await h.clock.advance(999);
    expect(h.rounds.length).toBe(1); // sent at 250, never answered: no second round piles up behind it
    expect(h.lost).toEqual([]);
    expect(h.keeper.holds('s1')).toBe(true);
    await h.clock.advance(1);
    // Deadline = the time the command that took it was sent + TTL: Redis's own expiry is never earlier.
    expect(h.lost).toEqual([{ sessionId: 's1', why: 'expired', at: 1000 }]);
    expect(h.keeper.holds('s1')).toBe(false);
    expect(h.keeper.stats().expired).toBe(1);
    expect(h.warnings.map((w) => w.message)).toEqual([expect.stringContaining('no lease renewal confirmed within the TTL')]);
    // The late answer does not bring it back.
    h.rounds[0]!.answer();
    await h.clock.advance(1000);
    expect(h.keeper.sessions).toEqual([]);
    expect(h.lost).toHaveLength(1);
    h.keeper.stop();
  });

  it('each confirmed renewal moves the deadline to the time it was sent + TTL', async () => {
    const h = harness(1000);
    h.keeper.held('s1', 0);
    await h.clock.advance(250);
    await h.clock.advance(500); // answered at 750: valid until 250 + 1000
    h.rounds[0]!.answer();
    await h.clock.advance(0);
    // The rounds due at 500 and 750 were skipped while the first was pending; the next goes at 1000 and hangs.
    await h.clock.advance(499); // t = 1249
    expect(h.lost).toEqual([]);
    await h.clock.advance(1); // t = 1250
    expect(h.lost).toEqual([{ sessionId: 's1', why: 'expired', at: 1250 }]);
    h.keeper.stop();
  });

  it('a lease Redis says another node holds is lost at once and no longer renewed', async () => {
    const h = harness(1000);
    h.keeper.held('s1', 0);
    h.keeper.held('s2', 0);
    await h.clock.advance(250);
    expect(h.rounds[0]!.ids).toEqual(['s1', 's2']);
    h.rounds[0]!.answer([2]);
    await h.clock.advance(0);
    expect(h.lost).toEqual([{ sessionId: 's2', why: 'taken', at: 250 }]);
    expect(h.keeper.stats()).toMatchObject({ taken: 1, expired: 0 });
    await h.clock.advance(250);
    expect(h.rounds[1]!.ids).toEqual(['s1']);
    h.keeper.stop();
  });

  it('a failed renewal (Redis error) keeps the lease until its deadline; a later success extends it', async () => {
    const h = harness(1000);
    h.keeper.held('s1', 0);
    await h.clock.advance(250);
    h.rounds[0]!.fail(new Error('ECONNREFUSED'));
    await h.clock.advance(0);
    await h.clock.advance(250);
    h.rounds[1]!.answer();
    await h.clock.advance(900); // t = 1400: past the first deadline (1000), within the one the round of 500 gave
    expect(h.lost).toEqual([]);
    expect(h.warnings.map((w) => w.message)).toEqual([expect.stringContaining('could not renew runner leases')]);
    await h.clock.advance(100); // later rounds hang: the lease goes at 500 + 1000
    expect(h.lost).toEqual([{ sessionId: 's1', why: 'expired', at: 1500 }]);
    h.keeper.stop();
  });

  it('counts a round whose timer fired late (a busy event loop) and says so once per late round', async () => {
    const h = harness(900, { afterMs: 10 });
    h.keeper.held('s1', 0);
    // The timer due at 225 fires only at 600: 375 ms late, more than a third of the TTL.
    const clock = h.clock;
    const realNow = clock.now;
    let frozen = true;
    clock.now = () => (frozen ? 600 : realNow());
    await clock.advance(600);
    frozen = false;
    clock.now = realNow;
    await clock.advance(100);
    expect(h.keeper.stats()).toMatchObject({ late: 1, maxTimerLagMs: 375 });
    expect(h.warnings.filter((w) => w.message.includes('ran late'))).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ timerLagMs: 375, leaseTtlMs: 900 }) }),
    ]);
    h.keeper.stop();
  });

  it('dropped() stops renewing a lease; stop() clears every timer and lease', async () => {
    const h = harness(1000, { afterMs: 1 });
    h.keeper.held('s1', 0);
    h.keeper.dropped('s1');
    await h.clock.advance(1000);
    expect(h.rounds).toEqual([]);
    h.keeper.held('s2', h.clock.now());
    h.keeper.stop();
    await h.clock.advance(5000);
    expect(h.rounds).toEqual([]);
    expect(h.lost).toEqual([]);
    expect(h.keeper.sessions).toEqual([]);
  });
});
