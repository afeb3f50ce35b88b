import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError, HttpError, ProtocolError, TimeoutError } from '../../src/errors/index.js';
import { createTransport, POLL_DEADLINE_MARGIN_MS, POLL_EMPTY_FLOOR_MS, type Transport, type TransportOptions } from '../../src/transport/index.js';
import { delta, FakeClock, type HttpFixture, httpFixture, Recorder, sleep, transportOptions } from './helpers.js';

let server: HttpFixture | undefined;
let clock: FakeClock;
let recorder: Recorder;
let transports: Transport[];
let held: ServerResponse[];

beforeEach(() => {
  clock = new FakeClock();
  recorder = new Recorder();
  transports = [];
  held = [];
});

afterEach(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await server?.close();
  server = undefined;
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Answers requests from `replies` in order, then holds every further request open. */
async function serve(replies: Array<(res: ServerResponse) => void>): Promise<HttpFixture> {
  server = await httpFixture((_req, res, index) => {
    const reply = replies[index];
    if (reply) reply(res);
    else held.push(res);
  });
  return server;
}

function start(fixture: HttpFixture, overrides: Partial<TransportOptions> = {}): Transport {
  const transport = createTransport('poll', transportOptions(fixture.url, clock, overrides), recorder);
  transports.push(transport);
  return transport;
}

describe('poll transport', () => {
  it('opens on the first 2xx reply (asked with wait=0), delivers events and continues from `next`', async () => {
    const fixture = await serve([
      (res) => json(res, 200, { epoch: 'e1', events: [delta('s1', 4), delta('s1', 5)], next: 5 }),
      (res) => json(res, 200, { epoch: 'e1', events: [], next: 5 }),
    ]);
    start(fixture, { pollWaitMs: 1_000 }).subscribe('s1', { after: 3, epoch: 'e1' });
    await fixture.requested(2);
    expect(fixture.requests).toHaveLength(2);
    // The second reply was empty and came at once: the next request waits out the floor.
    await vi.waitFor(() => expect(clock.scheduled()).toEqual([POLL_EMPTY_FLOOR_MS]));
    clock.advance(POLL_EMPTY_FLOOR_MS);
    await fixture.requested(3);
    expect(fixture.requests).toHaveLength(3);
    expect(recorder.calls.map((c) => c.kind)).toEqual(['open', 'events']);
    expect(recorder.delivered.map((e) => e.seq)).toEqual([4, 5]);
    expect(fixture.requests.map((r) => r.url)).toEqual([
      '/v1/sessions/s1/poll?after=3&epoch=e1&wait=0',
      '/v1/sessions/s1/poll?after=5&epoch=e1&wait=1000',
      '/v1/sessions/s1/poll?after=5&epoch=e1&wait=1000',
    ]);
    expect(fixture.requests[0]?.headers.authorization).toBe('Bearer secret');
    expect(fixture.requests[0]?.headers['x-tether-client']).toBe('client-1');
  });

  it('asks at most once a second while a server answers empty at once, ignoring `wait`', async () => {
    const empty = (res: ServerResponse) => json(res, 200, { epoch: 'e1', events: [], next: 0 });
    const fixture = await serve(Array.from({ length: 50 }, () => empty));
    const transport = start(fixture, { pollWaitMs: 25_000 });
    transport.subscribe('s1', { after: 0 });
    // The first request (wait=0) answers at once by design; the second (wait=25000) should not have.
    await fixture.requested(2);
    expect(fixture.requests).toHaveLength(2);
    for (let n = 3; n <= 5; n++) {
      await vi.waitFor(() => expect(clock.scheduled()).toEqual([POLL_EMPTY_FLOOR_MS]));
      clock.advance(POLL_EMPTY_FLOOR_MS - 1);
      await sleep(20);
      expect(fixture.requests).toHaveLength(n - 1);
      clock.advance(1);
      await fixture.requested(n);
      expect(fixture.requests).toHaveLength(n);
    }
    await sleep(50);
    expect(fixture.requests).toHaveLength(5);
    await transport.close();
    expect(clock.pending).toBe(0);
  });

  it('reports a reply’s reset before its events', async () => {
    const reset = { sessionId: 's1', epoch: 'e2', after: 0, reason: 'epoch_changed' };
    const fixture = await serve([(res) => json(res, 200, { epoch: 'e2', events: [{ ...delta('s1', 1), epoch: 'e2' }], reset, next: 1 })]);
    start(fixture).subscribe('s1', { after: 9, epoch: 'e1' });
    await recorder.until((r) => r.delivered.length === 1);
    expect(recorder.calls.map((c) => c.kind)).toEqual(['open', 'reset', 'events']);
    expect(recorder.resets[0]).toEqual(reset);
    await fixture.requested(2);
    expect(fixture.requests[1]?.url).toBe('/v1/sessions/s1/poll?after=1&epoch=e2&wait=1000');
  });

  it('a reply that is not JSON is a ProtocolError in closed()', async () => {
    const fixture = await serve([(res) => json(res, 200, '<html>')]);
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: false });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
  });

  it('a schema-invalid reply is a ProtocolError, after open as well', async () => {
    const fixture = await serve([
      (res) => json(res, 200, { epoch: 'e1', events: [], next: 0 }),
      (res) => json(res, 200, { epoch: 'e1', events: [{ type: 'turn.delta', seq: 'x' }], next: 1 }),
    ]);
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: true });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
    expect(recorder.delivered).toEqual([]);
  });

  it('an HTTP error becomes HttpError with Retry-After as retryAfterMs', async () => {
    const fixture = await serve([
      (res) => json(res, 429, { error: { code: 'rate_limited', message: 'slow down', status: 429 } }, { 'retry-after': '2' }),
    ]);
    start(fixture).subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: false, retryAfterMs: 2_000 });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(HttpError);
    expect(recorder.closedCalls[0]?.error).toMatchObject({ status: 429, code: 'rate_limited' });
  });

  it('a request that misses wait + margin ends the attempt with TimeoutError and is aborted', async () => {
    const fixture = await serve([(res) => json(res, 200, { epoch: 'e1', events: [], next: 0 })]);
    start(fixture, { pollWaitMs: 1_000, heartbeatTimeoutMs: 60_000 }).subscribe('s1', { after: 0 });
    await fixture.requested(2);
    expect(fixture.requests).toHaveLength(2);
    clock.advance(1_000 + POLL_DEADLINE_MARGIN_MS - 1);
    expect(recorder.closedCalls).toEqual([]);
    clock.advance(1);
    expect(recorder.closedCalls).toHaveLength(1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: true });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(TimeoutError);
    await fixture.aborted[1];
    expect(clock.pending).toBe(0);
  });

  it('an unreachable server is a ConnectionError on a never-opened attempt', async () => {
    const fixture = await serve([]);
    const url = fixture.url;
    await fixture.close();
    server = undefined;
    const transport = createTransport('poll', transportOptions(url, clock), recorder);
    transports.push(transport);
    transport.subscribe('s1', { after: 0 });
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: false });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ConnectionError);
  });

  it('close() aborts the request in flight, calls no callback and leaves no timer (F7, F4)', async () => {
    const fixture = await serve([(res) => json(res, 200, { epoch: 'e1', events: [], next: 0 })]);
    const transport = start(fixture);
    transport.subscribe('s1', { after: 0 });
    // The first reply is scripted; the second request is held.
    await fixture.requested(2);
    expect(held).toHaveLength(1);
    const before = recorder.calls.length;
    await transport.close();
    await fixture.aborted[1];
    expect(clock.pending).toBe(0);
    await sleep(30);
    expect(recorder.calls.length).toBe(before);
  });

  it('a reply that arrives after close() reaches no callback even if the fetch ignores abort (F4)', async () => {
    const fixture = await serve([(res) => json(res, 200, { epoch: 'e1', events: [], next: 0 })]);
    const deafFetch: typeof fetch = (url, init) => globalThis.fetch(url, { ...init, signal: null });
    const transport = start(fixture, { fetch: deafFetch });
    transport.subscribe('s1', { after: 0 });
    // The first reply is scripted; the second request is held.
    await fixture.requested(2);
    expect(held).toHaveLength(1);
    const before = recorder.calls.length;
    await transport.close();
    json(held[0]!, 200, { epoch: 'e1', events: [delta('s1', 1)], next: 1 });
    await sleep(50);
    expect(recorder.calls.length).toBe(before);
    expect(fixture.requests).toHaveLength(2); // and the loop did not go on
  });
});
