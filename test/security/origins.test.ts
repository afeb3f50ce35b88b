// Allowed origins: which pages may call the server (CORS) and open its WebSocket (`Origin`, which no CORS protects).
import { describe, expect, it } from 'vitest';
import { scriptedAgent, startServer } from '../server/helpers.js';
import { bearerProtocols, call, openSocket, startAuthServer } from './helpers.js';

const EVIL = 'https://evil.example';
const APP = 'https://app.example';

async function preflight(url: string, origin: string) {
  const response = await fetch(`${url}/v1/sessions`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
  await response.arrayBuffer();
  return response;
}

describe('allowed origins with authentication on', () => {
  it('by default a page of another origin can neither open a WebSocket nor call, even with a valid token', async () => {
    const { url, server } = await startAuthServer();
    const socket = await openSocket(url, { protocols: bearerProtocols('alice-token'), headers: { origin: EVIL } });
    expect(socket.status).toBe(403);
    if ('body' in socket) expect(JSON.parse(socket.body)).toMatchObject({ error: { code: 'origin_not_allowed', status: 403 } });
    const created = await call(url, 'POST', '/v1/sessions', { token: 'alice-token', headers: { origin: EVIL }, body: {} });
    expect(created.status).toBe(403);
    expect(created.headers.get('access-control-allow-origin')).toBeNull();
    expect(server.stats().sessions).toBe(0);
    const pre = await preflight(url, EVIL);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("the server's own origin and requests without Origin (not from a page) are served", async () => {
    const { url } = await startAuthServer();
    const own = new URL(url).origin;
    const socket = await openSocket(url, { protocols: bearerProtocols('alice-token'), headers: { origin: own } });
    expect(socket.status).toBe(101);
    if ('ws' in socket) socket.ws.terminate();
    expect((await call(url, 'POST', '/v1/sessions', { token: 'alice-token', headers: { origin: own }, body: {} })).status).toBe(201);
    expect((await call(url, 'POST', '/v1/sessions', { token: 'alice-token', body: {} })).status).toBe(201);
  });

  it('a listed origin may: its preflight allows Authorization, replies name it (not *), WebSocket opens', async () => {
    const { url } = await startAuthServer({ allowedOrigins: [APP] });
    const pre = await preflight(url, APP);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(APP);
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(pre.headers.get('vary')).toBe('Origin');
    const created = await call(url, 'POST', '/v1/sessions', { token: 'alice-token', headers: { origin: APP }, body: {} });
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBe(APP);
    const socket = await openSocket(url, { protocols: bearerProtocols('alice-token'), headers: { origin: APP } });
    expect(socket.status).toBe(101);
    if ('ws' in socket) socket.ws.terminate();
    expect((await openSocket(url, { protocols: bearerProtocols('alice-token'), headers: { origin: EVIL } })).status).toBe(403);
  });

  it('a function decides per origin', async () => {
    const { url } = await startAuthServer({ allowedOrigins: (origin) => origin.endsWith('.app.example') });
    expect((await call(url, 'GET', '/v1/health', { token: 'alice-token', headers: { origin: 'https://a.app.example' } })).status).toBe(200);
    expect((await call(url, 'GET', '/v1/health', { token: 'alice-token', headers: { origin: EVIL } })).status).toBe(403);
  });
});

describe('allowed origins without authentication', () => {
  it("default '*': any page (a loopback development server, as before); the preflight allows Authorization", async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const pre = await preflight(url, EVIL);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const socket = await openSocket(url, { headers: { origin: EVIL } });
    expect(socket.status).toBe(101);
    if ('ws' in socket) socket.ws.terminate();
  });

  it('a list closes it to other pages, WebSocket included', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent, allowedOrigins: [APP] });
    expect((await openSocket(url, { headers: { origin: EVIL } })).status).toBe(403);
    expect((await call(url, 'POST', '/v1/sessions', { headers: { origin: EVIL }, body: {} })).status).toBe(403);
  });
});
