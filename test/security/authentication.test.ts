// Authentication: every route and the WebSocket upgrade refuse a request without valid credentials, before any work.
import { describe, expect, it } from 'vitest';
import { wsProtocols } from '../../src/protocol/index.js';
import { onTeardown } from '../server/helpers.js';
import { bearerProtocols, call, createSession, openSocket, request, startAuthServer } from './helpers.js';

describe('authenticate: HTTP', () => {
  it('every route answers 401 unauthorized without a token, and with a wrong one', async () => {
    const seen: unknown[] = [];
    const { url, server } = await startAuthServer();
    const sessionId = await createSession(url, 'alice-token');
    const turn = await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { token: 'alice-token', body: { prompt: 'hi' } });
    const turnId = turn.body.turn.id as string;
    const routes: Array<['GET' | 'POST', string, unknown?]> = [
      ['POST', '/v1/sessions', {}],
      ['GET', `/v1/sessions/${sessionId}`],
      ['POST', `/v1/sessions/${sessionId}/turns`, { prompt: 'x' }],
      ['GET', `/v1/sessions/${sessionId}/turns/${turnId}`],
      ['POST', `/v1/sessions/${sessionId}/turns/${turnId}/cancel`, {}],
      ['GET', `/v1/sessions/${sessionId}/events`],
      ['GET', `/v1/sessions/${sessionId}/poll?after=0`],
      ['GET', '/v1/health'],
      ['GET', '/v1/nowhere'],
    ];
    for (const [method, path, body] of routes) {
      for (const token of [undefined, 'mallory-token']) {
        const reply = await call(url, method, path, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) });
        if (path.endsWith('/events')) expect(reply.headers.get('content-type')).toContain('application/json');
        seen.push([method, path, token, reply.status]);
        expect(reply.status, `${method} ${path} token=${token}`).toBe(401);
        expect(reply.body).toEqual({ error: { code: 'unauthorized', message: 'Missing or invalid credentials', status: 401 } });
        expect(reply.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
    // Nothing was done for them: the one session and one turn are all there is.
    expect(server.stats().sessions).toBe(1);
    const snapshot = await call(url, 'GET', `/v1/sessions/${sessionId}`, { token: 'alice-token' });
    expect(snapshot.body.turns).toHaveLength(1);
    expect(seen).toHaveLength(routes.length * 2);
  });

  it('a body is not read without credentials', async () => {
    let authenticated = 0;
    const { url } = await startAuthServer({
      authenticate: ({ token }) => {
        authenticated++;
        return token === 'alice-token' ? { id: 'alice' } : null;
      },
    });
    // Malformed JSON would be a 400 if the body were read first.
    const response = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(response.status).toBe(401);
    expect(authenticated).toBe(1);
  });

  it('a principal with a valid token is served; Authorization is case-insensitive in its scheme', async () => {
    const { url } = await startAuthServer();
    const reply = await call(url, 'POST', '/v1/sessions', { headers: { authorization: 'bearer alice-token' }, body: {} });
    expect(reply.status).toBe(201);
    expect((await call(url, 'GET', '/v1/health', { token: 'bob-token' })).status).toBe(200);
  });

  it('the hook sees method, url, headers, ip and the token', async () => {
    const seen: unknown[] = [];
    const { url } = await startAuthServer({
      authenticate: (req) => {
        seen.push(req);
        return { id: 'alice' };
      },
    });
    await call(url, 'GET', '/v1/health?x=1', { token: 'tok', headers: { 'x-extra': 'yes' } });
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/v1/health?x=1', ip: '127.0.0.1', token: 'tok', headers: { 'x-extra': 'yes' } });
  });

  it('a throwing hook is a 500 that does not leak its text, and is logged', async () => {
    const logged: unknown[] = [];
    const { url } = await startAuthServer({
      authenticate: () => {
        throw new Error('ldap password=hunter2 down');
      },
      logger: { error: (fields: unknown) => logged.push(fields) },
    });
    const reply = await call(url, 'GET', '/v1/health', { token: 'x' });
    expect(reply.status).toBe(500);
    expect(JSON.stringify(reply.body)).not.toContain('hunter2');
    expect(JSON.stringify(logged.map((l: any) => String(l.err)))).toContain('hunter2');
  });
});

describe('authenticate: WebSocket upgrade', () => {
  it('is refused with HTTP 401 before it opens, without a token or with a wrong one', async () => {
    const { url } = await startAuthServer();
    for (const protocols of [[], [wsProtocols.v1], bearerProtocols('mallory-token')]) {
      const opened = await openSocket(url, { protocols });
      expect(opened.status).toBe(401);
      if ('body' in opened) expect(JSON.parse(opened.body)).toMatchObject({ error: { code: 'unauthorized', status: 401 } });
    }
  });

  it('opens with the bearer subprotocol, selects agent-tether.v1 (never echoes the token) and runs commands as the principal', async () => {
    const { url } = await startAuthServer();
    const opened = await openSocket(url, { protocols: bearerProtocols('alice-token') });
    if (!('ws' in opened)) throw new Error(`refused: ${opened.status}`);
    const { ws } = opened;
    onTeardown(() => ws.terminate());
    expect(ws.protocol).toBe(wsProtocols.v1);
    const sessionId = await createSession(url, 'alice-token');
    const reply = await request(ws, { type: 'subscribe', sessionId, after: 0 });
    expect(reply.ok).toBe(true);
  });

  it('opens with Authorization: Bearer too (clients that can set headers)', async () => {
    const { url } = await startAuthServer();
    const opened = await openSocket(url, { headers: { authorization: 'Bearer bob-token' } });
    expect(opened.status).toBe(101);
    if ('ws' in opened) opened.ws.terminate();
  });
});
