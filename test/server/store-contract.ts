/** The store conformance suite: every SessionStore (memory, file, and the next engines) runs these. */
import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/protocol/index.js';
import type { SessionRecord, SessionStore, TurnRecord } from '../../src/server.js';

/** How a store under test is made: a fresh store, and the same data seen by a new instance (a restart). */
export interface StoreUnderTest {
  store: SessionStore;
  reopen(): Promise<SessionStore>;
}

export const event = (sessionId: string, seq: number, text = String(seq)): SessionEvent =>
  ({ type: 'turn.delta', sessionId, seq, epoch: 'e1', time: seq, turnId: 't1', text }) as SessionEvent;

export const sessionRecord = (id: string, extra: Partial<SessionRecord> = {}): SessionRecord => ({
  version: 2,
  id,
  epoch: 'e1',
  createdAt: 1,
  ...extra,
});

const turn = (id: string, extra: Partial<TurnRecord> = {}): TurnRecord => ({
  id,
  status: 'queued',
  prompt: `prompt of ${id}`,
  createdAt: 1,
  queuedSeq: 1,
  ...extra,
});

async function appendRange(store: SessionStore, sessionId: string, from: number, to: number, batch: number, maxEvents: number) {
  for (let seq = from; seq <= to; seq += batch) {
    const events: SessionEvent[] = [];
    for (let s = seq; s <= Math.min(to, seq + batch - 1); s++) events.push(event(sessionId, s));
    await store.appendEvents(sessionId, events, { maxEvents });
  }
}

/**
 * Register the contract's tests for one store. `slack` is the extra events
 * the store documents holding beyond `maxEvents` (e.g. one segment).
 */
export function storeContract(name: string, make: () => Promise<StoreUnderTest>, options: { slack: (maxEvents: number) => number }) {
  describe(`store contract: ${name}`, () => {
    it('a saved session loads back with its record; an unknown one loads as undefined', async () => {
      const { store } = await make();
      await store.open?.();
      await store.saveSession(sessionRecord('s1', { metadata: { a: 1 } }));
      expect(await store.loadSession('s1', { maxEvents: 10 })).toEqual({ record: sessionRecord('s1', { metadata: { a: 1 } }), turns: [], events: [] });
      expect(await store.loadSession('nope', { maxEvents: 10 })).toBeUndefined();
    });

    it('ordering: appended events load back contiguous and in seq order, across batches', async () => {
      const { store } = await make();
      await store.saveSession(sessionRecord('s1'));
      await appendRange(store, 's1', 1, 50, 7, 1000);
      const loaded = await store.loadSession('s1', { maxEvents: 1000 });
      expect(loaded!.events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(loaded!.events[9]).toEqual(event('s1', 10));
    });

    it('retention: after every append at most maxEvents + one batch + the documented slack is held; a load serves the newest maxEvents', async () => {
      const { store } = await make();
      const maxEvents = 64;
      await store.saveSession(sessionRecord('s1'));
      for (let end = 10; end <= 1000; end += 10) {
        await appendRange(store, 's1', end - 9, end, 10, maxEvents);
        // Loading with a huge limit shows everything the store still holds.
        const held = (await store.loadSession('s1', { maxEvents: 1_000_000 }))!.events;
        expect(held.length).toBeLessThanOrEqual(maxEvents + 10 + options.slack(maxEvents));
        expect(held.at(-1)!.seq).toBe(end);
      }
      const served = (await store.loadSession('s1', { maxEvents }))!.events;
      expect(served.map((e) => e.seq)).toEqual(Array.from({ length: maxEvents }, (_, i) => 1000 - maxEvents + 1 + i));
    });

    it('a retried append (unknown outcome) stores nothing twice', async () => {
      const { store } = await make();
      await store.saveSession(sessionRecord('s1'));
      await store.appendEvents('s1', [event('s1', 1), event('s1', 2)], { maxEvents: 100 });
      await store.appendEvents('s1', [event('s1', 1), event('s1', 2), event('s1', 3)], { maxEvents: 100 });
      expect((await store.loadSession('s1', { maxEvents: 100 }))!.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it('turn records: saving one turn replaces that turn only; the record holds no copy of them', async () => {
      const { store } = await make();
      await store.saveSession(sessionRecord('s1'));
      await store.saveTurn('s1', turn('t1'));
      await store.saveTurn('s1', turn('t2', { queuedSeq: 2 }));
      const terminal = { type: 'turn.completed', sessionId: 's1', seq: 3, epoch: 'e1', time: 3, turnId: 't1', output: 'done' } as const;
      await store.saveTurn('s1', turn('t1', { status: 'completed', terminal: terminal as never }));
      const loaded = (await store.loadSession('s1', { maxEvents: 10 }))!;
      const byId = new Map(loaded.turns.map((t) => [t.id, t]));
      expect(byId.get('t1')).toMatchObject({ status: 'completed', terminal: { output: 'done' } });
      expect(byId.get('t2')).toEqual(turn('t2', { queuedSeq: 2 }));
      expect(loaded.record).toEqual(sessionRecord('s1'));
    });

    it('turn records outlive the trimmed events that led to them', async () => {
      const { store } = await make();
      await store.saveSession(sessionRecord('s1'));
      await store.saveTurn('s1', turn('t1', { status: 'completed', terminal: { type: 'turn.completed', seq: 2, output: 'x' } as never }));
      await appendRange(store, 's1', 1, 500, 50, 16);
      const loaded = (await store.loadSession('s1', { maxEvents: 16 }))!;
      expect(loaded.events[0]!.seq).toBeGreaterThan(2);
      expect(loaded.turns).toEqual([expect.objectContaining({ id: 't1', terminal: expect.objectContaining({ output: 'x' }) })]);
    });

    it('unfinishedTurns lists turns saved without a terminal, across sessions, until their terminal is saved', async () => {
      const { store } = await make();
      await store.saveSession(sessionRecord('s1'));
      await store.saveSession(sessionRecord('s2'));
      await store.saveTurn('s1', turn('a'));
      await store.saveTurn('s2', turn('b'));
      await store.saveTurn('s2', turn('c', { status: 'completed', terminal: { type: 'turn.completed', seq: 1, output: '' } as never }));
      const sort = (list: Array<{ sessionId: string; turnId: string }>) => [...list].sort((x, y) => x.turnId.localeCompare(y.turnId));
      expect(sort(await store.unfinishedTurns())).toEqual([
        { sessionId: 's1', turnId: 'a' },
        { sessionId: 's2', turnId: 'b' },
      ]);
      await store.saveTurn('s1', turn('a', { status: 'error', terminal: { type: 'turn.error', seq: 2 } as never }));
      expect(await store.unfinishedTurns()).toEqual([{ sessionId: 's2', turnId: 'b' }]);
    });

    it('durability: what resolved is there for a new instance (restart)', async () => {
      const { store, reopen } = await make();
      await store.saveSession(sessionRecord('s1'));
      await store.saveTurn('s1', turn('t1'));
      await appendRange(store, 's1', 1, 30, 4, 100);
      await store.close?.();
      const again = await reopen();
      const loaded = (await again.loadSession('s1', { maxEvents: 100 }))!;
      expect(loaded.record).toEqual(sessionRecord('s1'));
      expect(loaded.turns).toEqual([turn('t1')]);
      expect(loaded.events.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      // Appending continues where the log ended.
      await again.appendEvents('s1', [event('s1', 31)], { maxEvents: 100 });
      expect((await again.loadSession('s1', { maxEvents: 100 }))!.events.at(-1)!.seq).toBe(31);
      expect(await again.unfinishedTurns()).toEqual([{ sessionId: 's1', turnId: 't1' }]);
    });

    it('the session record is kept whole: agentState round-trips, is replaced by a later save, and survives a restart; events and turns are untouched', async () => {
      const { store, reopen } = await make();
      await store.saveSession(sessionRecord('s1', { metadata: { m: 1 } }));
      await store.saveTurn('s1', turn('t1'));
      await appendRange(store, 's1', 1, 5, 5, 100);
      const withState = sessionRecord('s1', { metadata: { m: 1 }, agentState: { threadId: 'th_1', nested: { list: [1, 'two', null] } } });
      await store.saveSession(withState);
      expect((await store.loadSession('s1', { maxEvents: 100 }))!.record).toEqual(withState);
      const replaced = sessionRecord('s1', { metadata: { m: 1 }, agentState: { threadId: 'th_2' } });
      await store.saveSession(replaced);
      await store.close?.();
      const loaded = (await (await reopen()).loadSession('s1', { maxEvents: 100 }))!;
      expect(loaded.record).toEqual(replaced);
      expect(loaded.turns).toEqual([turn('t1')]);
      expect(loaded.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    });

    it('atomicity: records are stored by value (later changes by the caller do not leak in)', async () => {
      const { store } = await make();
      const record = sessionRecord('s1', { metadata: { n: 1 } });
      await store.saveSession(record);
      record.metadata!.n = 2;
      const t = turn('t1');
      await store.saveTurn('s1', t);
      t.prompt = 'changed';
      const loaded = (await store.loadSession('s1', { maxEvents: 1 }))!;
      expect(loaded.record.metadata).toEqual({ n: 1 });
      expect(loaded.turns[0]!.prompt).toBe('prompt of t1');
    });

    it('sessions are independent and may be written concurrently; stats count them; delete forgets one', async () => {
      const { store } = await make();
      const ids = Array.from({ length: 8 }, (_, i) => `s${i}`);
      await Promise.all(ids.map((id) => store.saveSession(sessionRecord(id))));
      await Promise.all(ids.map((id) => appendRange(store, id, 1, 20, 3, 100)));
      for (const id of ids) {
        const events = (await store.loadSession(id, { maxEvents: 100 }))!.events;
        expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(events.every((e) => e.sessionId === id)).toBe(true);
      }
      const stats = await store.stats();
      expect(stats.sessions).toBe(8);
      expect(stats.bytes).toBeGreaterThan(0);
      await store.deleteSession('s3');
      expect(await store.loadSession('s3', { maxEvents: 100 })).toBeUndefined();
      expect((await store.stats()).sessions).toBe(7);
      await store.deleteSession('never-existed');
    });

    it('session ids with any characters are kept apart', async () => {
      const { store } = await make();
      const ids = ['a/b', 'a%2Fb', '..', 'a+b', 'ü'];
      for (const id of ids) await store.saveSession(sessionRecord(id, { createdAt: id.length }));
      for (const id of ids) await store.saveTurn(id, turn(`t+${id}`));
      for (const id of ids) expect((await store.loadSession(id, { maxEvents: 1 }))!.record.id).toBe(id);
      expect((await store.unfinishedTurns()).map((t) => t.turnId).sort()).toEqual(ids.map((id) => `t+${id}`).sort());
    });
  });
}
