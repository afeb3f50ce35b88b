import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError, HttpError, ProtocolError, TimeoutError } from '../../src/errors/index.js';
import { createTransport, type Transport, type TransportOptions } from '../../src/transport/index.js';
import {
  delta,
  FakeClock,
  type HttpFixture,
  httpFixture,
  readTrackingFetch,
  Recorder,
  sleep,
  sseEvent,
  startSse,
  transportOptions,
} from './helpers.js';

let server: HttpFixture | undefined;
let clock: FakeClock;
let recorder: Recorder;
let transports: Transport[];
/** Server-side responses, by request index. */
let responses: ServerResponse[];

beforeEach(() => {
  clock = new FakeClock();
  recorder = new Recorder();
  transports = [];
  responses = [];
});

afterEach(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await server?.close();
  server = undefined;
});

async function serve(handler: (res: ServerResponse, index: number) => void): Promise<HttpFixture> {
  server = await httpFixture((_req, res, index) => {
    responses[index] = res;
    handler(res, index);
  });
  return server;
}

function start(fixture: HttpFixture, overrides: Partial<TransportOptions> = {}): Transport {
  const transport = createTransport('sse', transportOptions(fixture.url, clock, overrides), recorder);
  transports.push(transport);
  return transport;
}

describe('sse transport: opening, delivery, resume', () => {
  it('sends Accept, headers, after/epoch and Last-Event-ID on resume; opens on the first bytes', async () => {
    const fixture = await serve((res) => startSse(res));
    const transport = start(fixture);
    transport.subscribe('s1', { after: 41, epoch: 'e1' });
    await recorder.until((r) => r.opened);
    const req = fixture.requests[0];
    expect(req?.url).toBe('/v1/sessions/s1/events?after=41&epoch=e1');
    expect(req?.headers.accept).toBe('text/event-stream');
    expect(req?.headers['last-event-id']).toBe('41');
    expect(req?.headers.authorization).toBe('Bearer secret');
    expect(req?.headers['x-tether-client']).toBe('client-1');
  });

  it('sends no Last-Event-ID from the start (after 0)', async () => {
    const fixture = await serve((res) => startSse(res));
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.opened);
    expect(fixture.requests[0]?.headers['last-event-id']).toBeUndefined();
  });

  it('delivers events parsed from one chunk in one events() call, in order, passing unknown types through', async () => {
    const future = { type: 'turn.future', sessionId: 's1', seq: 3, epoch: 'e1', time: 1 };
    const fixture = await serve((res) => {
      startSse(res);
      res.write(sseEvent(delta('s1', 1)) + sseEvent(delta('s1', 2)) + sseEvent(future));
    });
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.delivered.length === 3);
    expect(recorder.delivered.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(recorder.calls.filter((c) => c.kind === 'events')).toHaveLength(1);
  });

  it('handles events split across chunks', async () => {
    const fixture = await serve((res) => {
      startSse(res);
      const text = sseEvent(delta('s1', 1, 'héllo wörld'));
      res.write(text.slice(0, 20));
      setTimeout(() => res.write(text.slice(20)), 20);
    });
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.delivered.length === 1);
    expect(recorder.delivered[0]).toMatchObject({ text: 'héllo wörld' });
  });

  it('reports `event: reset` through reset(), after the events before it', async () => {
    const info = { sessionId: 's1', epoch: 'e2', after: 0, reason: 'history_gone' };
    const fixture = await serve((res) => {
      startSse(res);
      res.write(`${sseEvent(delta('s1', 5))}event: reset\ndata: ${JSON.stringify(info)}\n\n${sseEvent({ ...delta('s1', 1), epoch: 'e2' })}`);
    });
    start(fixture).subscribe('s1', { after: 5, epoch: 'e1' });
    await recorder.until((r) => r.delivered.length === 2);
    expect(recorder.calls.map((c) => c.kind)).toEqual(['open', 'events', 'reset', 'events']);
    expect(recorder.resets[0]).toEqual(info);
  });
});

describe('sse transport: ends and failures', () => {
  it('a stream that ends without us closing it is a drop; retry: is reported as retryHintMs (a hint, not an ask)', async () => {
    const fixture = await serve((res) => {
      startSse(res, 1_234);
      res.end(sseEvent(delta('s1', 1)));
    });
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.delivered).toHaveLength(1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: true, retryHintMs: 1_234, retryAfterMs: undefined });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ConnectionError);
    expect(recorder.closedCalls[0]?.error?.code).toBe('stream_ended');
    expect(clock.pending).toBe(0);
  });

  it('non-JSON data is a ProtocolError in closed(), not a throw', async () => {
    const fixture = await serve((res) => {
      startSse(res);
      res.write('data: {oops\n\n');
    });
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
    expect(recorder.closedCalls[0]?.error?.code).toBe('invalid_json');
  });

  it('a schema-invalid event is a ProtocolError, and nothing of that chunk is delivered', async () => {
    const fixture = await serve((res) => {
      startSse(res);
      res.write(sseEvent(delta('s1', 1)) + sseEvent({ ...delta('s1', 2), text: 42 }));
    });
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
    expect(recorder.closedCalls[0]?.error?.code).toBe('invalid_event');
    expect(recorder.delivered).toEqual([]);
  });

  it('an HTTP error becomes HttpError with status, code and Retry-After', async () => {
    const fixture = await serve((res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end(JSON.stringify({ error: { code: 'shutting_down', message: 'bye', status: 503 } }));
    });
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    const info = recorder.closedCalls[0];
    expect(info).toMatchObject({ opened: false, retryAfterMs: 3_000 });
    expect(info?.error).toBeInstanceOf(HttpError);
    expect(info?.error).toMatchObject({ status: 503, code: 'shutting_down', details: { sessionId: 's1' } });
  });

  it('a 2xx reply that is not an event stream is a ProtocolError and never opens', async () => {
    const fixture = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>captive portal</html>');
    });
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: false });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
  });

  it('a buffering proxy (headers, no bytes) never opens: TimeoutError after openTimeoutMs, fetch aborted (F8)', async () => {
    const fixture = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
    });
    start(fixture, { openTimeoutMs: 2_000 }).subscribe('s1', { after: 0 });
    await fixture.requested(1);
    expect(fixture.requests).toHaveLength(1);
    await sleep(50); // headers arrived, no bytes
    clock.advance(1_999);
    expect(recorder.calls).toEqual([]);
    clock.advance(1);
    expect(recorder.calls).toHaveLength(1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: false });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(TimeoutError);
    await fixture.aborted[0];
    expect(clock.pending).toBe(0);
  });

  it('no bytes for heartbeatTimeoutMs closes the attempt; `: ping` comments count as traffic', async () => {
    const fixture = await serve((res) => startSse(res));
    const tracked = readTrackingFetch();
    start(fixture, { heartbeatTimeoutMs: 3_000, fetch: tracked.fetch }).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.opened);
    clock.advance(2_500);
    responses[0]?.write(': ping\n\n');
    // The clock may move on only once the client has read the ping (a fixed pause lost that race on a busy machine).
    await vi.waitFor(() => expect(tracked.read()).toContain(': ping\n\n'));
    clock.advance(2_500);
    expect(recorder.closedCalls).toEqual([]);
    clock.advance(500);
    expect(recorder.closedCalls).toHaveLength(1);
    expect(recorder.closedCalls[0]?.opened).toBe(true);
    expect(recorder.closedCalls[0]?.error?.code).toBe('heartbeat_timeout');
    await fixture.aborted[0];
    expect(clock.pending).toBe(0);
  });

  it("one session's stream failing closes the whole attempt and aborts the others", async () => {
    const fixture = await serve((res, index) => {
      if (index === 0) startSse(res);
      else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'not_found', message: 'no session', status: 404 } }));
      }
    });
    const transport = start(fixture);
    transport.subscribe('s1', { after: 0 });
    await recorder.until((r) => r.opened);
    transport.subscribe('gone', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.error).toMatchObject({ status: 404, details: { sessionId: 'gone' } });
    await fixture.aborted[0];
  });

  it('unsubscribing the only stream before it opened drops the open deadline too', async () => {
    const fixture = await serve(() => {}); // never answers
    const transport = start(fixture, { openTimeoutMs: 1_000 });
    transport.subscribe('s1', { after: 0 });
    await fixture.requested(1);
    expect(fixture.requests).toHaveLength(1);
    transport.unsubscribe('s1');
    expect(clock.pending).toBe(0);
    clock.advance(5_000);
    expect(recorder.calls).toEqual([]);
  });

  it('with no subscribed session it sends nothing and sets no timer', async () => {
    const fixture = await serve((res) => startSse(res));
    start(fixture);
    await sleep(30);
    expect(fixture.requests).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });
});

describe('sse transport: close() (F7) and stale callbacks (F4)', () => {
  it('close() aborts every fetch, calls no callback and leaves no timer', async () => {
    const fixture = await serve((res) => startSse(res));
    const transport = start(fixture);
    transport.subscribe('s1', { after: 0 });
    transport.subscribe('s2', { after: 0 });
    await fixture.requested(2);
    expect(fixture.requests).toHaveLength(2);
    await recorder.until((r) => r.opened);
    const before = recorder.calls.length;
    await transport.close();
    await Promise.all(fixture.aborted);
    responses[0]?.write(sseEvent(delta('s1', 1)));
    await sleep(30);
    expect(recorder.calls.length).toBe(before);
    expect(clock.pending).toBe(0);
  });

  it('re-subscribing a session aborts its old stream; the old stream reaches no callback', async () => {
    const fixture = await serve((res) => startSse(res));
    const transport = start(fixture);
    transport.subscribe('s1', { after: 0 });
    await recorder.until((r) => r.opened);
    transport.subscribe('s1', { after: 10 });
    await fixture.aborted[0];
    await fixture.requested(2);
    expect(fixture.requests).toHaveLength(2);
    responses[0]?.write(sseEvent(delta('s1', 1))); // old stream: must be ignored
    responses[1]?.write(sseEvent(delta('s1', 11)));
    await recorder.until((r) => r.delivered.length === 1);
    await sleep(30);
    expect(recorder.delivered.map((e) => e.seq)).toEqual([11]);
    expect(recorder.closedCalls).toEqual([]);
    expect(fixture.requests[1]?.url).toBe('/v1/sessions/s1/events?after=10');
  });

  it('unsubscribe aborts that stream without ending the attempt', async () => {
    const fixture = await serve((res) => startSse(res));
    const transport = start(fixture);
    transport.subscribe('s1', { after: 0 });
    await recorder.until((r) => r.opened);
    transport.unsubscribe('s1');
    await fixture.aborted[0];
    await sleep(30);
    expect(recorder.closedCalls).toEqual([]);
  });

  it('the stale-callback guard holds even when a fetch ignores abort (F4)', async () => {
    const fixture = await serve((res) => startSse(res));
    // A fetch that does not honour the signal: bytes keep arriving after stop().
    const deafFetch: typeof fetch = (url, init) => globalThis.fetch(url, { ...init, signal: null });
    const transport = start(fixture, { fetch: deafFetch });
    transport.subscribe('s1', { after: 0 });
    await recorder.until((r) => r.opened);
    transport.subscribe('s1', { after: 10 }); // supersedes stream 0
    await fixture.requested(2);
    expect(fixture.requests).toHaveLength(2);
    responses[0]?.write(sseEvent(delta('s1', 1)) + 'data: not json\n\n');
    responses[1]?.write(sseEvent(delta('s1', 11)));
    await recorder.until((r) => r.delivered.length === 1);
    const before = recorder.calls.length;
    await transport.close();
    responses[1]?.write(sseEvent(delta('s1', 12)));
    responses[0]?.end();
    responses[1]?.end();
    await sleep(50);
    expect(recorder.delivered.map((e) => e.seq)).toEqual([11]);
    expect(recorder.calls.length).toBe(before);
  });
});
