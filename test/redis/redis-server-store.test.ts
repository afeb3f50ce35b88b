import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoAgent, redisStore } from '../../src/server.js';
import { requireRedisServer, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { api, createSession, prompt, scriptedAgent, startServer } from '../server/helpers.js';

const redisBin = requireRedisServer('server on the Redis store');

describe.skipIf(!redisBin)('a server on redisStore', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer({ binary: redisBin!, appendOnly: true });
  });
  afterAll(async () => redis?.close());

  it('runs turns, and a second server on the same Redis serves the session with seq continuing', async () => {
    const a = await startServer({ agent: demoAgent({ delayMs: 0 }), store: redisStore({ url: redis.url, keyPrefix: 'p1:' }) });
    const sid = await createSession(a.url);
    const first = await prompt(a.url, sid, 'hello there');
    expect(first.status).toBe(201);
    await expect.poll(async () => (await api(a.url, 'GET', `/v1/sessions/${sid}/turns/${first.body.turn.id}`)).body?.turn?.status).toBe('completed');
    await a.server.close();

    const b = await startServer({ agent: demoAgent({ delayMs: 0 }), store: redisStore({ url: redis.url, keyPrefix: 'p1:' }) });
    await expect
      .poll(async () => (await api(b.url, 'GET', `/v1/sessions/${sid}/turns/${first.body.turn.id}`)).body?.turn?.status)
      .toBe('completed');
    const events = (await api(b.url, 'GET', `/v1/sessions/${sid}/poll?after=0`)).body.events as Array<{ seq: number }>;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const second = await prompt(b.url, sid, 'again');
    expect(second.body.turn.queuedSeq).toBe(events.length + 1);
  });

  it('Redis down: prompts answer 503 store_unavailable with Retry-After and a JSON body, no crash; back up (AOF): the session is all there', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent, store: redisStore({ url: redis.url, keyPrefix: 'p2:' }) });
    const sid = await createSession(url);
    expect((await prompt(url, sid, 'one')).status).toBe(201);
    await redis.stop({ kill: true });
    const refused = await prompt(url, sid, 'during');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.body).toMatchObject({ error: { code: 'store_unavailable', status: 503 } });
    await redis.start();
    let reply = await prompt(url, sid, 'after');
    for (let i = 0; i < 100 && reply.status !== 201; i++) {
      await new Promise((r) => setTimeout(r, 100));
      reply = await prompt(url, sid, 'after');
    }
    expect(reply.status).toBe(201);
    const snapshot = await api(url, 'GET', `/v1/sessions/${sid}`);
    expect(snapshot.status).toBe(200);
  });
});
