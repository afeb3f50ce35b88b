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
    const { server, url } = await startServer({ agent: script.agent, store: redisStore({ url: redis.url, keyPrefix, cluster: { leaseTtlMs: 1000 } }) });
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
    redis = await startRedisServer({ binary: redisBin! });
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
});
