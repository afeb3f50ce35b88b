import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMswHandlers, type MswTether } from '../../src/testing.js';

// In a browser page served over plain http:// from a host other than localhost (an insecure
// context) `crypto.randomUUID` does not exist; msw handlers run the server core in that page.
const BASE = 'http://tether.test';
const server = setupServer();
let tether: MswTether | undefined;

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());
afterEach(async () => {
  server.resetHandlers();
  await tether?.close();
  delete (globalThis.crypto as { randomUUID?: unknown }).randomUUID; // the own property set below
});

describe('msw handlers without crypto.randomUUID (an insecure browser page)', () => {
  it('create a session and accept a prompt, with UUID v4 ids', async () => {
    Object.defineProperty(globalThis.crypto, 'randomUUID', { value: undefined, configurable: true });
    expect(globalThis.crypto.randomUUID).toBeUndefined();
    tether = createMswHandlers({ baseUrl: BASE });
    server.use(...tether.handlers);
    const created = await fetch(`${BASE}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(created.status).toBe(201);
    const sessionId = ((await created.json()) as any).session.id as string;
    expect(sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const prompted = await fetch(`${BASE}/v1/sessions/${sessionId}/turns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' },
      body: JSON.stringify({ prompt: 'hi' }),
    });
    expect(prompted.status).toBe(201);
    expect(((await prompted.json()) as any).turn.id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
