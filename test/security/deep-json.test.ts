/** JSON nesting is bounded before anything walks it: 400 with a JSON body (WebSocket 1008), nothing created, the store still healthy. */
import { describe, expect, it } from 'vitest';
import { api, createSession, scriptedAgent, startServer, WsClient } from '../server/helpers.js';
import { exceedsJsonDepth } from '../../src/server/limits/json-depth.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('deep JSON', () => {
  it('a 12 KB create body nested 6,000 deep is a 400 invalid_json; no session is created and the store stays healthy', async () => {
    const { server, url } = await startServer({ agent: scriptedAgent().agent });
    const body = `{"metadata":{"a":${nested(6000)}}}`;
    const reply = await api(url, 'POST', '/v1/sessions', body);
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatchObject({ code: 'invalid_json', status: 400, details: { maxDepth: 64 } });
    expect(server.stats().sessions).toBe(0);
    expect((await api(url, 'GET', '/v1/health')).status).toBe(200);
    expect((await api(url, 'POST', '/v1/sessions', {})).status).toBe(201);
  });

  it('the depth is an option; a body just inside it is accepted', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent, maxJsonDepth: 10 });
    // {"metadata":{"a": …}} is two levels around the array.
    expect((await api(url, 'POST', '/v1/sessions', `{"metadata":{"a":${nested(8)}}}`)).status).toBe(201);
    expect((await api(url, 'POST', '/v1/sessions', `{"metadata":{"a":${nested(9)}}}`)).status).toBe(400);
    const sessionId = await createSession(url);
    const prompt = await api(url, 'POST', `/v1/sessions/${sessionId}/turns`, `{"prompt":"x","extra":${nested(50)}}`);
    expect(prompt.status).toBe(400);
  });

  it('a WebSocket frame nested too deep closes the socket with 1008; another client is undisturbed', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const sessionId = await createSession(url);
    const healthy = new WsClient(url, 'healthy');
    const deep = new WsClient(url, 'deep');
    await deep.welcomed();
    deep.ws.send(`{"type":"prompt","id":"p","sessionId":"${sessionId}","prompt":"x","x":${nested(6000)}}`);
    await deep.until(() => deep.closed, 'close');
    expect(deep.closeCode).toBe(1008);
    expect(await healthy.request({ type: 'prompt', sessionId, prompt: 'fine' })).toMatchObject({ ok: true });
  });

  it('the scan skips brackets inside strings and escapes', () => {
    expect(exceedsJsonDepth(JSON.stringify({ s: '[[[[[[[[[[' }), 2)).toBe(false);
    expect(exceedsJsonDepth(JSON.stringify({ s: '\\"[[[[[[[[' }), 2)).toBe(false);
    expect(exceedsJsonDepth('[[[]]]', 2)).toBe(true);
    expect(exceedsJsonDepth('[[],[],[]]', 2)).toBe(false);
  });
});
