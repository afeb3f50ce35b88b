/** Each per-client limit trips with 429 + Retry-After + the JSON error body, shows in stats(), and recovers. */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/internal/clock.js';
import { systemClock } from '../../src/internal/clock.js';
import { api, createSession, onTeardown, prompt, scriptedAgent, SseReader, startServer, WsClient } from '../server/helpers.js';
import { bearerProtocols, call, openSocket, startAuthServer } from './helpers.js';

/** Real timers (heartbeats, sockets), manual time (the limits' buckets). */
function steppedClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => systemClock.now() + offset,
    setTimeout: systemClock.setTimeout,
    clearTimeout: systemClock.clearTimeout,
    advance(ms) {
      offset += ms;
    },
  };
}

function expectRateLimited(reply: { status: number; body: any; headers: Headers }, limit: string): void {
  expect(reply.status).toBe(429);
  expect(reply.body.error).toMatchObject({ code: 'rate_limited', status: 429, details: { limit } });
  expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

describe('limits: 429 + Retry-After per client, then recovery', () => {
  it('sessions per minute: the 4th create of 3/min is refused, one more is allowed 20 s later', async () => {
    const clock = steppedClock();
    const { server, url } = await startServer({ agent: scriptedAgent().agent, clock, sessionsPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await api(url, 'POST', '/v1/sessions', {})).status).toBe(201);
    const refused = await api(url, 'POST', '/v1/sessions', {});
    expectRateLimited(refused, 'sessions');
    expect(Number(refused.headers.get('retry-after'))).toBe(20);
    expect(server.stats().sessions).toBe(3);
    expect(server.stats().limits.rejected.sessions).toBe(1);
    clock.advance(20_000);
    expect((await api(url, 'POST', '/v1/sessions', {})).status).toBe(201);
    expectRateLimited(await api(url, 'POST', '/v1/sessions', {}), 'sessions');
  });

  it('session metadata over maxMetadataBytes is a 413 before it is stored or counted', async () => {
    const { server, url } = await startServer({ agent: scriptedAgent().agent, maxMetadataBytes: 100, sessionsPerMinute: 1 });
    const refused = await api(url, 'POST', '/v1/sessions', { metadata: { pad: 'm'.repeat(200) } });
    expect(refused.status).toBe(413);
    expect(refused.body.error).toMatchObject({ code: 'payload_too_large', details: { maxMetadataBytes: 100 } });
    expect(server.stats().sessions).toBe(0);
    expect((await api(url, 'POST', '/v1/sessions', { metadata: { pad: 'm'.repeat(50) } })).status).toBe(201);
  });

  it('prompts per minute count HTTP and WebSocket prompts together; a WebSocket refusal is a failed reply with the same error', async () => {
    const clock = steppedClock();
    const { server, url } = await startServer({ agent: scriptedAgent().agent, clock, promptsPerMinute: 2 });
    const sessionId = await createSession(url);
    expect((await prompt(url, sessionId, 'one')).status).toBe(201);
    const ws = new WsClient(url);
    const second = await ws.request({ type: 'prompt', sessionId, prompt: 'two' });
    expect(second.ok).toBe(true);
    expectRateLimited(await prompt(url, sessionId, 'three'), 'prompts');
    const third = await ws.request({ type: 'prompt', sessionId, prompt: 'three' });
    expect(third).toMatchObject({ ok: false, error: { code: 'rate_limited', status: 429, details: { limit: 'prompts' } } });
    expect(third.error.details.retryAfterMs).toBeGreaterThan(0);
    expect(server.stats().limits.rejected.prompts).toBe(2);
    clock.advance(30_000);
    expect((await prompt(url, sessionId, 'four')).status).toBe(201);
  });

  it('queued turns per session: a prompt over the queue is refused until a turn ran', async () => {
    const agent = scriptedAgent();
    const { server, url } = await startServer({ agent: agent.agent, maxQueuedTurns: 2 });
    const sessionId = await createSession(url);
    expect((await prompt(url, sessionId, 'running')).status).toBe(201);
    const run = await agent.next();
    expect((await prompt(url, sessionId, 'queued 1')).status).toBe(201);
    expect((await prompt(url, sessionId, 'queued 2')).status).toBe(201);
    expectRateLimited(await prompt(url, sessionId, 'one too many'), 'queuedTurns');
    // Another session has its own queue.
    expect((await prompt(url, await createSession(url), 'elsewhere')).status).toBe(201);
    expect(server.stats().limits.rejected.queuedTurns).toBe(1);
    run.end();
    await agent.next();
    expect((await prompt(url, sessionId, 'fits again')).status).toBe(201);
  });

  it('connections per client: WebSockets, SSE streams and long-polls share the cap; the upgrade is refused before it opens', async () => {
    const agent = scriptedAgent();
    const { server, url } = await startServer({ agent: agent.agent, maxConnectionsPerClient: 2 });
    const sessionId = await createSession(url);
    const ws = new WsClient(url);
    await ws.welcomed();
    const sse = new SseReader(`${url}/v1/sessions/${sessionId}/events`);
    await sse.until(() => sse.status === 200, 'SSE open');
    expect(server.stats().limits.openConnections).toBe(2);

    const refusedWs = new WsClient(url);
    const status = await new Promise<number>((resolve) => refusedWs.ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(429);
    expect(refusedWs.opened).toBe(false);
    expectRateLimited(await api(url, 'GET', `/v1/sessions/${sessionId}/events`), 'connections');
    expectRateLimited(await api(url, 'GET', `/v1/sessions/${sessionId}/poll?after=0`), 'connections');
    // Commands are not connections: they still work.
    expect((await prompt(url, sessionId, 'still served')).status).toBe(201);
    expect(server.stats().limits.rejected.connections).toBe(3);

    sse.close();
    await expect.poll(() => server.stats().limits.openConnections).toBe(1);
    expect((await api(url, 'GET', `/v1/sessions/${sessionId}/poll?after=0`)).status).toBe(200);
    const again = new WsClient(url);
    await again.welcomed();
    expect(server.stats().limits.openConnections).toBe(2);
  });

  it('with authentication each principal has its own quota, even from one address; the WebSocket upgrade counts under the principal', async () => {
    const { server, url } = await startAuthServer({ sessionsPerMinute: 1, maxConnectionsPerClient: 1 });
    expect((await call(url, 'POST', '/v1/sessions', { token: 'alice-token', body: {} })).status).toBe(201);
    const refused = await call(url, 'POST', '/v1/sessions', { token: 'alice-token', body: {} });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', details: { limit: 'sessions' } });
    expect((await call(url, 'POST', '/v1/sessions', { token: 'bob-token', body: {} })).status).toBe(201);

    const alice = await openSocket(url, { protocols: bearerProtocols('alice-token') });
    expect(alice.status).toBe(101);
    if ('ws' in alice) onTeardown(() => alice.ws.terminate());
    const aliceAgain = await openSocket(url, { protocols: bearerProtocols('alice-token') });
    expect(aliceAgain.status).toBe(429);
    const bob = await openSocket(url, { protocols: bearerProtocols('bob-token') });
    expect(bob.status).toBe(101);
    if ('ws' in bob) onTeardown(() => bob.ws.terminate());
    expect(server.stats().limits).toMatchObject({ openConnections: 2, connectedClients: 2 });
  });
});
