/**
 * A node restarted under the same node id (a pod name, a host name) is a new lease holder:
 * it must not take the lease its dead predecessor still holds for its own. Holding it, it
 * would neither run the session (nothing of it is in its memory) nor let another node adopt
 * it, and commands on the session answered 503 until the lease lapsed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/server.js';
import { systemClock } from '../../src/internal/clock.js';
import { requireRedisServer, startRedisServer, type RedisServer } from '../support/redis-server.js';

const redisBin = requireRedisServer('cluster lease holders (Redis)');

let redis: RedisServer;

describe.skipIf(!redisBin)('cluster: lease holders', () => {
  beforeAll(async () => {
    redis = await startRedisServer({ binary: redisBin! });
  });
  afterAll(async () => redis?.close());

  it('a node restarted under the same id waits for its predecessor\'s lease instead of taking it as its own', async () => {
    const node = (leaseTtlMs: number) => {
      const store = redisStore({ url: redis.url, keyPrefix: 'holder:', cluster: { leaseTtlMs, nodeId: 'pod-1' } });
      return { store, cluster: store.cluster!({ logger: {}, clock: systemClock, maxEvents: 100 })! };
    };
    const before = node(60_000); // the predecessor: its lease outlives the test unless released
    const after = node(60_000); // the same node id, started again
    try {
      await before.store.open!();
      await after.store.open!();
      await before.store.saveSession({ version: 2, id: 'sid', epoch: 'e1', createdAt: 1 });
      expect(await before.cluster.acquire('sid')).toBe(true);

      expect(await after.cluster.acquire('sid')).toBe(false);
      expect(after.cluster.owns('sid')).toBe(false);

      // Once the predecessor's lease is gone (released here; lapsed after a crash), the new node takes it.
      await before.cluster.release('sid');
      expect(await after.cluster.acquire('sid')).toBe(true);
    } finally {
      await before.cluster.close();
      await after.cluster.close();
      await before.store.close!();
      await after.store.close!();
    }
  });
});
