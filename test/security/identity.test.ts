// Identity: who prompted and who canceled come from the principal (or, without authentication, the proxy's header); a label the client picks cannot stand in for them.
import { describe, expect, it } from 'vitest';
import { onTeardown, scriptedAgent, startServer } from '../server/helpers.js';
import { bearerProtocols, call, createSession, openSocket, request, startAuthServer } from './helpers.js';

async function turnOf(url: string, sessionId: string, turnId: string, token?: string) {
  return (await call(url, 'GET', `/v1/sessions/${sessionId}/turns/${turnId}`, token === undefined ? {} : { token })).body.turn;
}

async function queuedBy(url: string, sessionId: string, token?: string): Promise<unknown> {
  const polled = await call(url, 'GET', `/v1/sessions/${sessionId}/poll?after=0`, token === undefined ? {} : { token });
  return polled.body.events.find((event: any) => event.type === 'turn.queued')?.clientId;
}

describe('identity with authentication', () => {
  it('the prompter and canceler are the principals, whatever header, body or query says', async () => {
    const { url, scripted } = await startAuthServer();
    const sessionId = await createSession(url, 'alice-token', { sharedWith: ['bob'] });
    const spoof = { 'x-tether-client': 'admin' };
    const prompted = await call(url, 'POST', `/v1/sessions/${sessionId}/turns?clientId=admin`, {
      token: 'alice-token',
      headers: spoof,
      body: { prompt: 'hi', clientId: 'admin' },
    });
    const turnId = prompted.body.turn.id as string;
    const run = await scripted.next();
    expect(run.input.clientId).toBe('alice');
    expect(await queuedBy(url, sessionId, 'alice-token')).toBe('alice');

    const canceled = await call(url, 'POST', `/v1/sessions/${sessionId}/turns/${turnId}/cancel?clientId=alice`, {
      token: 'bob-token',
      headers: { 'x-tether-client': 'alice' },
      body: { clientId: 'alice' },
    });
    expect(canceled.body).toEqual({ cancelled: true });
    expect((await turnOf(url, sessionId, turnId, 'alice-token')).terminal).toMatchObject({ type: 'turn.canceled', canceledBy: 'bob' });
  });

  it('over the WebSocket too: ?clientId= and X-Tether-Client are labels, the upgrade principal acts', async () => {
    const { url, scripted } = await startAuthServer();
    const sessionId = await createSession(url, 'alice-token', { sharedWith: ['bob'] });
    const opened = await openSocket(url, { protocols: bearerProtocols('bob-token'), headers: { 'x-tether-client': 'alice' } });
    if (!('ws' in opened)) throw new Error('refused');
    onTeardown(() => opened.ws.terminate());
    const prompted = await request(opened.ws, { type: 'prompt', sessionId, prompt: 'hi' });
    expect((await scripted.next()).input.clientId).toBe('bob');
    const reply = await request(opened.ws, { type: 'cancel', sessionId, turnId: prompted.result.turn.id });
    expect(reply.result).toEqual({ cancelled: true });
    expect((await turnOf(url, sessionId, prompted.result.turn.id, 'alice-token')).terminal.canceledBy).toBe('bob');
  });
});

describe('identity without authentication', () => {
  it('a body clientId or ?clientId= cannot override the X-Tether-Client header a proxy sets', async () => {
    const scripted = scriptedAgent();
    const { url } = await startServer({ agent: scripted.agent });
    const sessionId = (await call(url, 'POST', '/v1/sessions', { body: {} })).body.session.id as string;
    const proxy = { 'x-tether-client': 'mallory' };
    const prompted = await call(url, 'POST', `/v1/sessions/${sessionId}/turns?clientId=admin`, { headers: proxy, body: { prompt: 'x', clientId: 'admin' } });
    expect((await scripted.next()).input.clientId).toBe('mallory');
    await call(url, 'POST', `/v1/sessions/${sessionId}/turns/${prompted.body.turn.id}/cancel?clientId=admin`, { headers: proxy, body: { clientId: 'admin' } });
    expect((await turnOf(url, sessionId, prompted.body.turn.id)).terminal.canceledBy).toBe('mallory');
  });

  it('a WebSocket ?clientId= cannot override the header either', async () => {
    const scripted = scriptedAgent();
    const { url } = await startServer({ agent: scripted.agent });
    const sessionId = (await call(url, 'POST', '/v1/sessions', { body: {} })).body.session.id as string;
    const opened = await openSocket(url, { headers: { 'x-tether-client': 'mallory' }, query: '?clientId=admin' });
    if (!('ws' in opened)) throw new Error('refused');
    const spoofed = opened.ws;
    onTeardown(() => spoofed.terminate());
    const prompted = await request(spoofed, { type: 'prompt', sessionId, prompt: 'x' });
    await scripted.next();
    await request(spoofed, { type: 'cancel', sessionId, turnId: prompted.result.turn.id });
    expect((await turnOf(url, sessionId, prompted.result.turn.id)).terminal.canceledBy).toBe('mallory');
  });
});
