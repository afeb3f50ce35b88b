import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/protocol/index.js';
import { redisStore } from '../../src/server.js';
import { requireRedisServer, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { api, cancel, createSession, prompt, scriptedAgent, startServer } from '../server/helpers.js';

const redisBin = requireRedisServer('cluster on Redis (several servers, one Redis)');

let redis: RedisServer;
let prefixes = 0;

/** Two servers on one Redis and one key prefix (a fresh one per test), each with a scripted agent. */
async function twoNodes() {
  const keyPrefix = `c${++prefixes}:`;
  const node = async () => {
    const script = scriptedAgent();
    const { server, url } = await startServer({ agent: script.agent, store: redisStore({ url: redis.url, keyPrefix, cluster: { leaseTtlMs: 3000 } }) });
    return { script, server, url };
  };
  return { a: await node(), b: await node() };
}

/** Long-poll a node until `predicate` holds for the events it served (read from seq 1). */
async function eventsUntil(url: string, sid: string, predicate: (events: SessionEvent[]) => boolean): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  const deadline = Date.now() + 15_000;
  while (!predicate(events)) {
    if (Date.now() > deadline) throw new Error(`timed out; got ${events.map((e) => `${e.seq}:${e.type}`).join(' ')}`);
    const reply = await api(url, 'GET', `/v1/sessions/${sid}/poll?after=${events.at(-1)?.seq ?? 0}&wait=1000`);
    expect(reply.status).toBe(200);
    events.push(...(reply.body.events as SessionEvent[]));
  }
  return events;
}

const contiguous = (events: SessionEvent[]) => events.every((e, i) => e.seq === i + 1);

describe.skipIf(!redisBin)('cluster: several servers on one Redis', () => {
  beforeAll(async () => {
    redis = await startRedisServer({ binary: redisBin!, appendOnly: true });
  });
  afterAll(async () => redis?.close());

  it('a prompt through B runs on A (the runner), B streams it live, seq contiguous; an idempotent retry through B finds the turn', async () => {
    const { a, b } = await twoNodes();
    const sid = await createSession(a.url);
    const first = await prompt(b.url, sid, 'via b', 'cb', 'key-1');
    expect(first.status).toBe(201);
    const run = await a.script.next();
    expect(run.input.prompt).toBe('via b');
    expect(b.script.runs).toHaveLength(0);
    run.delta('hel');
    run.delta('lo');
    run.end();
    const seen = await eventsUntil(b.url, sid, (events) => events.some((e) => e.type === 'turn.completed'));
    expect(contiguous(seen)).toBe(true);
    expect(seen.map((e) => e.type)).toEqual(['turn.queued', 'turn.started', 'turn.delta', 'turn.delta', 'turn.completed']);
    const again = await prompt(b.url, sid, 'via b', 'cb', 'key-1');
    expect(again.status).toBe(200);
    expect(again.body.turn.id).toBe(first.body.turn.id);
    const turn = await api(b.url, 'GET', `/v1/sessions/${sid}/turns/${first.body.turn.id}`);
    expect(turn.body.turn).toMatchObject({ status: 'completed', terminal: { output: 'hello' } });
  });

  it('cancel through B reaches the runner on A: one turn.canceled for everyone, canceledBy kept; the later cancel says already_finished; an unknown turn is 404', async () => {
    const { a, b } = await twoNodes();
    const sid = await createSession(a.url);
    const turnId = (await prompt(a.url, sid, 'long')).body.turn.id as string;
    const run = await a.script.next();
    run.delta('x');
    expect((await cancel(b.url, sid, turnId, 'bob')).body).toEqual({ cancelled: true });
    expect((await cancel(a.url, sid, turnId, 'alice')).body).toEqual({ cancelled: false, reason: 'already_finished' });
    expect((await cancel(b.url, sid, 'no-such-turn')).status).toBe(404);
    await run.finished;
    for (const url of [a.url, b.url]) {
      const events = await eventsUntil(url, sid, (list) => list.some((e) => e.type === 'turn.canceled'));
      expect(events.filter((e) => e.type === 'turn.canceled')).toEqual([expect.objectContaining({ canceledBy: 'bob', turnId })]);
      expect(contiguous(events)).toBe(true);
    }
  });

  it('an input answer through B reaches the agent waiting on A: the first answer wins once for everyone, a later one is already_answered', async () => {
    const { a, b } = await twoNodes();
    const sid = await createSession(a.url);
    const turnId = (await prompt(a.url, sid, 'ask')).body.turn.id as string;
    const run = await a.script.next();
    const answered = run.input.requestInput({ kind: 'approval', prompt: 'go?', options: [{ id: 'yes', label: 'Yes' }, { id: 'no', label: 'No' }] });
    const asked = await eventsUntil(b.url, sid, (list) => list.some((e) => e.type === 'turn.input_requested'));
    const requestId = (asked.find((e) => e.type === 'turn.input_requested') as { requestId: string }).requestId;
    const first = await api(b.url, 'POST', `/v1/sessions/${sid}/turns/${turnId}/respond`, { requestId, answer: { option: 'yes' }, clientId: 'bob' });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ accepted: true });
    await expect(answered).resolves.toMatchObject({ status: 'answered', answer: { option: 'yes' }, source: 'client' });
    const later = await api(a.url, 'POST', `/v1/sessions/${sid}/turns/${turnId}/respond`, { requestId, answer: { option: 'no' }, clientId: 'alice' });
    expect(later.body).toEqual({ accepted: false, reason: 'already_answered' });
    run.end();
    for (const url of [a.url, b.url]) {
      const events = await eventsUntil(url, sid, (list) => list.some((e) => e.type === 'turn.completed'));
      expect(events.filter((e) => e.type === 'turn.input_answered')).toEqual([expect.objectContaining({ requestId, answer: { option: 'yes' } })]);
      expect(contiguous(events)).toBe(true);
    }
  });

  it('drain: closing the runner lets its running turn finish there, and its queued turn runs on the other node', async () => {
    const { a, b } = await twoNodes();
    const sid = await createSession(a.url);
    await prompt(a.url, sid, 'first');
    const firstRun = await a.script.next();
    const second = await prompt(b.url, sid, 'second');
    expect(second.status).toBe(201);
    const closing = a.server.close({ timeoutMs: 8000 });
    firstRun.delta('done');
    firstRun.end();
    await closing;
    const secondRun = await b.script.next();
    expect(secondRun.input.prompt).toBe('second');
    secondRun.end();
    const events = await eventsUntil(b.url, sid, (list) => list.filter((e) => e.type === 'turn.completed').length === 2);
    expect(contiguous(events)).toBe(true);
    expect(events.filter((e) => e.type === 'turn.error')).toEqual([]);
    expect(a.script.runs).toHaveLength(1);
  });

  it('Redis down: a cancel or prompt through a non-runner node answers 503 store_unavailable with Retry-After (never a 500, never a crash); back up, it works', async () => {
    const { a, b } = await twoNodes();
    const sid = await createSession(a.url);
    const turnId = (await prompt(a.url, sid, 'long')).body.turn.id as string;
    const run = await a.script.next();
    await redis.stop({ kill: true });
    for (const reply of [await cancel(b.url, sid, turnId), await prompt(b.url, sid, 'during')]) {
      expect(reply.status).toBe(503);
      expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(reply.body).toMatchObject({ error: { code: 'store_unavailable' } });
    }
    await redis.start();
    run.end();
    const deadline = Date.now() + 15_000;
    let reply = await prompt(b.url, sid, 'after');
    while (reply.status !== 201 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      reply = await prompt(b.url, sid, 'after');
    }
    expect(reply.status).toBe(201);
  });

  it('Redis down: a prompt answers 503 store_unavailable with Retry-After through every node — the runner, a replica, a node that never loaded the session — also once the lease lapsed', async () => {
    const { a, b } = await twoNodes();
    const c = (await twoNodes()).a; // same Redis, another prefix: the session is unknown there, like any session it never loaded
    const sid = await createSession(a.url);
    await prompt(a.url, sid, 'long');
    const run = await a.script.next();
    await eventsUntil(b.url, sid, (events) => events.some((e) => e.type === 'turn.started'));
    await redis.stop();
    const expectUnavailable = async () => {
      for (const url of [a.url, b.url, c.url]) {
        for (const reply of [await prompt(url, sid, 'during'), await prompt(url, sid, 'during', 'ck', 'key-down')]) {
          expect({ url, status: reply.status, code: reply.body?.error?.code }).toEqual({ url, status: 503, code: 'store_unavailable' });
          expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
        }
      }
    };
    await expectUnavailable();
    // Past the lease TTL (3 s): the runner gave the session up, nobody can take it.
    await new Promise((r) => setTimeout(r, 3500));
    await expectUnavailable();
    await redis.start();
    run.end();
  }, 30_000);
});
