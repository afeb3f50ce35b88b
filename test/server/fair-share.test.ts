/** FairShare: a big fan-out is written in slices of the event loop, not all in one turn (F6). */
import { describe, expect, it } from 'vitest';
import { EventCursor } from '../../src/server/core/event-cursor.js';
import { SessionLog } from '../../src/server/core/session-log.js';
import { FairShare } from '../../src/server/hosts/fair-share.js';
import { pump } from '../../src/server/hosts/pump.js';
import { WriteBudget } from '../../src/server/hosts/write-budget.js';

/** A turn scheduler the test runs by hand: `due` is how many turns are waiting to run. */
function manualTurns() {
  const due: Array<() => void> = [];
  return {
    schedule: (fn: () => void) => void due.push(fn),
    get due() {
      return due.length;
    },
    run() {
      for (const fn of due.splice(0)) fn();
    },
  };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('FairShare', () => {
  it('lets writes through until the turn’s bytes are spent, then only in the next turn', async () => {
    const turns = manualTurns();
    const share = new FairShare(1000, turns.schedule);
    share.spend(600);
    expect(share.exhausted).toBe(false);
    share.spend(400);
    expect(share.exhausted).toBe(true);
    let resumed = false;
    void share.nextTurn().then(() => (resumed = true));
    await settle();
    expect(resumed).toBe(false);
    expect(turns.due).toBe(1); // one turn, however many spend or wait
    turns.run();
    await settle();
    expect(resumed).toBe(true);
    expect(share.exhausted).toBe(false);
  });

  it('pumps of one 512 KiB event to 8 streams write 2 per MiB turn, in 4 turns, each stream complete', async () => {
    const turns = manualTurns();
    const share = new FairShare(1024 * 1024, turns.schedule);
    const log = new SessionLog({ sessionId: 's', epoch: 'e', maxEvents: 10 });
    const controller = new AbortController();
    const sent: number[] = [];
    const pumps = Array.from({ length: 8 }, (_, stream) =>
      pump({
        cursor: new EventCursor(log, 0),
        budget: new WriteBudget(64 * 1024 * 1024),
        share,
        signal: controller.signal,
        maxEvents: 100,
        maxBytes: 64 * 1024 * 1024,
        send: (batch) => sent.push(...batch.entries.map(() => stream)),
      }),
    );
    log.append({ type: 'turn.queued', turnId: 't', prompt: 'x'.repeat(512 * 1024) }, 0);
    log.publish(1);
    await settle();
    // Without the share all 8 would have written their copy in this one turn.
    expect(sent).toHaveLength(2);
    const perTurn = [sent.length];
    while (sent.length < 8 && perTurn.length < 10) {
      turns.run();
      await settle();
      perTurn.push(sent.length - perTurn.reduce((a, b) => a + b, 0));
    }
    expect(perTurn).toEqual([2, 2, 2, 2]);
    expect([...sent].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    controller.abort();
    turns.run(); // a pump waiting for its share sees the abort in the next turn
    await Promise.all(pumps);
  });
});
