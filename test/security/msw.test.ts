// The msw handlers take the same authenticate/authorize as createServer and answer the same way.
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tokenAuthenticator } from '../../src/server.js';
import { createMswHandlers, type MswTether } from '../../src/testing.js';
import { bearerProtocols, TOKENS } from './helpers.js';

const BASE = 'http://tether.test';
const server = setupServer();
let tether: MswTether | undefined;
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());
afterEach(async () => {
  server.resetHandlers();
  await tether?.close();
});

function use(): void {
  tether = createMswHandlers({ baseUrl: BASE, authenticate: tokenAuthenticator(TOKENS) });
  server.use(...tether.handlers);
}

async function call(path: string, token?: string, body?: unknown) {
  const response = await fetch(BASE + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** Opens the msw WebSocket with `protocols`; the first frame or the close code. */
function firstFrameOrClose(protocols: string[]): Promise<{ frame?: any; close?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${BASE.replace('http', 'ws')}/v1/ws`, protocols);
    ws.addEventListener('message', (event) => {
      resolve({ frame: JSON.parse(String(event.data)) });
      ws.close();
    });
    ws.addEventListener('close', (event) => resolve({ close: event.code }));
  });
}

describe('msw handlers with authenticate', () => {
  it('HTTP: 401 without a token, 404 for another principal, served for the owner', async () => {
    use();
    expect((await call('/v1/sessions', undefined, {})).status).toBe(401);
    const created = await call('/v1/sessions', 'alice-token', {});
    expect(created.status).toBe(201);
    const id = created.body.session.id;
    expect((await call(`/v1/sessions/${id}`, 'bob-token')).body.error.code).toBe('session_not_found');
    expect((await call(`/v1/sessions/${id}`, 'alice-token')).status).toBe(200);
  });

  it('WebSocket: closed with 4401 before welcome without a token; welcome with the bearer subprotocol', async () => {
    use();
    expect(await firstFrameOrClose([])).toEqual({ close: 4401 });
    expect((await firstFrameOrClose(bearerProtocols('alice-token'))).frame).toMatchObject({ type: 'welcome' });
  });
});
