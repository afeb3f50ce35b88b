import { afterAll, describe, expect, it } from 'vitest';
import { redisStore, type RedisStore } from '../../src/server.js';
import { requireRedisServer, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { sessionRecord, storeContract } from '../server/store-contract.js';

const redisBin = requireRedisServer('Redis store (redisStore)');

let redis: RedisServer | undefined;
const stores: RedisStore[] = [];
let prefixes = 0;

/** One redis-server for the file; every store gets its own key prefix, so tests stay apart. */
async function server(): Promise<RedisServer> {
  redis ??= await startRedisServer({ binary: redisBin! });
  return redis;
}

async function make(extra: { sessionTtlMs?: number } = {}): Promise<RedisStore> {
  const { url } = await server();
  const store = redisStore({ url, keyPrefix: `t${++prefixes}:`, ...extra });
  stores.push(store);
  await store.open!();
  return store;
}

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close!()));
  await redis?.close();
});

if (redisBin) {
  storeContract(
    'redisStore',
    async () => {
      const store = await make();
      return {
        store,
        reopen: async () => {
          const again = redisStore({ url: redis!.url, keyPrefix: store.keyPrefix });
          stores.push(again);
          return again;
        },
      };
    },
    { slack: () => 0 },
  );
}

describe.skipIf(!redisBin)('redisStore', () => {
  it('a session untouched for sessionTtlMs expires (Redis key TTL); a touched one stays', async () => {
    const store = await make({ sessionTtlMs: 400 });
    await store.saveSession(sessionRecord('old'));
    await store.saveSession(sessionRecord('used'));
    await new Promise((r) => setTimeout(r, 250));
    expect(await store.loadSession('used', { maxEvents: 1 })).toBeDefined();
    await new Promise((r) => setTimeout(r, 250));
    expect(await store.loadSession('old', { maxEvents: 1 })).toBeUndefined();
    expect(await store.loadSession('used', { maxEvents: 1 })).toBeDefined();
    expect((await store.stats()).sessions).toBe(1);
  });

  it('refuses an append that would leave a gap in seq (two writers cannot interleave)', async () => {
    const store = await make();
    await store.saveSession(sessionRecord('s1'));
    await store.appendEvents('s1', [{ type: 'turn.delta', sessionId: 's1', seq: 1, epoch: 'e1', time: 1, turnId: 't', text: 'a' } as never], { maxEvents: 10 });
    await expect(
      store.appendEvents('s1', [{ type: 'turn.delta', sessionId: 's1', seq: 3, epoch: 'e1', time: 1, turnId: 't', text: 'a' } as never], { maxEvents: 10 }),
    ).rejects.toThrow(/seq gap/);
    await expect(store.appendEvents('nope', [{ seq: 1 } as never], { maxEvents: 10 })).rejects.toThrow(/unknown session/);
  });

  it('rejects bad options with a TypeError naming the field', () => {
    expect(() => redisStore({} as never)).toThrow(/url/);
    expect(() => redisStore({ url: 'http://x' })).toThrow(/url/);
    expect(() => redisStore({ url: 'redis://x', sessionTtlMs: 0 })).toThrow(/sessionTtlMs/);
  });

  it('while Redis is down calls reject (never hang, never crash), and work again once it is back', async () => {
    await using own = await startRedisServer({ binary: redisBin! });
    const store = redisStore({ url: own.url });
    stores.push(store);
    await store.open!();
    await store.saveSession(sessionRecord('s1'));
    await own.stop({ kill: true });
    await expect(store.saveTurn('s1', { id: 't', status: 'queued', prompt: 'p', createdAt: 1, queuedSeq: 1 })).rejects.toThrow();
    await expect(store.loadSession('s1', { maxEvents: 1 })).rejects.toThrow();
    await own.start();
    await expect.poll(async () => store.saveSession(sessionRecord('s2')).then(() => true, () => false)).toBe(true);
  });
});
