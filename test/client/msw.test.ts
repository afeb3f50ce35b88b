import { http, HttpResponse, ws } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/index.js';
import { turnInfo } from './helpers.js';

/*
 * Protocol-logic tests through the real transports, with the network mocked
 * by msw (HTTP, SSE and WebSocket interception).
 */
const BASE = 'http://tether.msw';
const server = setupServer();
const clients: Client[] = [];

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  server.resetHandlers();
});
afterAll(() => server.close());

const event = (seq: number, type: string, extra: Record<string, unknown> = {}) => ({
  type,
  sessionId: 's1',
  seq,
  epoch: 'e1',
  time: seq,
  turnId: 't1',
  ...extra,
});

describe('msw: HTTP commands + SSE stream', () => {
  it('prompts over HTTP and streams the turn over SSE, resuming with the cursor after a drop', async () => {
    const cursors: Array<string | null> = [];
    let connections = 0;
    server.use(
      http.post(`${BASE}/v1/sessions/s1/turns`, ({ request }) => {
        expect(request.headers.get('idempotency-key')).toBeTruthy();
        return HttpResponse.json({ turn: turnInfo('t1', 1) }, { status: 201 });
      }),
      http.get(`${BASE}/v1/sessions/s1/events`, ({ request }) => {
        const url = new URL(request.url);
        cursors.push(request.headers.get('last-event-id') ?? url.searchParams.get('after'));
        connections += 1;
        const frame = (e: ReturnType<typeof event>) => `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`;
        const body =
          connections === 1
            ? // The stream ends without the turn's terminal: a drop, not an end.
              `retry: 10\n\n${frame(event(1, 'turn.queued', { prompt: 'hi' }))}${frame(event(2, 'turn.started'))}${frame(event(3, 'turn.delta', { text: 'Hel' }))}`
            : // A duplicate (dropped by seq), then the rest.
              `: ping\n\n${frame(event(3, 'turn.delta', { text: 'Hel' }))}${frame(event(4, 'turn.delta', { text: 'lo' }))}${frame(event(5, 'turn.completed', { output: 'Hello' }))}`;
        return new HttpResponse(body, { headers: { 'content-type': 'text/event-stream' } });
      }),
    );
    const client = createClient({ baseUrl: BASE, transports: ['sse'], reconnect: { initialDelayMs: 1, maxDelayMs: 5 } });
    clients.push(client);
    const turn = await client.session('s1').prompt('hi');
    let text = '';
    for await (const e of turn) if (e.type === 'turn.delta') text += e.text;
    expect(text).toBe('Hello');
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: 'Hello' });
    expect(cursors[0]).toBe('0');
    expect(cursors[1]).toBe('3');
  });

  it('maps an HTTP error body to HttpError with the server code', async () => {
    server.use(
      http.post(`${BASE}/v1/sessions`, () =>
        HttpResponse.json({ error: { code: 'unsupported_media_type', message: 'nope', status: 415 } }, { status: 415 }),
      ),
    );
    const client = createClient({ baseUrl: BASE });
    clients.push(client);
    await expect(client.createSession()).rejects.toMatchObject({ name: 'HttpError', status: 415, code: 'unsupported_media_type' });
  });
});

describe('msw: WebSocket', () => {
  it('subscribes and prompts over one multiplexed socket', async () => {
    const link = ws.link('ws://tether.msw/v1/ws');
    const frames: Array<Record<string, unknown>> = [];
    server.use(
      link.addEventListener('connection', ({ client }) => {
        client.send(JSON.stringify({ type: 'welcome', clientId: 'me', heartbeatMs: 15_000 }));
        client.addEventListener('message', (message) => {
          const frame = JSON.parse(String(message.data)) as Record<string, unknown>;
          frames.push(frame);
          if (frame.type === 'subscribe') {
            client.send(JSON.stringify({ type: 'reply', id: frame.id, ok: true, result: { epoch: 'e1', seq: 0 } }));
          } else if (frame.type === 'prompt') {
            client.send(JSON.stringify({ type: 'reply', id: frame.id, ok: true, result: { turn: turnInfo('t1', 1) } }));
            client.send(
              JSON.stringify({
                type: 'events',
                sessionId: 's1',
                events: [
                  event(1, 'turn.queued', { prompt: 'hi' }),
                  event(2, 'turn.started'),
                  event(3, 'turn.delta', { text: 'ok' }),
                  event(4, 'turn.completed', { output: 'ok' }),
                ],
              }),
            );
          }
        });
      }),
    );
    // msw intercepts the global WHATWG WebSocket.
    const client = createClient({ baseUrl: BASE, clientId: 'me', transports: ['websocket'], WebSocket: globalThis.WebSocket });
    clients.push(client);
    const sub = client.session('s1').subscribe({ after: 0 });
    const it = sub[Symbol.asyncIterator]();
    const first = it.next();
    await new Promise<void>((resolve) => {
      const off = client.on('state', (s) => s.status === 'open' && (off(), resolve()));
    });
    const turn = await client.session('s1').prompt('hi', { idempotencyKey: 'k' });
    expect(frames.find((f) => f.type === 'prompt')).toMatchObject({ sessionId: 's1', prompt: 'hi', idempotencyKey: 'k' });
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: 'ok' });
    expect((await first).value).toMatchObject({ type: 'turn.queued', seq: 1 });
    sub.close();
  });
});
