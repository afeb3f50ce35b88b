import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ErrorBody } from '../../src/protocol/index.js';
import { memoryStore, REDACTED_AGENT_MESSAGE } from '../../src/server.js';
import { api, createSession, prompt, scriptedAgent, startServer, WsClient } from './helpers.js';

// No bad input may surface as an unhandled rejection or exception in the server process.
const unhandled: unknown[] = [];
const onUnhandled = (error: unknown) => unhandled.push(error);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  expect(unhandled).toEqual([]);
});

function expectError(reply: { status: number; body: unknown }, status: number, code: string) {
  expect(reply.status).toBe(status);
  expect(ErrorBody.safeParse(reply.body).success).toBe(true);
  expect(reply.body).toMatchObject({ error: { code, status } });
}

describe('bad HTTP input gets a 4xx JSON error', () => {
  it('malformed JSON → 400 invalid_json', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const sid = await createSession(url);
    expectError(await api(url, 'POST', `/v1/sessions/${sid}/turns`, '{"prompt":'), 400, 'invalid_json');
    expectError(await api(url, 'POST', '/v1/sessions', 'nope'), 400, 'invalid_json');
  });

  it('schema-invalid bodies → 400 invalid_body with zod issues in details', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const sid = await createSession(url);
    const reply = await api(url, 'POST', `/v1/sessions/${sid}/turns`, { prompt: 42 });
    expectError(reply, 400, 'invalid_body');
    expect(Array.isArray(reply.body.error.details)).toBe(true);
    expectError(await api(url, 'POST', `/v1/sessions/${sid}/turns`), 400, 'invalid_body'); // empty body
    expectError(await api(url, 'POST', '/v1/sessions', { metadata: 'x' }), 400, 'invalid_body');
    expectError(await api(url, 'POST', `/v1/sessions/${sid}/turns/t/cancel`, { reason: 5 }), 400, 'invalid_body');
    expectError(await api(url, 'POST', `/v1/sessions/${sid}/turns`, { prompt: 'x' }, { 'idempotency-key': 'k'.repeat(300) }), 400, 'invalid_body');
  });

  it('oversize body → 413 payload_too_large (declared and streamed)', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent, maxFrameBytes: 1024 });
    const sid = await createSession(url);
    expectError(await api(url, 'POST', `/v1/sessions/${sid}/turns`, { prompt: 'x'.repeat(5000) }), 413, 'payload_too_large');
    // Chunked (no Content-Length): counted while streaming.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"prompt":"${'y'.repeat(3000)}"}`));
        controller.close();
      },
    });
    const response = await fetch(`${url}/v1/sessions/${sid}/turns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('non-JSON content type → 415; unknown route → 404; wrong method → 405; bad query → 400', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const sid = await createSession(url);
    const form = await fetch(`${url}/v1/sessions/${sid}/turns`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'prompt=x' });
    expectError({ status: form.status, body: await form.json() }, 415, 'unsupported_media_type');
    expectError(await api(url, 'GET', '/v1/nope'), 404, 'not_found');
    expectError(await api(url, 'GET', '/'), 404, 'not_found');
    expectError(await api(url, 'GET', '/v1/sessions/a/turns/b/cancel/extra'), 404, 'not_found');
    expectError(await api(url, 'DELETE', `/v1/sessions/${sid}`), 405, 'method_not_allowed');
    expectError(await api(url, 'GET', '/v1/sessions'), 405, 'method_not_allowed');
    expectError(await api(url, 'GET', `/v1/sessions/${sid}/poll?after=-1`), 400, 'invalid_query');
    expectError(await api(url, 'GET', `/v1/sessions/${sid}/poll?wait=soon`), 400, 'invalid_query');
    expectError(await api(url, 'GET', `/v1/sessions/${sid}/events?after=x`), 400, 'invalid_query');
    expectError(await api(url, 'GET', '/v1/ws'), 426, 'upgrade_required');
  });

  it('unknown sessions → 404 session_not_found, unknown turns → 404 not_found, on every route', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const sid = await createSession(url);
    expectError(await api(url, 'GET', '/v1/sessions/missing'), 404, 'session_not_found');
    expectError(await prompt(url, 'missing', 'x'), 404, 'session_not_found');
    expectError(await api(url, 'GET', `/v1/sessions/${sid}/turns/missing`), 404, 'not_found');
    expectError(await api(url, 'GET', '/v1/sessions/missing/poll'), 404, 'session_not_found');
    expectError(await api(url, 'GET', '/v1/sessions/%E0%A4%A/turns'), 404, 'not_found'); // undecodable
  });

  it('a garbage HTTP request line gets 400 and the server keeps serving', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write('NOT HTTP AT ALL\r\n\r\n');
    const text = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect((await api(url, 'POST', '/v1/sessions')).status).toBe(201);
  });
});

describe('bad WebSocket input closes with the right code', () => {
  it('1007 for a frame that is not JSON, and for a binary frame', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const a = new WsClient(url);
    await a.welcomed();
    a.ws.send('{not json');
    await a.until(() => a.closed, 'close');
    expect(a.closeCode).toBe(1007);
    const b = new WsClient(url);
    await b.welcomed();
    b.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    await b.until(() => b.closed, 'close');
    expect(b.closeCode).toBe(1007);
  });

  it('1008 for valid JSON that is not a valid client frame', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    for (const frame of [{ type: 'explode', id: '1' }, { type: 'subscribe' }, [1, 2], 'str', { type: 'prompt', id: '', sessionId: 's', prompt: 'x' }]) {
      const ws = new WsClient(url);
      await ws.welcomed();
      ws.ws.send(JSON.stringify(frame));
      await ws.until(() => ws.closed, 'close');
      expect(ws.closeCode).toBe(1008);
    }
  });

  it('1009 for a frame over maxFrameBytes', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent, maxFrameBytes: 2048 });
    const ws = new WsClient(url);
    await ws.welcomed();
    ws.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(4096) }));
    await ws.until(() => ws.closed, 'close');
    expect(ws.closeCode).toBe(1009);
  });

  it('an upgrade on another path is refused with 404, and the server stays up', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/other`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(status).toBe(404);
    ws.terminate();
    expect((await api(url, 'POST', '/v1/sessions')).status).toBe(201);
  });
});

describe('a throwing agent or store never crashes the process', () => {
  it('agent throwing: the turn ends with agent_error, the server keeps serving', async () => {
    const { url } = await startServer({
      agent: async function* () {
        yield { type: 'delta', text: 'x' } as const;
        throw new Error('agent exploded');
      },
    });
    const sid = await createSession(url);
    const turnId = (await prompt(url, sid, 'x')).body.turn.id;
    const poll = async (): Promise<any> => (await api(url, 'GET', `/v1/sessions/${sid}/turns/${turnId}`)).body.turn;
    const ws = new WsClient(url);
    await ws.request({ type: 'subscribe', sessionId: sid });
    await ws.until(() => ws.terminal(turnId) !== undefined, 'terminal');
    expect(await poll()).toMatchObject({ status: 'error', terminal: { error: { code: 'agent_error', message: REDACTED_AGENT_MESSAGE } } });
  });

  it('a store rejecting every write: create answers 503 store_unavailable with Retry-After and a JSON body; the server keeps serving', async () => {
    const errors: unknown[] = [];
    const base = memoryStore();
    const { url } = await startServer({
      agent: async function* () {
        yield { type: 'delta', text: 'x' } as const;
      },
      store: { ...base, saveSession: async () => Promise.reject(new Error('store down')) },
      logger: { error: ({ err }) => errors.push(err) },
    });
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('2');
      expect(await response.json()).toMatchObject({ error: { code: 'store_unavailable', status: 503 } });
    }
    expect((await api(url, 'GET', '/v1/sessions/nope')).status).toBe(404);
    expect(errors).toHaveLength(1); // one outage, logged once
  });
});
