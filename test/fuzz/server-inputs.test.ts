/**
 * Fuzzing what the reference server accepts: random methods, paths, query
 * strings, headers and bodies over raw HTTP, and random WebSocket frames
 * (text, binary, oversize). The server answers 2xx or 4xx with a JSON error
 * body `{error:{code,message,status}}` — never 5xx, never a crash, never a
 * hang — and WebSocket misuse ends with a protocol close code (1007/1008/1009)
 * or an error reply, never 1011; it keeps serving afterwards and logs no error.
 */
import { request } from 'node:http';
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../src/testing.js';

const SEED = 515151;
const MAX_FRAME = 8 * 1024;
let server: TestServer;
let port: number;
let sessionId: string;
let turnId: string;
const logged: unknown[] = [];
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => void rejections.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  server = await createTestServer({
    maxFrameBytes: MAX_FRAME,
    script: [{ delta: 'ok' }],
    logger: { error: ({ err: details }, message) => void logged.push({ message, details }) },
  });
  port = server.port;
  const created = (await (await fetch(`${server.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { session: { id: string } };
  sessionId = created.session.id;
  const turn = (await (await fetch(`${server.url}/v1/sessions/${sessionId}/turns`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"hi"}' })).json()) as { turn: { id: string } };
  turnId = turn.turn.id;
});

afterAll(async () => {
  await server.close();
  process.off('unhandledRejection', onRejection);
  expect(rejections).toEqual([]);
  expect(logged).toEqual([]);
});

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  streaming: boolean;
}

/** One raw HTTP request; event streams are cut after their head (they are meant to stay open). */
function send(method: string, path: string, headers: Record<string, string>, body: Uint8Array | undefined): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    // Node's client frames no body on OPTIONS/DELETE unless told: always send a Content-Length.
    const framed = body === undefined ? headers : { ...headers, 'content-length': String(body.length) };
    const req = request({ host: '127.0.0.1', port, method, path, headers: framed, agent: false }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (type.startsWith('text/event-stream')) {
        res.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, body: '', streaming: true });
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text, streaming: false }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error(`hang: ${method} ${path}`)));
    if (body !== undefined) req.end(Buffer.from(body));
    else req.end();
  });
}

// Empty segments make `//` paths (bug 4, fixed: they answered 500).
const segment = fc.oneof(
  fc.constantFrom('v1', 'sessions', 'turns', 'cancel', 'events', 'poll', 'ws', '', '..', '%00', '%ZZ', encodeURIComponent('😀'), 'x'.repeat(300)),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
// Thunks: the session and turn ids exist only once beforeAll ran (generation happens inside the test).
const realPath = fc.constantFrom(
  () => '/v1/sessions',
  () => `/v1/sessions/${sessionId}`,
  () => `/v1/sessions/${sessionId}/turns`,
  () => `/v1/sessions/${sessionId}/turns/${turnId}`,
  () => `/v1/sessions/${sessionId}/turns/${turnId}/cancel`,
  () => `/v1/sessions/${sessionId}/turns/nope/cancel`,
  () => `/v1/sessions/${sessionId}/events`,
  () => `/v1/sessions/${sessionId}/poll`,
  () => '/v1/sessions/nope/poll',
  () => '/v1/ws',
);
const query = fc.oneof(
  fc.constant(''),
  fc.tuple(fc.constantFrom('after', 'epoch', 'wait', 'clientId', 'x'), fc.oneof(fc.constantFrom('0', '-1', '1e9', 'NaN', '1.5', '', '%', '99999999999999999999'), fc.string({ maxLength: 8 }).map(encodeURIComponent)))
    .map(([k, v]) => `?${k}=${v}`),
);
const path = fc
  .tuple(fc.oneof(realPath.map((f) => f()), fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join('/')}`)), query)
  // `wait` on a valid poll is capped so a legal long-poll does not look like a hang.
  .map(([p, q]) => p + q.replace(/wait=[^&]*/, (m) => (/^wait=\d+$/.test(m) && Number(m.slice(5)) > 500 ? 'wait=500' : m)));
const jsonBody = fc.oneof(
  fc.json(),
  fc.constant('{"prompt":"hi"}'),
  fc.record({ prompt: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), clientId: fc.option(fc.string()), metadata: fc.option(fc.object()) }).map((o) => JSON.stringify(o)),
  fc.constant(`{"prompt":"${'x'.repeat(MAX_FRAME + 10)}"}`),
  fc.constant('{"prompt":'),
  fc.constant('\u00ff\u00fe'),
);
const body = fc.oneof(
  fc.constant(undefined),
  jsonBody.map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ maxLength: 200 }),
);
const headers = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'multipart/form-data', '', 'application/x-www-form-urlencoded'),
    accept: fc.constantFrom('text/event-stream', 'application/json', '*/*'),
    'idempotency-key': fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
    'last-event-id': fc.constantFrom('1', '-5', 'abc', '999999', ''),
    'x-tether-client': fc.string({ maxLength: 10 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
  },
  { requiredKeys: [] },
);

describe('HTTP', () => {
  it('random methods, paths, queries, headers and bodies: 2xx, or 4xx with a JSON error body; never 5xx or a hang', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), path, headers, body, async (method, p, h, b) => {
        const reply = await send(method, p, h, method === 'GET' || method === 'HEAD' ? undefined : b);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        expect(reply.status).toBeLessThan(500);
        if (reply.status >= 400 && method !== 'HEAD') {
          expect(String(reply.headers['content-type'])).toMatch(/^application\/json/);
          const parsed = JSON.parse(reply.body) as { error: { code: unknown; message: unknown; status: unknown } };
          expect(typeof parsed.error.code).toBe('string');
          expect(typeof parsed.error.message).toBe('string');
          expect(parsed.error.status).toBe(reply.status);
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
    // The fuzzer reached both accepting and rejecting paths.
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThan(2);
    // Still serving normally.
    const res = await fetch(`${server.url}/v1/sessions/${sessionId}`);
    expect(res.status).toBe(200);
  }, 120_000);
});

describe('WebSocket', () => {
  it('random text, JSON, binary and oversize frames: error replies or close 1007/1008/1009, never 1011; never a hang', async () => {
    const frame = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => ({ text: s })),
      fc.json().map((s) => ({ text: s })),
      fc.uint8Array({ maxLength: 40 }).map((b) => ({ binary: b })),
      fc.constant({ text: 'x'.repeat(MAX_FRAME + 1) }),
      fc.constant({ binary: new Uint8Array(MAX_FRAME + 1) }),
      fc.constantFrom(
        () => ({ text: JSON.stringify({ type: 'subscribe', id: 'a', sessionId, after: 0 }) }),
        () => ({ text: JSON.stringify({ type: 'subscribe', id: 'b', sessionId: 'nope' }) }),
        () => ({ text: JSON.stringify({ type: 'subscribe', id: 'c', sessionId, after: -3, epoch: 7 }) }),
        () => ({ text: JSON.stringify({ type: 'prompt', id: 'd', sessionId, prompt: 'hi' }) }),
        () => ({ text: JSON.stringify({ type: 'prompt', id: 'e', sessionId, prompt: 42 }) }),
        () => ({ text: JSON.stringify({ type: 'cancel', id: 'f', sessionId, turnId: 'nope' }) }),
        () => ({ text: JSON.stringify({ type: 'cancel', id: 'g', sessionId, turnId }) }),
        () => ({ text: JSON.stringify({ type: 'unsubscribe', id: 'h', sessionId }) }),
        () => ({ text: JSON.stringify({ type: 'ping' }) }),
        () => ({ text: JSON.stringify({ type: 'nope', id: 'i' }) }),
      ).map((f) => f()),
    );
    const codes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 6 }), async (frames) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws?clientId=fuzz`, { maxPayload: 64 * 1024 * 1024 });
        const received: string[] = [];
        ws.on('message', (d) => received.push(String(d)));
        ws.on('error', () => {});
        const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        for (const f of frames) {
          if (ws.readyState !== WebSocket.OPEN) break;
          ws.send('binary' in f ? Buffer.from(f.binary) : f.text, { binary: 'binary' in f });
        }
        // A final ping proves the server is still answering on this socket (or it closed it).
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping', time: 1 }));
        const outcome = await Promise.race([
          closed.then((code) => ({ code })),
          new Promise<{ pong: true }>((resolve) => {
            const check = () => (received.some((m) => m.includes('"pong"')) ? resolve({ pong: true }) : setTimeout(check, 5));
            check();
          }),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`hang: frames ${JSON.stringify(frames).slice(0, 300)}`)), 3000)),
        ]);
        if ('code' in outcome) {
          codes.set(outcome.code, (codes.get(outcome.code) ?? 0) + 1);
          expect([1000, 1001, 1007, 1008, 1009]).toContain(outcome.code);
        } else {
          ws.close(1000);
          await closed;
        }
        for (const m of received) {
          const parsed = JSON.parse(m) as { type: string; ok?: boolean; error?: { status: number } };
          if (parsed.type === 'reply' && parsed.ok === false) expect(parsed.error!.status).toBeLessThan(500);
        }
      }),
      { seed: SEED, numRuns: 150 },
    );
    expect([...codes.keys()].some((c) => c === 1007 || c === 1008 || c === 1009)).toBe(true);
    const res = await fetch(`${server.url}/v1/sessions/${sessionId}`);
    expect(res.status).toBe(200);
  }, 120_000);
});
