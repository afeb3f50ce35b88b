/**
 * Session records across a cluster: a share made through any node reaches every node at
 * once (access checks on a node that follows the session must not keep stale access until
 * a reload), and a runner that lost a session's lease cannot write its turn records any more
 * (fenced like its appends), so it never overwrites what the node that took over stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/server.js';
import { systemClock } from '../../src/internal/clock.js';
import type { TurnRecord } from '../../src/server/core/session-store.js';
import { requireRedisServer, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { createSession, scriptedAgent, startServer } from '../server/helpers.js';

const redisBin = requireRedisServer('cluster session records (Redis)');

let redis: RedisServer;
let prefixes = 0;

describe.skipIf(!redisBin)('cluster: session records', () => {
  beforeAll(async () => {
    redis = await startRedisServer({ binary: redisBin! });
  });
  afterAll(async () => redis?.close());

  it('a share through either node reaches the other at once: the runner (A) and a node that follows the session (B)', async () => {
    const keyPrefix = `share${++prefixes}:`;
    const node = () => startServer({ agent: scriptedAgent().agent, store: redisStore({ url: redis.url, keyPrefix, cluster: { leaseTtlMs: 3000 } }) });
    const a = await node();
    const b = await node();
    const sid = await createSession(a.url);
    // B loads the session (a replica following A) before any share.
    expect(await b.server.core.sessionAccess(sid)).toEqual({});

    // Shared on the runner: B's copy follows without a reload.
    await a.server.shareSession(sid, ['bob']);
    await expectAccess(() => b.server.core.sessionAccess(sid), ['bob']);

    // Shared through B: the runner's copy has it once the call resolved, and both agree.
    expect(await b.server.shareSession(sid, ['carol'])).toEqual({ sharedWith: ['bob', 'carol'] });
    expect(await a.server.core.sessionAccess(sid)).toEqual({ sharedWith: ['bob', 'carol'] });
    await expectAccess(() => b.server.core.sessionAccess(sid), ['bob', 'carol']);
  });

  it('a runner that lost the lease cannot write turn records: refused, and the stored record stays as the new runner wrote it', async () => {
    const keyPrefix = `fence${++prefixes}:`;
    const store = redisStore({ url: redis.url, keyPrefix, cluster: { leaseTtlMs: 3000, nodeId: 'n1' } });
    const cluster = store.cluster!({ logger: {}, clock: systemClock, maxEvents: 100 })!;
    try {
      await store.open!();
      const sid = 'fenced';
      await store.saveSession({ version: 2, id: sid, epoch: 'e1', createdAt: 1 });
      expect(await cluster.acquire(sid)).toBe(true);
      const turn: TurnRecord = { id: 't1', status: 'running', prompt: 'p', createdAt: 1, queuedSeq: 1 };
      await store.saveTurn(sid, turn);

      // Another node took the session over (n1's lease lapsed) and stored its own record of the turn.
      await store.connection.command(['SET', `${keyPrefix}lease:${sid}`, 'n2']);
      await store.connection.command(['HSET', `${keyPrefix}s:${sid}:turns`, 't1', JSON.stringify({ ...turn, status: 'error' })]);

      await expect(store.saveTurn(sid, { ...turn, status: 'completed' })).rejects.toThrow(/lease lost/);
      const loaded = await store.loadSession(sid, { maxEvents: 100 });
      expect(loaded?.turns).toEqual([{ ...turn, status: 'error' }]);
    } finally {
      await cluster.close();
      await store.close!();
    }
  });
});

/** Waits (bounded) until the access a node reports lists exactly `sharedWith`. */
async function expectAccess(read: () => Promise<unknown>, sharedWith: string[]): Promise<void> {
  await expect.poll(read, { timeout: 5000, interval: 20 }).toEqual({ sharedWith });
}
