/**
 * A cluster runner that loses a session's lease mid-turn (it could not renew in time) aborts
 * the turn's agent and drops the session: another node ends the turn (`interrupted`). What
 * the aborted agent returns is cut short and must not be recorded as `turn.completed`.
 * A fake cluster on the memory store stands in for Redis, so the moment is exact.
 */
import { describe, expect, it } from 'vitest';
import { createCore, memoryStore } from '../../src/server.js';
import { fakeCluster } from '../support/fake-cluster.js';
import type { SessionEvent } from '../../src/protocol/index.js';
import { onTeardown, silentLogger } from './helpers.js';

describe('cluster: the runner loses the lease mid-turn', () => {
  it('the aborted agent returning early is not recorded as turn.completed, and the queued turn does not start on the node that lost the lease', async () => {
    const fake = fakeCluster();
    const store = Object.assign(memoryStore(), { cluster: () => fake.cluster });
    let started = 0;
    const agent = async function* ({ signal }: { signal: AbortSignal }) {
      started++;
      yield { type: 'delta' as const, text: 'partial' };
      // Like many agents: stop quietly when aborted.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    };
    const core = createCore({ agent, store, logger: silentLogger });
    onTeardown(() => core.shutdown());
    await core.start();
    const { id } = await core.createSession();
    const { turn } = await core.prompt(id, { prompt: 'first' });
    await core.prompt(id, { prompt: 'second' });
    const cursor = (await core.cursor(id, { after: 0 }))!;
    while (!cursor.take({ maxEvents: 100 }).entries.some((e) => e.event.type === 'turn.delta')) await cursor.wait();

    fake.lose(id);
    await new Promise((r) => setTimeout(r, 50));

    const stored = (await store.loadSession(id, { maxEvents: 100 }))!;
    const types = stored.events.filter((e: SessionEvent) => e.turnId === turn.id).map((e: SessionEvent) => e.type);
    expect(types).toEqual(['turn.queued', 'turn.started', 'turn.delta']);
    expect(stored.turns.find((t) => t.id === turn.id)?.terminal).toBeUndefined();
    expect(started).toBe(1);
  });
});
