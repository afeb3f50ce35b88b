import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCore, fileStore, memoryStore } from '../../src/server.js';
import { api, createSession, eventually, logUntil, onTeardown, prompt, scriptedAgent, startServer } from './helpers.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-life-'));
  onTeardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('session lifecycle', () => {
  it('an idle session leaves memory after sessionIdleMs and comes back from the store on its next use, same epoch and turns', async () => {
    const script = scriptedAgent();
    const dir = await tempDir();
    const { url, server } = await startServer({ agent: script.agent, store: fileStore({ dir }), sessionIdleMs: 50 });
    const sid = await createSession(url);
    const turnId = (await prompt(url, sid, 'x', 'c', 'key')).body.turn.id;
    const run = await script.next();
    run.delta('kept');
    run.end();
    await logUntil(server, sid, (e) => e.type === 'turn.completed');
    const before = (await api(url, 'GET', `/v1/sessions/${sid}`)).body.session;
    await eventually(() => server.core.stats().sessions === 0, 'the idle session evicted', 5000);
    const after = (await api(url, 'GET', `/v1/sessions/${sid}`)).body;
    expect(after.session).toMatchObject({ epoch: before.epoch, seq: before.seq });
    expect(after.turns[0]).toMatchObject({ id: turnId, terminal: { output: 'kept' } });
    expect(server.core.stats().sessions).toBe(1);
    expect((await prompt(url, sid, 'x', 'c', 'key')).status).toBe(200); // idempotency survives eviction
  });

  it('a session with a running turn or a waiting reader stays in memory', async () => {
    const script = scriptedAgent();
    const core = createCore({ agent: script.agent, sessionIdleMs: 1, logger: {} });
    onTeardown(() => core.shutdown());
    await core.start();
    const busy = await core.createSession();
    const watched = await core.createSession();
    await core.prompt(busy.id, { prompt: 'x' });
    await script.next();
    const cursor = (await core.cursor(watched.id))!;
    const waiting = cursor.wait();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(core.evictIdle()).toBe(0);
    expect(core.stats().sessions).toBe(2);
    void waiting;
  });

  it('an expired session answers 404 session_not_found on every route and stream', async () => {
    let now = 1_000_000;
    const clock = { now: () => now, setTimeout: globalThis.setTimeout as never, clearTimeout: globalThis.clearTimeout as never };
    const store = memoryStore({ sessionTtlMs: 60_000, clock });
    const { url, server } = await startServer({ agent: scriptedAgent().agent, store, clock, sessionIdleMs: 60_000 });
    const sid = await createSession(url);
    now += 120_000;
    expect(server.core.evictIdle()).toBe(1); // idle long enough to leave memory; the store expired it meanwhile
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/v1/sessions/${sid}`],
      ['POST', `/v1/sessions/${sid}/turns`, { prompt: 'x' }],
      ['GET', `/v1/sessions/${sid}/turns/t1`],
      ['POST', `/v1/sessions/${sid}/turns/t1/cancel`, {}],
      ['GET', `/v1/sessions/${sid}/poll?after=0`],
      ['GET', `/v1/sessions/${sid}/events`],
    ];
    for (const [method, path, body] of routes) {
      const reply = await api(url, method, path, body);
      expect([method, path, reply.status, reply.body?.error?.code]).toEqual([method, path, 404, 'session_not_found']);
    }
  });

  it('idempotency keys expire after idempotencyTtlMs: the same key then makes a new turn', async () => {
    let now = 0;
    const clock = { now: () => now, setTimeout: globalThis.setTimeout as never, clearTimeout: globalThis.clearTimeout as never };
    const script = scriptedAgent();
    const core = createCore({ agent: script.agent, clock, idempotencyTtlMs: 1000, logger: {} });
    onTeardown(() => core.shutdown());
    await core.start();
    const { id } = await core.createSession();
    const first = await core.prompt(id, { prompt: 'x', idempotencyKey: 'k' });
    now = 500;
    expect(await core.prompt(id, { prompt: 'x', idempotencyKey: 'k' })).toMatchObject({ created: false, turn: { id: first.turn.id } });
    now = 1500;
    expect(await core.prompt(id, { prompt: 'x', idempotencyKey: 'k' })).toMatchObject({ created: true });
  });

  it('GET /v1/health and stats() report sessions in memory and stored, events and bytes held', async () => {
    const script = scriptedAgent();
    const { url, server } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    await prompt(url, sid, 'héllo');
    const run = await script.next();
    run.delta('ü'.repeat(10));
    run.end();
    await logUntil(server, sid, (e) => e.type === 'turn.completed');
    const health = await api(url, 'GET', '/v1/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', sessionsInMemory: 1, sessionsStored: 1, eventsHeld: 4 });
    expect(health.body.bytesHeld).toBe(server.stats().bytes);
    expect(health.body.bytesStored).toBeGreaterThan(0);
  });

  it('restart: the interrupted terminals are written before the port accepts requests, loading only those sessions', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir });
    const script = scriptedAgent();
    const first = createCore({ agent: script.agent, store, logger: {} });
    await first.start();
    const turns: Array<[string, string]> = [];
    for (let i = 0; i < 6; i++) {
      const { id } = await first.createSession();
      turns.push([id, (await first.prompt(id, { prompt: 'x' })).turn.id]);
    }
    for (let i = 0; i < 4; i++) await first.createSession(); // idle sessions: not loaded at start
    // A crash: the core is dropped without shutdown; its store wrote what it acknowledged.
    const { url, server } = await startServer({ agent: script.agent, store: fileStore({ dir }) });
    expect(server.core.stats().sessions).toBe(6);
    // No waiting: the first answer after listen() already shows every terminal.
    const replies = await Promise.all(turns.map(([sid, tid]) => api(url, 'GET', `/v1/sessions/${sid}/turns/${tid}`)));
    for (const reply of replies) expect(reply.body.turn).toMatchObject({ status: 'error', terminal: { error: { code: 'interrupted' } } });
    await first.shutdown().catch(() => {});
  });
});
