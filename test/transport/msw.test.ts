import { http, HttpResponse, ws } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTransport, type Transport, type WebSocketConstructor } from '../../src/transport/index.js';
import { delta, FakeClock, Recorder, transportOptions } from './helpers.js';

// The client core's unit tests mock the server with msw: the transports must
// work with msw's WebSocket interception (a WHATWG socket without a send
// callback) and with a fetch answered by a ReadableStream.
const socketLink = ws.link('ws://tether.test/v1/ws');
const server = setupServer();
let transports: Transport[] = [];

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(async () => {
  await Promise.all(transports.map((t) => t.close(200)));
  transports = [];
  server.resetHandlers();
});
afterAll(() => server.close());

describe('transports under msw', () => {
  it('websocket: welcome → subscribe → events, and a command round trip', async () => {
    const seen: Array<Record<string, unknown>> = [];
    server.use(
      socketLink.addEventListener('connection', ({ client }) => {
        client.send(JSON.stringify({ type: 'welcome', clientId: 'client-1', heartbeatMs: 15_000 }));
        client.addEventListener('message', (event) => {
          const frame = JSON.parse(String(event.data)) as Record<string, unknown>;
          seen.push(frame);
          if (frame.type === 'subscribe') {
            client.send(JSON.stringify({ type: 'reply', id: frame.id, ok: true, result: { epoch: 'e1', seq: 1 } }));
            client.send(JSON.stringify({ type: 'events', sessionId: 's1', events: [delta('s1', 1)] }));
          }
          if (frame.type === 'cancel') {
            client.send(JSON.stringify({ type: 'reply', id: frame.id, ok: true, result: { cancelled: true } }));
          }
        });
      }),
    );
    const recorder = new Recorder();
    const clock = new FakeClock();
    const transport = createTransport(
      'websocket',
      transportOptions('http://tether.test', clock, { WebSocket: globalThis.WebSocket as unknown as WebSocketConstructor }),
      recorder,
    );
    transports.push(transport);
    transport.subscribe('s1', { after: 0 });
    await recorder.until((r) => r.delivered.length === 1);
    await expect(transport.command!({ type: 'cancel', sessionId: 's1', turnId: 't' })).resolves.toEqual({ cancelled: true });
    expect(seen.map((f) => f.type)).toEqual(['subscribe', 'cancel']);
    await transport.close(200);
    expect(clock.pending).toBe(0);
  });

  it('sse: a streamed response opens the attempt and delivers events', async () => {
    server.use(
      http.get('http://tether.test/v1/sessions/:sid/events', ({ request }) => {
        expect(request.headers.get('last-event-id')).toBe('4');
        const encoder = new TextEncoder();
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encoder.encode('retry: 500\n\n'));
            controller.enqueue(encoder.encode(`id: 5\ndata: ${JSON.stringify(delta('s1', 5))}\n\n`));
          },
        });
        return new HttpResponse(body, { headers: { 'content-type': 'text/event-stream' } });
      }),
    );
    const recorder = new Recorder();
    const transport = createTransport('sse', transportOptions('http://tether.test', new FakeClock()), recorder);
    transports.push(transport);
    transport.subscribe('s1', { after: 4, epoch: 'e1' });
    await recorder.until((r) => r.delivered.length === 1);
    expect(recorder.calls.map((c) => c.kind)).toEqual(['open', 'events']);
  });
});
