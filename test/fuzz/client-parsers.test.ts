/**
 * Fuzzing what the client parses: SSE bytes in random chunkings, long-poll
 * bodies and WebSocket frames. Whatever arrives, a transport delivers only
 * schema-valid events, reports the end exactly once with a typed error, never
 * throws, never leaves an unhandled rejection and never hangs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'isomorphic-ws';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, TetherError } from '../../src/index.js';
import { createPollTransport, createSseTransport, createWebSocketTransport } from '../../src/transport/index.js';
import { SessionEvent as SessionEventSchema } from '../../src/protocol/index.js';
import { assertTypedClose, chunkedResponse, cut, event, recorder, transportOptions, within } from './helpers.js';

const SEED = 424242;
// Hundreds of generated inputs per test, some of them megabytes: about 2 s of
// CPU for the heaviest test alone, and 30-40 s when two cores are shared with
// other suites — past the suite's 30 s default. The budget is for that work;
// a hang is still caught per input by `within`.
vi.setConfig({ testTimeout: 120_000 });
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => void rejections.push(reason);
beforeAll(() => void process.on('unhandledRejection', onRejection));
afterAll(() => {
  process.off('unhandledRejection', onRejection);
  expect(rejections).toEqual([]);
});

const encoder = new TextEncoder();
const eol = fc.constantFrom('\n', '\r\n', '\r');
/** Event text with the characters that break naive parsers: newlines, CR, colons, multibyte, NUL. */
const nastyText = fc.string({ unit: fc.constantFrom('a', ' ', ':', '\n', '\r', 'é', '€', '😀', '\u0000', 'data:', '\u2028'), maxLength: 12 });

describe('SSE bytes', () => {
  it('valid events, any line endings, comments and any chunking: delivered exactly, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(nastyText, eol, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 15 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        async (specs, cuts) => {
          const events = specs.map(([text], i) => event(i + 1, { text }));
          let body = `retry: 50\n`;
          specs.forEach(([, nl, comment, withId], i) => {
            if (comment) body += `: ping${nl}`;
            if (withId) body += `id: ${i + 1}${nl}`;
            body += `data: ${JSON.stringify(events[i])}${nl}${nl}`;
          });
          const rec = recorder();
          const t = createSseTransport(
            transportOptions({ fetch: async () => chunkedResponse(cut(encoder.encode(body), cuts)) }),
            rec,
          );
          t.subscribe('s1', { after: 0 });
          const info = await within(rec.whenClosed, 3000, 'SSE stream end');
          await t.close();
          expect(rec.delivered).toEqual(events);
          expect(info.error?.code).toBe('stream_ended');
          expect(rec.closes).toHaveLength(1);
        },
      ),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('garbage, broken JSON, schema-invalid events and oversize lines: only typed errors', async () => {
    const line = fc.oneof(
      fc.constant(`data: ${JSON.stringify(event(1))}`),
      fc.string({ maxLength: 40 }).map((s) => `data: ${s}`),
      fc.json().map((j) => `data: ${j}`),
      fc.constant('event: reset'),
      fc.json().map((j) => `event: reset\ndata: ${j}`),
      fc.constant(`event: reset\ndata: ${JSON.stringify({ sessionId: 'other', epoch: 'e', after: 0, reason: 'history_gone' })}`),
      fc.constant(`event: unknown-kind\ndata: {}`),
      fc.string({ maxLength: 20 }).map((s) => `retry: ${s}`),
      fc.string({ maxLength: 20 }).map((s) => `id: ${s}`),
      fc.string({ maxLength: 30 }),
      fc.constant(`data: ${JSON.stringify({ ...event(5), sessionId: 'someone-else' })}`),
      fc.constant(`data: ${JSON.stringify({ ...event(2), seq: -1 })}`),
      fc.constant(`data: ${'x'.repeat(3 * 1024 * 1024)}`),
    );
    const sseSeen = { delivered: 0, codes: new Set<string>() };
    const bytes = fc.oneof(
      fc.array(fc.tuple(line, eol, fc.boolean()), { maxLength: 12 }).map((parts) =>
        encoder.encode(parts.map(([l, nl, blank]) => l + nl + (blank ? nl : '')).join('')),
      ),
      fc.uint8Array({ maxLength: 300 }),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat(), { maxLength: 20 }), fc.constantFrom(200, 200, 200, 204, 400, 404, 500, 503), fc.constantFrom('text/event-stream', 'text/event-stream; charset=utf-8', 'application/json', 'text/plain', ''), async (body, cuts, status, contentType) => {
        const rec = recorder();
        const t = createSseTransport(
          transportOptions({ fetch: async () => (status === 204 ? new Response(null, { status }) : chunkedResponse(cut(body, cuts), { status, contentType })) }),
          rec,
        );
        t.subscribe('s1', { after: 0 });
        const info = await within(rec.whenClosed, 5000, 'SSE garbage');
        await t.close();
        assertTypedClose(info);
        expect(rec.closes).toHaveLength(1);
        for (const ev of rec.delivered) expect(() => SessionEventSchema.parse(ev)).not.toThrow();
        for (const ev of rec.delivered) expect(ev.sessionId).toBe('s1');
        sseSeen.delivered += rec.delivered.length;
        sseSeen.codes.add(info.error!.code);
      }),
      { seed: SEED, numRuns: 150 },
    );
    expect(sseSeen.delivered).toBeGreaterThan(0);
    expect(sseSeen.codes).toContain('stream_ended');
    expect([...sseSeen.codes].length).toBeGreaterThan(2);
  });
});

describe('long-poll bodies', () => {
  it('random statuses, content types and bodies: events only when valid, otherwise one typed close', async () => {
    const body = fc.oneof(
      fc.json(),
      fc.string({ maxLength: 50 }),
      fc.constant(JSON.stringify({ epoch: 'e1', events: [event(1), event(2)], next: 2 })),
      fc.constant(JSON.stringify({ epoch: 'e1', events: [event(2)], next: 2 })),
      fc.constant(JSON.stringify({ epoch: 'e1', events: [{ ...event(1), sessionId: 'x' }], next: 1 })),
      fc.constant(JSON.stringify({ epoch: 'e1', events: [], next: 0, reset: { sessionId: 's1', epoch: 'e2', after: 0, reason: 'epoch_changed' } })),
      fc.constant(JSON.stringify({ error: { code: 'not_found', message: 'nope', status: 404 } })),
      fc.constant('{"epoch":"e1","events":[' + '1,'.repeat(1000) + '1],"next":3}'),
    );
    const pollSeen = { delivered: 0, closes: 0 };
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom(200, 200, 200, 400, 404, 410, 429, 500, 503), fc.constantFrom('application/json', 'text/html', ''), async (text, status, contentType) => {
        const rec = recorder();
        let calls = 0;
        const t = createPollTransport(
          transportOptions({
            fetch: (_url, init) => {
              calls += 1;
              if (calls === 1) return Promise.resolve(new Response(text, { status, headers: contentType ? { 'content-type': contentType } : {} }));
              // Later polls wait like a server with nothing new, until aborted.
              return new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason), { once: true }));
            },
          }),
          rec,
        );
        t.subscribe('s1', { after: 0 });
        await within(Promise.race([rec.whenClosed, new Promise((r) => setTimeout(r, 30))]), 3000, 'poll');
        await t.close();
        if (rec.closes.length > 0) assertTypedClose(rec.closes[0]!);
        expect(rec.closes.length).toBeLessThanOrEqual(1);
        for (const ev of rec.delivered) expect(ev.sessionId).toBe('s1');
        // A reply that is not a valid 200 PollReply must not be taken as one.
        if (status !== 200) expect(rec.delivered).toEqual([]);
        pollSeen.delivered += rec.delivered.length;
        pollSeen.closes += rec.closes.length;
      }),
      { seed: SEED, numRuns: 150 },
    );
    expect(pollSeen.delivered).toBeGreaterThan(0);
    expect(pollSeen.closes).toBeGreaterThan(0);
  });
});

describe('WebSocket frames', () => {
  let http: Server;
  let wss: WebSocketServer;
  let port: number;
  let script: (socket: ServerSocket) => void = () => {};

  beforeAll(async () => {
    http = createServer((_, res) => res.writeHead(404).end());
    wss = new WebSocketServer({ server: http });
    wss.on('connection', (socket) => {
      socket.on('error', () => {});
      script(socket);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
    await new Promise((r) => http.close(r));
  });

  it('random text, JSON and binary frames after a welcome (or instead of it): typed closes only', async () => {
    const welcome = JSON.stringify({ type: 'welcome', clientId: 'fuzz', heartbeatMs: 1000 });
    const frame = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => ({ text: s })),
      fc.json().map((s) => ({ text: s })),
      fc.uint8Array({ maxLength: 40 }).map((b) => ({ binary: b })),
      fc.constant({ text: JSON.stringify({ type: 'events', sessionId: 's1', events: [event(1), event(2)] }) }),
      fc.constant({ text: JSON.stringify({ type: 'events', sessionId: 's1', events: [{ ...event(3), sessionId: 'other' }] }) }),
      fc.constant({ text: JSON.stringify({ type: 'events', sessionId: 's1', events: 'nope' }) }),
      fc.constant({ text: JSON.stringify({ type: 'reset', sessionId: 's1', epoch: 'e2', after: 0, reason: 'history_gone' }) }),
      fc.constant({ text: JSON.stringify({ type: 'reply', id: 'no-such-request', ok: true, result: {} }) }),
      fc.constant({ text: JSON.stringify({ type: 'pong' }) }),
      fc.constant({ text: JSON.stringify({ type: 'future-frame', x: 1 }) }),
      fc.constant({ text: 'x'.repeat(2 * 1024 * 1024) }),
    );
    const seen = { opened: 0, delivered: 0, codes: new Set<string>() };
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(frame, { maxLength: 8 }), fc.constantFrom(undefined, 1000, 1001, 1006, 1008, 1011, 4000), async (sendWelcome, frames, closeCode) => {
        script = (socket) => {
          if (sendWelcome) socket.send(welcome);
          for (const f of frames) socket.send('binary' in f ? Buffer.from(f.binary) : f.text, { binary: 'binary' in f });
          if (closeCode === 1006) socket.terminate();
          else if (closeCode !== undefined) socket.close(closeCode);
        };
        const rec = recorder();
        const t = createWebSocketTransport(
          transportOptions({ baseUrl: new URL(`http://127.0.0.1:${port}/`), WebSocket: WebSocket as never, openTimeoutMs: 1000 }),
          rec,
        );
        t.subscribe('s1', { after: 0 });
        await within(Promise.race([rec.whenClosed, new Promise((r) => setTimeout(r, 60))]), 3000, 'websocket');
        await t.close(200);
        if (rec.closes.length > 0) assertTypedClose(rec.closes[0]!);
        expect(rec.closes.length).toBeLessThanOrEqual(1);
        for (const ev of rec.delivered) expect(ev.sessionId).toBe('s1');
        if (!sendWelcome) expect(rec.opened).toBe(0);
        seen.opened += rec.opened;
        seen.delivered += rec.delivered.length;
        for (const c of rec.closes) seen.codes.add(c.error!.code);
      }),
      { seed: SEED, numRuns: 60 },
    );
    // The fuzzer reached the interesting paths: sockets opened, events passed, frames were rejected.
    expect(seen.opened).toBeGreaterThan(0);
    expect(seen.delivered).toBeGreaterThan(0);
    expect([...seen.codes].length).toBeGreaterThan(1);
  });
});

describe('HTTP command replies (through the public client)', () => {
  it('random statuses, headers and bodies for createSession, prompt and cancel: resolve, or reject with a typed error; bounded', async () => {
    const sessionInfo = { id: 's1', epoch: 'e1', createdAt: 1, seq: 0 };
    const reply = fc.oneof(
      fc.json(),
      fc.string({ maxLength: 30 }),
      fc.constant(JSON.stringify({ session: sessionInfo })),
      fc.constant(JSON.stringify({ turn: { id: 't1', sessionId: 's1', status: 'queued', prompt: 'x', createdAt: 1, queuedSeq: 1 } })),
      fc.constant(JSON.stringify({ cancelled: true })),
      fc.constant(JSON.stringify({ cancelled: false, reason: 'already_finished' })),
      fc.constant(JSON.stringify({ cancelled: 'maybe' })),
      fc.constant(JSON.stringify({ error: { code: 'x', message: 'y', status: 400 } })),
      fc.constant(''),
    );
    const answer = fc.record({
      status: fc.constantFrom(200, 201, 204, 400, 404, 409, 413, 418, 429, 500, 503),
      contentType: fc.constantFrom('application/json', 'text/plain', ''),
      retryAfter: fc.constantFrom(undefined, '0', 'soon', '1'),
      body: reply,
    });
    const outcomes = { resolved: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(answer, fc.constantFrom('createSession', 'prompt', 'cancel'), async (a, call) => {
        const headers: Record<string, string> = {};
        if (a.contentType) headers['content-type'] = a.contentType;
        if (a.retryAfter !== undefined) headers['retry-after'] = a.retryAfter;
        const client = createClient({
          baseUrl: 'http://fuzz.test',
          transports: ['poll'],
          requestTimeoutMs: 300,
          // Only the command is answered from the fuzz case; a stream (if any) waits until aborted.
          fetch: async (url, init) => {
            if (String(url).includes('/poll')) {
              return new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason), { once: true }));
            }
            return new Response(a.status === 204 ? null : a.body, { status: a.status, headers });
          },
        });
        try {
          const session = client.session('s1');
          const run =
            call === 'createSession' ? client.createSession() : call === 'prompt' ? session.prompt('x') : session.turn('t1').cancel();
          const settled = await within(
            run.then(
              () => 'resolved' as const,
              (error: unknown) => {
                if (!(error instanceof TetherError)) throw new Error(`untyped rejection: ${String(error)}`);
                expect(typeof error.code).toBe('string');
                return 'rejected' as const;
              },
            ),
            3000,
            `${call} with ${JSON.stringify(a).slice(0, 200)}`,
          );
          outcomes[settled] += 1;
        } finally {
          await within(client.close(), 3000, 'client.close()');
        }
      }),
      { seed: SEED, numRuns: 60 },
    );
    expect(outcomes.resolved).toBeGreaterThan(0);
    expect(outcomes.rejected).toBeGreaterThan(0);
  }, 60_000);
});
